// The load generator. Two shapes:
//   closed loop — `concurrency` slots; each slot sends its next request the moment its previous one ends. A
//                 request's schedule is that moment, so schedule lateness measures the client's own delay.
//   open loop   — requests arrive at `rateRps` whatever the server does: Poisson arrivals (exponential gaps) or,
//                 with `burstiness` k ≠ 1, gamma-distributed gaps of shape k and mean 1/rate (k < 1 burstier,
//                 k > 1 more regular; the coefficient of variation of the gaps is 1/√k). An optional
//                 `maxConcurrency` holds arrivals back while that many are in flight (their lateness shows it).
// Bounded by a request count or a duration (no request is launched after it; the ones in flight finish — the drain).
//
// The steady state, where energy is measured: it opens when the target concurrency is first reached (closed
// loop: the concurrency-th request sent; open loop: the first arrival), or `warmupS` after the first send if
// that is later; it closes when the drain begins (the last request sent, or the duration over).
import { sleepMs } from '../../lib/clock.js';
import { rng } from './prompts.js';
import type { RequestRecord } from './records.js';

export type LoadShape =
  | { kind: 'closed'; concurrency: number }
  | { kind: 'open'; rateRps: number; burstiness: number; maxConcurrency?: number };

export interface LoadBound { requests?: number; durationS?: number }

export interface LoadOptions {
  shape: LoadShape;
  bound: LoadBound;
  seed: number;
  warmupS?: number;
  now: () => number;
  signal: AbortSignal;
  /** Send request `index`, scheduled at `scheduledS`; the promise settles with its record (never rejects). */
  send(index: number, scheduledS: number): Promise<RequestRecord>;
  /** Called (possibly later than tS) with the moment the steady state opened. */
  onSteady?(tS: number): void;
}

export interface LoadRun {
  records: RequestRecord[];
  /** First send. */
  startS: number;
  /** Steady state opened (null when the run ended first). */
  steadyS: number | null;
  /** Drain began. */
  drainS: number;
  /** Last request ended. */
  endS: number;
  /** Most requests in flight at once. */
  peakInFlight: number;
}

/** Standard normal by Box–Muller. */
function normal(r: () => number): number {
  let u = 0;
  while (u === 0) u = r();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

/** Gamma(shape k, scale θ) by Marsaglia & Tsang (2000); for k < 1, Gamma(k+1)·U^(1/k). */
export function gamma(r: () => number, k: number, theta: number): number {
  if (k < 1) {
    let u = 0;
    while (u === 0) u = r();
    return gamma(r, k + 1, theta) * Math.pow(u, 1 / k);
  }
  const d = k - 1 / 3, c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number, v: number;
    do { x = normal(r); v = 1 + c * x; } while (v <= 0);
    v = v * v * v;
    const u = r();
    if (u < 1 - 0.0331 * x ** 4) return d * v * theta;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v * theta;
  }
}

/** Gaps between arrivals, seconds: exponential for burstiness 1 (Poisson), gamma(k, 1/(k·rate)) otherwise. */
export function arrivalGaps(rateRps: number, burstiness: number, seed: number): () => number {
  const r = rng(seed ^ 0x5bd1e995);
  if (burstiness === 1) return () => { let u = 0; while (u === 0) u = r(); return -Math.log(u) / rateRps; };
  return () => gamma(r, burstiness, 1 / (burstiness * rateRps));
}

const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Wait until `dueS` on the given clock. Timers can fire early against that clock (libuv caches the loop time), so
 *  sleep while more than a millisecond is left and yield to I/O (setImmediate) for the last stretch: a request
 *  never leaves before its schedule, and other streams keep being read meanwhile. */
export async function waitUntil(dueS: number, now: () => number, signal: AbortSignal): Promise<void> {
  for (;;) {
    if (signal.aborted) return;
    const leftMs = (dueS - now()) * 1000;
    if (leftMs <= 0) return;
    if (leftMs > 1.5) await sleepMs(leftMs - 1, signal);
    else await immediate();
  }
}

export async function runLoad(o: LoadOptions): Promise<LoadRun> {
  if (o.bound.requests === undefined && o.bound.durationS === undefined) throw new Error('a load needs a request count or a duration');
  const records: RequestRecord[] = [];
  const now = o.now;
  const startS = now();
  const endOfLaunchS = o.bound.durationS !== undefined ? startS + o.bound.durationS : Infinity;
  const maxRequests = o.bound.requests ?? Infinity;
  const warmupUntil = startS + (o.warmupS ?? 0);
  let steadyS: number | null = null;
  let drainS: number | null = null;
  let inFlight = 0, peak = 0, launched = 0;
  let steadyTimer: NodeJS.Timeout | undefined;

  const reached = (tS: number) => {
    if (steadyS !== null || steadyTimer) return;
    const at = Math.max(tS, warmupUntil);
    const fire = () => { steadyTimer = undefined; if (steadyS === null && drainS === null) { steadyS = at; o.onSteady?.(at); } };
    if (at <= tS) fire(); else steadyTimer = setTimeout(fire, (at - now()) * 1000);
  };
  const launch = (scheduledS: number): Promise<RequestRecord> => {
    const index = launched++;
    const p = o.send(index, scheduledS);
    inFlight++;
    if (inFlight > peak) peak = inFlight;
    return p.then((rec) => { records[index] = rec; inFlight--; return rec; });
  };

  if (o.shape.kind === 'closed') {
    const c = o.shape.concurrency;
    const more = () => !o.signal.aborted && launched < maxRequests && now() < endOfLaunchS;
    const slot = async () => {
      let scheduled = startS;
      while (more()) {
        const p = launch(scheduled);
        if (inFlight === c) reached(now());
        if (launched === maxRequests && drainS === null) drainS = now();
        await p;
        scheduled = now();
      }
    };
    const slots: Promise<void>[] = [];
    for (let i = 0; i < c; i++) slots.push(slot());
    await Promise.all(slots);
    // a duration bound: the drain began when launching stopped, at the end of the duration
    if (drainS === null) drainS = Math.min(now(), endOfLaunchS);
  } else {
    const { rateRps, burstiness, maxConcurrency } = o.shape;
    const gap = arrivalGaps(rateRps, burstiness, o.seed);
    const pending = new Set<Promise<RequestRecord>>();
    let waiters: Array<() => void> = [];
    const wake = () => { const w = waiters; waiters = []; for (const f of w) f(); };
    o.signal.addEventListener('abort', wake, { once: true });
    let due = startS;
    while (!o.signal.aborted && launched < maxRequests) {
      if (launched > 0) due += gap();
      if (due >= endOfLaunchS) break;
      await waitUntil(due, now, o.signal);
      if (o.signal.aborted) break;
      while (maxConcurrency !== undefined && inFlight >= maxConcurrency && !o.signal.aborted) await new Promise<void>((res) => waiters.push(res));
      if (o.signal.aborted) break;
      const p = launch(due);
      pending.add(p);
      p.then(() => { pending.delete(p); wake(); });
      if (launched === 1) reached(now());
    }
    drainS = now();
    if (o.bound.durationS !== undefined && launched < maxRequests) drainS = Math.min(drainS, endOfLaunchS);
    await Promise.all(pending);
    o.signal.removeEventListener('abort', wake);
  }
  if (steadyTimer) clearTimeout(steadyTimer);
  let endS = startS;
  for (const r of records) if (r) endS = Math.max(endS, r.doneS ?? r.sentS);
  return { records, startS, steadyS, drainS: drainS!, endS, peakInFlight: peak };
}

/** A sweep: one load after another (e.g. concurrency 1, 8, 64), each with its own record set. */
export async function runSweep<P, R>(points: readonly P[], runOne: (p: P, i: number) => Promise<R>, signal?: AbortSignal): Promise<R[]> {
  const out: R[] = [];
  for (const [i, p] of points.entries()) {
    if (signal?.aborted) break;
    out.push(await runOne(p, i));
  }
  return out;
}

/** Parse a sweep list from a flag: "1,8,64" or a single value. */
export function parseSweepList(text: string, flag: string, integer: boolean): number[] {
  const xs = text.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (!xs.length || xs.some((x) => !Number.isFinite(x) || x <= 0 || (integer && !Number.isInteger(x)))) {
    throw new Error(`${flag} '${text}' is not a positive ${integer ? 'integer' : 'number'} or a comma-separated list of them`);
  }
  return xs;
}
