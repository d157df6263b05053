import { describe, it, expect } from 'vitest';
import { arrivalGaps, gamma, runLoad, parseSweepList } from '../../workloads/serve/load.js';
import { rng } from '../../workloads/serve/prompts.js';
import { newRecord, type RequestRecord } from '../../workloads/serve/records.js';
import { sleepMs } from '../../lib/clock.js';

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const cv = (xs: number[]) => { const m = mean(xs); return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1)) / m; };

describe('arrivals', () => {
  it('Poisson: exponential gaps with mean 1/rate and CV 1, the same for the same seed', () => {
    const g = arrivalGaps(20, 1, 42);
    const xs = Array.from({ length: 40000 }, g);
    expect(mean(xs)).toBeCloseTo(1 / 20, 2);
    expect(cv(xs)).toBeGreaterThan(0.97);
    expect(cv(xs)).toBeLessThan(1.03);
    const again = arrivalGaps(20, 1, 42);
    expect(Array.from({ length: 5 }, again)).toEqual(xs.slice(0, 5));
  });

  for (const k of [0.25, 4]) {
    it(`gamma burstiness ${k}: mean 1/rate, CV 1/√k`, () => {
      const xs = Array.from({ length: 40000 }, arrivalGaps(10, k, 7));
      expect(mean(xs) * 10).toBeGreaterThan(0.97);
      expect(mean(xs) * 10).toBeLessThan(1.03);
      expect(cv(xs) * Math.sqrt(k)).toBeGreaterThan(0.95);
      expect(cv(xs) * Math.sqrt(k)).toBeLessThan(1.05);
    });
  }

  it('gamma sampler has mean kθ', () => {
    const r = rng(5);
    const xs = Array.from({ length: 20000 }, () => gamma(r, 2.5, 3));
    expect(mean(xs) / 7.5).toBeGreaterThan(0.97);
    expect(mean(xs) / 7.5).toBeLessThan(1.03);
  });

  it('parses sweep lists', () => {
    expect(parseSweepList('1, 8,64', '--concurrency', true)).toEqual([1, 8, 64]);
    expect(() => parseSweepList('1,x', '--concurrency', true)).toThrow(/--concurrency/);
    expect(() => parseSweepList('2.5', '--concurrency', true)).toThrow();
    expect(parseSweepList('2.5', '--rate', false)).toEqual([2.5]);
  });
});

/** A fake send: the request "takes" durMs; records times on the real clock. */
function fakeSend(durMs: (i: number) => number, log: { inFlight: number; peak: number }) {
  const now = () => performance.now() / 1000;
  return (i: number, scheduledS: number): Promise<RequestRecord> => {
    const r = newRecord(i, scheduledS, 1);
    r.sentS = now();
    log.inFlight++;
    log.peak = Math.max(log.peak, log.inFlight);
    return sleepMs(durMs(i)).then(() => { log.inFlight--; r.doneS = now(); return r; });
  };
}

describe('load shapes', () => {
  const now = () => performance.now() / 1000;

  it('closed loop: never more than the concurrency in flight; window from full to the last send', async () => {
    const log = { inFlight: 0, peak: 0 };
    let steady: number | null = null;
    const run = await runLoad({ shape: { kind: 'closed', concurrency: 5 }, bound: { requests: 40 }, seed: 1, now, signal: new AbortController().signal, send: fakeSend(() => 20, log), onSteady: (t) => { steady = t; } });
    expect(log.peak).toBe(5);
    expect(run.peakInFlight).toBe(5);
    expect(run.records).toHaveLength(40);
    expect(steady).toBe(run.steadyS);
    const sends = run.records.map((r) => r.sentS).sort((a, b) => a - b);
    expect(run.steadyS!).toBeGreaterThanOrEqual(sends[4]!);
    expect(run.steadyS!).toBeLessThan(sends[5]!);
    expect(run.drainS).toBeGreaterThanOrEqual(sends[39]!);
    expect(run.endS).toBeGreaterThan(run.drainS);
    // a closed loop schedules each request when its slot frees: lateness is the client's own delay
    for (const r of run.records) expect(r.sentS - r.scheduledS).toBeLessThan(0.05);
  });

  it('closed loop bounded by duration: stops launching at the end of the duration, drains the rest', async () => {
    const log = { inFlight: 0, peak: 0 };
    const run = await runLoad({ shape: { kind: 'closed', concurrency: 3 }, bound: { durationS: 0.3 }, seed: 1, now, signal: new AbortController().signal, send: fakeSend(() => 40, log) });
    expect(run.drainS - run.startS).toBeCloseTo(0.3, 6);
    for (const r of run.records) expect(r.sentS).toBeLessThan(run.drainS);
    expect(run.records.length).toBeGreaterThanOrEqual(6);
  });

  it('open loop: arrivals follow the schedule (mean rate), each request stamped with its own scheduled time', async () => {
    const log = { inFlight: 0, peak: 0 };
    const run = await runLoad({ shape: { kind: 'open', rateRps: 100, burstiness: 1 }, bound: { requests: 150 }, seed: 9, now, signal: new AbortController().signal, send: fakeSend(() => 30, log) });
    const sched = run.records.map((r) => r.scheduledS);
    const gaps = sched.slice(1).map((t, i) => t - sched[i]!);
    // the schedule is the seeded gap sequence, independent of timer jitter
    const expected = arrivalGaps(100, 1, 9);
    for (const g of gaps.slice(0, 10)) expect(g).toBeCloseTo(expected(), 9);
    const late = run.records.map((r) => r.sentS - r.scheduledS);
    expect(Math.min(...late)).toBeGreaterThanOrEqual(0);
    expect(run.steadyS).toBeCloseTo(run.records[0]!.sentS, 2);
  });

  it('open loop with maxConcurrency: the cap holds, and held requests show as late', async () => {
    const log = { inFlight: 0, peak: 0 };
    const run = await runLoad({ shape: { kind: 'open', rateRps: 200, burstiness: 1, maxConcurrency: 2 }, bound: { requests: 20 }, seed: 2, now, signal: new AbortController().signal, send: fakeSend(() => 50, log) });
    expect(log.peak).toBe(2);
    expect(Math.max(...run.records.map((r) => r.sentS - r.scheduledS))).toBeGreaterThan(0.1);
  });

  it('warmupS delays the window', async () => {
    const log = { inFlight: 0, peak: 0 };
    const run = await runLoad({ shape: { kind: 'closed', concurrency: 2 }, bound: { durationS: 0.5 }, warmupS: 0.2, seed: 1, now, signal: new AbortController().signal, send: fakeSend(() => 10, log) });
    expect(run.steadyS! - run.startS).toBeCloseTo(0.2, 6);
  });

  it('an abort stops launching', async () => {
    const log = { inFlight: 0, peak: 0 };
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(), 100);
    const run = await runLoad({ shape: { kind: 'open', rateRps: 50, burstiness: 1, maxConcurrency: 1 }, bound: { requests: 1000 }, seed: 1, now, signal: ctrl.signal, send: fakeSend(() => 20, log) });
    expect(run.records.length).toBeLessThan(20);
  });
});
