// Aggregates from the per-request records, each with one definition:
//   TTFT  = firstToken − sent
//   E2E   = done − sent (done: data: [DONE] arrived)
//   TPOT  = (E2E − TTFT) / (output tokens − 1), for requests with at least 2 output tokens
//   ITL   = gaps between consecutive token chunks, over every chunk of every successful request
//   lateness = sent − scheduled (how late the client sent against its own schedule)
// Latencies are over the successful requests of the whole run; failed requests are counted by kind beside them
// (their latencies are not comparable: a 429 answers in microseconds). Percentiles use harness/stats.ts
// (PERCENTILE_METHOD), the same method as everywhere in wattbench.
//
// Tokens inside the energy window (the steady state): a successful request's output tokens are spread evenly
// over its token chunks (one token a chunk on servers that stream every token; the server's usage decides the
// total), and the chunks that arrived inside [window start, window end] count. Input tokens count for requests
// whose first token (the end of their prefill) arrived inside the window. So tokens and energy cover the same
// stretch of time: tokens per joule over the window = tokens delivered in it / energy spent in it. Failed
// requests deliver no tokens to the count (the energy they cost stays in the window: failures lower the figure).
import { percentileSorted, PERCENTILE_METHOD } from '../../harness/stats.js';
import type { ServingDistribution, ServingThroughput } from '../../results/types.gen.js';
import { ok, ERROR_KINDS, type RequestRecord, type ErrorKind } from './records.js';

export { PERCENTILE_METHOD };

export interface Slo { ttftMs?: number; tpotMs?: number; e2eMs?: number }

export function distribution(values: ArrayLike<number>): ServingDistribution {
  const n = values.length;
  if (n === 0) return { n: 0, mean: null, min: null, max: null, p50: null, p90: null, p95: null, p99: null, p99_9: null };
  const s = Float64Array.from(values as ArrayLike<number>).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += s[i]!;
  // 6 decimals: a nanosecond on millisecond figures; more digits are float noise that only bloats the result
  const r6 = (x: number) => Math.round(x * 1e6) / 1e6;
  const p = (q: number) => r6(percentileSorted(s as unknown as number[], q));
  return { n, mean: r6(sum / n), min: r6(s[0]!), max: r6(s[n - 1]!), p50: p(50), p90: p(90), p95: p(95), p99: p(99), p99_9: p(99.9) };
}

export function ttftMs(r: RequestRecord): number | null { return r.firstTokenS === null ? null : (r.firstTokenS - r.sentS) * 1000; }
export function e2eMs(r: RequestRecord): number | null { return r.doneS === null ? null : (r.doneS - r.sentS) * 1000; }
export function tpotMs(r: RequestRecord): number | null {
  const t = ttftMs(r), e = e2eMs(r);
  if (t === null || e === null || r.outputTokens === null || r.outputTokens < 2) return null;
  return (e - t) / (r.outputTokens - 1);
}
export function latenessMs(r: RequestRecord): number { return (r.sentS - r.scheduledS) * 1000; }

export function meetsSlo(r: RequestRecord, slo: Slo): boolean {
  if (!ok(r)) return false;
  const t = ttftMs(r), p = tpotMs(r), e = e2eMs(r);
  if (slo.ttftMs !== undefined && (t === null || t > slo.ttftMs)) return false;
  // a one-token answer has no decode: the TPOT objective cannot be missed
  if (slo.tpotMs !== undefined && p !== null && p > slo.tpotMs) return false;
  if (slo.e2eMs !== undefined && (e === null || e > slo.e2eMs)) return false;
  return true;
}

export function windowTokens(records: readonly RequestRecord[], startS: number, endS: number): { output: number; input: number; inputKnown: boolean } {
  let output = 0, input = 0, inputKnown = true;
  for (const r of records) {
    if (!r || !ok(r) || r.outputTokens === null) continue;
    const n = r.chunkTimes.n;
    if (n > 0) output += (r.outputTokens / n) * r.chunkTimes.countIn(startS, endS);
    if (r.firstTokenS !== null && r.firstTokenS >= startS && r.firstTokenS <= endS) {
      if (r.inputTokens === null) inputKnown = false; else input += r.inputTokens;
    }
  }
  return { output, input, inputKnown };
}

export interface Figures {
  requests: {
    total: number; ok: number; failed: number;
    failedByKind: Partial<Record<ErrorKind, number>>;
    httpStatus: Record<string, number>;
    usageFromServer: number; usageFromClient: number;
    /** Successful requests whose output was shorter than max_tokens (the server ignored min_tokens/ignore_eos). */
    outputShort: number;
    malformedLines: number;
  };
  latency: { ttftMs: ServingDistribution; tpotMs: ServingDistribution; itlMs: ServingDistribution; e2eMs: ServingDistribution };
  inputTokens: ServingDistribution;
  outputTokens: ServingDistribution;
  throughput: { run: ServingThroughput; window: ServingThroughput };
  tokens: { window: { output: number; input: number | null }; run: { output: number; input: number | null }; failedOutputChunks: number };
  goodput: { slo: Slo; requests: number; sharePct: number | null; requestsPerS: number; outputTokensPerS: number };
  schedule: { latenessMs: ServingDistribution; lateThresholdMs: number; lateRequests: number; latePct: number; behind: boolean };
}

/** Share of requests that may leave later than the threshold before the result says the client fell behind. */
export const LATE_SHARE_LIMIT = 0.01;

export function figures(records: readonly RequestRecord[], run: { startS: number; endS: number }, window: { startS: number; endS: number }, slo: Slo, lateThresholdMs: number): Figures {
  const all = records.filter(Boolean);
  const good = all.filter(ok);
  const failedByKind: Partial<Record<ErrorKind, number>> = {};
  const httpStatus: Record<string, number> = {};
  let usageFromServer = 0, usageFromClient = 0, outputShort = 0, malformedLines = 0, failedOutputChunks = 0;
  for (const r of all) {
    malformedLines += r.malformedLines;
    if (r.httpStatus !== undefined && r.httpStatus !== 200) httpStatus[String(r.httpStatus)] = (httpStatus[String(r.httpStatus)] ?? 0) + 1;
    if (r.error) { failedByKind[r.error.kind] = (failedByKind[r.error.kind] ?? 0) + 1; failedOutputChunks += r.chunkTimes.n; continue; }
    if (r.usageSource === 'server') usageFromServer++; else usageFromClient++;
    if (r.outputTokens !== null && r.outputTokens < r.targetOutputTokens) outputShort++;
  }
  // keep the kinds in their declared order, so results read the same every time
  const orderedKinds: Partial<Record<ErrorKind, number>> = {};
  for (const k of ERROR_KINDS) if (failedByKind[k]) orderedKinds[k] = failedByKind[k];

  const pick = (f: (r: RequestRecord) => number | null) => { const xs: number[] = []; for (const r of good) { const v = f(r); if (v !== null) xs.push(v); } return xs; };
  let gaps = 0;
  for (const r of good) gaps += Math.max(0, r.chunkTimes.n - 1);
  const itl = new Float64Array(gaps);
  let k = 0;
  for (const r of good) { const b = r.chunkTimes.buf; for (let i = 1; i < r.chunkTimes.n; i++) itl[k++] = (b[i]! - b[i - 1]!) * 1000; }

  const runDur = Math.max(0, run.endS - run.startS);
  const winDur = Math.max(0, window.endS - window.startS);
  let outRun = 0, inRun = 0, inKnown = true;
  for (const r of good) { outRun += r.outputTokens ?? 0; if (r.inputTokens === null) inKnown = false; else inRun += r.inputTokens; }
  const w = windowTokens(good, window.startS, window.endS);
  const doneInWindow = good.filter((r) => r.doneS !== null && r.doneS >= window.startS && r.doneS <= window.endS).length;
  const rate = (x: number, d: number) => (d > 0 ? x / d : 0);
  const tput = (reqs: number, inp: number | null, out: number, d: number): ServingThroughput => ({
    requestsPerS: rate(reqs, d), inputTokensPerS: inp === null ? null : rate(inp, d), outputTokensPerS: rate(out, d),
    totalTokensPerS: inp === null ? null : rate(inp + out, d),
  });

  const met = good.filter((r) => meetsSlo(r, slo));
  const late = all.filter((r) => latenessMs(r) > lateThresholdMs).length;
  return {
    requests: { total: all.length, ok: good.length, failed: all.length - good.length, failedByKind: orderedKinds, httpStatus, usageFromServer, usageFromClient, outputShort, malformedLines },
    latency: { ttftMs: distribution(pick(ttftMs)), tpotMs: distribution(pick(tpotMs)), itlMs: distribution(itl), e2eMs: distribution(pick(e2eMs)) },
    inputTokens: distribution(pick((r) => r.inputTokens)),
    outputTokens: distribution(pick((r) => r.outputTokens)),
    throughput: { run: tput(good.length, inKnown ? inRun : null, outRun, runDur), window: tput(doneInWindow, w.inputKnown ? w.input : null, w.output, winDur) },
    tokens: { window: { output: w.output, input: w.inputKnown ? w.input : null }, run: { output: outRun, input: inKnown ? inRun : null }, failedOutputChunks },
    goodput: {
      slo, requests: met.length, sharePct: all.length ? (100 * met.length) / all.length : null,
      requestsPerS: rate(met.length, runDur), outputTokensPerS: rate(met.reduce((s, r) => s + (r.outputTokens ?? 0), 0), runDur),
    },
    schedule: { latenessMs: distribution(all.map(latenessMs)), lateThresholdMs, lateRequests: late, latePct: all.length ? (100 * late) / all.length : 0, behind: all.length > 0 && late / all.length > LATE_SHARE_LIMIT },
  };
}
