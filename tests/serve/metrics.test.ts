import { describe, it, expect } from 'vitest';
import { figures, distribution, windowTokens, tpotMs, meetsSlo, PERCENTILE_METHOD } from '../../workloads/serve/metrics.js';
import { newRecord, toResultRecord, type RequestRecord } from '../../workloads/serve/records.js';
import { percentile } from '../../harness/stats.js';

/** A synthetic record: sent at sentS, first chunk after ttftS, then `chunks − 1` chunks every gapS. */
function rec(i: number, sentS: number, ttftS: number, gapS: number, chunks: number, outputTokens = chunks, extra: Partial<RequestRecord> = {}): RequestRecord {
  const r = newRecord(i, sentS, outputTokens);
  r.sentS = sentS;
  for (let k = 0; k < chunks; k++) r.chunkTimes.push(sentS + ttftS + k * gapS);
  r.firstTokenS = chunks ? sentS + ttftS : null;
  r.lastTokenS = chunks ? sentS + ttftS + (chunks - 1) * gapS : null;
  r.doneS = (r.lastTokenS ?? sentS) + 0.001;
  r.outputTokens = outputTokens;
  r.inputTokens = 100;
  r.usageSource = 'server';
  return Object.assign(r, extra);
}

describe('serving metrics', () => {
  it('TPOT = (E2E − TTFT) / (output tokens − 1)', () => {
    const r = rec(0, 10, 0.2, 0.02, 11);
    // E2E = 0.2 + 10 × 0.02 + 0.001 = 0.401 s; TTFT 0.2 s
    expect(tpotMs(r)).toBeCloseTo((401 - 200) / 10, 9);
    expect(tpotMs(rec(1, 0, 0.1, 0, 1))).toBeNull();
  });

  it('percentiles are the harness method (type 7) and say so', () => {
    const xs = [5, 1, 9, 3, 7, 2, 8];
    const d = distribution(xs);
    expect(d.p50).toBe(percentile(xs, 50));
    expect(d.p90).toBeCloseTo(percentile(xs, 90), 6);
    expect(d.p99_9).toBeCloseTo(percentile(xs, 99.9), 6);
    expect(d).toMatchObject({ n: 7, min: 1, max: 9, mean: 5 });
    expect(PERCENTILE_METHOD).toMatch(/type 7/);
    expect(distribution([])).toMatchObject({ n: 0, mean: null, p50: null });
  });

  it('counts window tokens from chunk arrivals, spreading the usage over the chunks', () => {
    // 10 chunks at t = 1.0 … 1.9 carrying 20 tokens (2 a chunk); window [1.25, 1.65] holds chunks 1.3 … 1.6
    const r = rec(0, 0.8, 0.2, 0.1, 10, 20);
    const w = windowTokens([r], 1.25, 1.65);
    expect(w.output).toBeCloseTo(8, 9);
    expect(w.input).toBe(0); // its first token (1.0) came before the window
    const w2 = windowTokens([r], 0.9, 1.65);
    expect(w2.input).toBe(100);
    // a failed request delivers nothing to the count
    const bad = rec(1, 0.8, 0.2, 0.1, 10, 20, { error: { kind: 'cut_mid_stream', message: 'cut' } });
    expect(windowTokens([bad], 0, 10).output).toBe(0);
  });

  it('aggregates: failures by kind, usage sources, throughput, goodput, lateness', () => {
    const rs = [
      rec(0, 0, 0.1, 0.01, 11),                                  // ttft 100 ms, tpot ~10 ms: meets
      rec(1, 0, 0.6, 0.01, 11),                                  // ttft 600 ms: misses the TTFT objective
      rec(2, 0, 0.1, 0.08, 11),                                  // tpot ~80 ms: misses the TPOT objective
      rec(3, 0, 0.1, 0.01, 11, 11, { usageSource: 'client' }),   // meets, client usage
      rec(4, 0, 0, 0, 0, 0, { error: { kind: 'rate_limited', message: 'HTTP 429' }, httpStatus: 429, firstTokenS: null, outputTokens: null }),
    ];
    rs[4]!.scheduledS = -0.05; // sent 50 ms late
    const f = figures(rs, { startS: 0, endS: 2 }, { startS: 0, endS: 2 }, { ttftMs: 500, tpotMs: 50 }, 10);
    expect(f.requests).toMatchObject({ total: 5, ok: 4, failed: 1, failedByKind: { rate_limited: 1 }, httpStatus: { 429: 1 }, usageFromServer: 3, usageFromClient: 1 });
    expect(f.goodput.requests).toBe(2);
    expect(f.goodput.sharePct).toBeCloseTo(40, 9);
    expect(f.goodput.requestsPerS).toBeCloseTo(1, 9);
    expect(f.throughput.run.requestsPerS).toBeCloseTo(2, 9);
    expect(f.throughput.run.outputTokensPerS).toBeCloseTo(44 / 2, 9);
    expect(f.throughput.run.inputTokensPerS).toBeCloseTo(400 / 2, 9);
    expect(f.latency.ttftMs.n).toBe(4);
    expect(f.latency.itlMs.n).toBe(40);
    expect(f.schedule.lateRequests).toBe(1);
    expect(f.schedule.behind).toBe(true); // 1 in 5 is above the 1% limit
    expect(f.schedule.latenessMs.max).toBeCloseTo(50, 6);
  });

  it('SLO: a one-token answer cannot miss the TPOT objective; a failed request meets nothing', () => {
    expect(meetsSlo(rec(0, 0, 0.1, 0, 1), { ttftMs: 500, tpotMs: 1 })).toBe(true);
    expect(meetsSlo(rec(0, 0, 0.1, 0.01, 5, 5, { error: { kind: 'malformed_sse', message: '' } }), {})).toBe(false);
    expect(meetsSlo(rec(0, 0, 0.1, 0.01, 5), { e2eMs: 100 })).toBe(false);
  });

  it('result records: µs times, chunk times only when kept', () => {
    const r = rec(7, 1.23456789, 0.1, 0.01, 3);
    const kept = toResultRecord(r, true), dropped = toResultRecord(r, false);
    expect(kept.sentS).toBe(1.234568);
    expect(kept.chunkTimesS).toHaveLength(3);
    expect(dropped.chunkTimesS).toBeUndefined();
    expect(dropped.itlMeanMs).toBeCloseTo(10, 3);
    expect(dropped).toMatchObject({ i: 7, status: 'ok', chunks: 3, outputTokens: 3, usageSource: 'server' });
  });
});
