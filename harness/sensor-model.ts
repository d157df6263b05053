// What a built-in power sensor reports, modelled per semantics, and how far an energy figure built from it can be
// off. Three kinds of sensor (the `Semantics.kind` of a source):
//
//  - instantaneous with a duty cycle: every update period U the sensor publishes the mean power over the last
//    D·U of that period (D = dutyCyclePct/100) and holds it until the next update. On A100/H100 D ≈ 25 % and
//    U ≈ 100 ms: 75 % of the time is never observed (Yang, Adamek, Armour, arXiv 2312.02741).
//  - windowed average with lag: every U the sensor publishes the mean of its last W/U observations (W = 1 s for
//    power.draw on Ampere and newer except GA100). The reading's centre of mass lies W/2 + D·U/2 behind the time
//    it is read (Yang, Adamek, Armour, SC24, "Accurate and Convenient Energy Measurements for GPUs").
//  - energy counter: a cumulative count (resolution r, e.g. 1 mJ for NVML) refreshed every U (about 100 ms for
//    NVML's nvmlDeviceGetTotalEnergyConsumption). Modelled as integrating the power continuously (D = 100 %)
//    unless the semantics say otherwise.
//
// Part (a): turn a ground-truth power trace into what each sensor would report when polled (`sensorReadings`,
// `poll`, `simulateSamples`), so the harness's own integration can be tested against known energy
// (tests/fidelity, bench/fidelity.ts). Part (b): `energyErrorBound` — the error bound on a window's energy for a
// semantics, window length, update period, polling interval and the power variability seen in the readings.
// Helpers the integration uses live here too: `readingLagMs` (how much to shift readings back) and
// `firstAppearances` (stamp a held value at the poll where it first appeared).
import type { Semantics } from '../results/types.gen.js';
import type { Sample } from '../results/samples.js';

// ───────────────────────────── ground truth ─────────────────────────────

/** Piecewise-constant power: powerW[i] holds from tS[i] until tS[i+1] (the last until endS); held flat beyond both ends. */
export interface PowerTrace {
  readonly tS: Float64Array;
  readonly powerW: Float64Array;
  readonly endS: number;
  /** Energy from tS[0] to tS[i], J. */
  readonly cumJ: Float64Array;
}

export function makeTrace(tS: ArrayLike<number>, powerW: ArrayLike<number>, endS: number): PowerTrace {
  const n = tS.length;
  if (n === 0 || powerW.length !== n) throw new RangeError('a trace needs as many powers as times, and at least one');
  const t = Float64Array.from(tS), p = Float64Array.from(powerW), cum = new Float64Array(n);
  for (let i = 1; i < n; i++) {
    if (!(t[i]! >= t[i - 1]!)) throw new RangeError(`trace times must ascend (index ${i})`);
    cum[i] = cum[i - 1]! + p[i - 1]! * (t[i]! - t[i - 1]!);
  }
  if (!(endS >= t[n - 1]!)) throw new RangeError('trace end is before its last segment');
  return { tS: t, powerW: p, endS, cumJ: cum };
}

/** Index of the last segment starting at or before t (0 when t precedes the trace). */
function segmentAt(tr: PowerTrace, t: number): number {
  const ts = tr.tS;
  if (t < ts[0]!) return 0;
  let lo = 0, hi = ts.length - 1;
  while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (ts[mid]! <= t) lo = mid; else hi = mid - 1; }
  return lo;
}

/** Energy from the trace start to t, J (negative before the start, where the first power is held). */
export function cumulativeJ(tr: PowerTrace, t: number): number {
  if (t <= tr.tS[0]!) return (t - tr.tS[0]!) * tr.powerW[0]!;
  const i = segmentAt(tr, t);
  return tr.cumJ[i]! + tr.powerW[i]! * (t - tr.tS[i]!);
}

/** The exact energy of the trace over [aS, bS], J. */
export function traceEnergyJ(tr: PowerTrace, aS: number, bS: number): number {
  return cumulativeJ(tr, bS) - cumulativeJ(tr, aS);
}

export function powerAt(tr: PowerTrace, t: number): number {
  return tr.powerW[segmentAt(tr, t)]!;
}

/** A small seeded PRNG (mulberry32) so simulations are reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function constantTrace(powerW: number, durationS: number): PowerTrace {
  return makeTrace([0], [powerW], durationS);
}

/** Levels held for stepS each, in order. */
export function stepTrace(levelsW: readonly number[], stepS: number): PowerTrace {
  return makeTrace(levelsW.map((_, i) => i * stepS), levelsW, levelsW.length * stepS);
}

export interface BurstSpec {
  periodMs: number;
  /** Share of each period at highW (default 0.5). */
  onFraction?: number;
  highW: number;
  lowW: number;
  durationS: number;
  /** Where the first burst starts, ms. */
  phaseMs?: number;
  /** Each period's length varies uniformly by ± this percentage (0: a strictly periodic, sensor-locked load). */
  jitterPct?: number;
  /** Every on and off stretch drawn independently from 0.5–1.5× its mean length: a load with no rhythm. */
  irregular?: boolean;
  seed?: number;
}

/** Periodic bursts: highW for onFraction of each period, lowW for the rest. */
export function burstTrace(b: BurstSpec): PowerTrace {
  const on = b.onFraction ?? 0.5, jit = (b.jitterPct ?? 0) / 100, rand = rng(b.seed ?? 1);
  const t: number[] = [0], p: number[] = [b.lowW];
  let s = (b.phaseMs ?? 0) / 1000;
  while (s < b.durationS) {
    const period = (b.periodMs / 1000) * (1 + jit * (2 * rand() - 1));
    const onS = b.irregular ? on * period * (0.5 + rand()) : on * period;
    const offS = b.irregular ? (1 - on) * period * (0.5 + rand()) : (1 - on) * period;
    t.push(s, s + onS); p.push(b.highW, b.lowW);
    s += onS + offS;
  }
  // drop zero-length and out-of-range segments
  const tt: number[] = [], pp: number[] = [];
  for (let i = 0; i < t.length; i++) {
    if (t[i]! >= b.durationS) break;
    if (tt.length && t[i]! <= tt[tt.length - 1]!) { pp[pp.length - 1] = p[i]!; continue; }
    tt.push(t[i]!); pp.push(p[i]!);
  }
  return makeTrace(tt, pp, b.durationS);
}

/** A measured series as ground truth: each reading held until the next (the last for the median spacing). */
export function traceFromReadings(points: ReadonlyArray<{ tS: number; powerW: number }>): PowerTrace {
  if (points.length === 0) throw new RangeError('no readings');
  const pts = [...points].sort((a, b) => a.tS - b.tS);
  const t0 = pts[0]!.tS;
  const gaps: number[] = [];
  for (let i = 1; i < pts.length; i++) gaps.push(pts[i]!.tS - pts[i - 1]!.tS);
  gaps.sort((a, b) => a - b);
  const last = gaps.length ? gaps[gaps.length >> 1]! : 0.1;
  return makeTrace(pts.map((p) => p.tS - t0), pts.map((p) => p.powerW), pts[pts.length - 1]!.tS - t0 + last);
}

// ───────────────────────────── sensors ─────────────────────────────

export type SensorModel =
  | { kind: 'instantaneous'; updatePeriodMs: number; dutyCyclePct?: number; phaseMs?: number }
  | { kind: 'windowed-average'; updatePeriodMs: number; averagingWindowMs: number; dutyCyclePct?: number; phaseMs?: number }
  | { kind: 'energy-counter'; updatePeriodMs: number; resolutionJ?: number; counterMaxJ?: number; offsetJ?: number; phaseMs?: number };

/** What the sensor publishes: value[k] from updateS[k] until the next update. */
export interface Readings {
  kind: 'power' | 'energy';
  updateS: Float64Array;
  value: Float64Array;
}

/** The sensor's published values over [fromS, toS] (default: the whole trace). */
export function sensorReadings(m: SensorModel, tr: PowerTrace, fromS = tr.tS[0]!, toS = tr.endS): Readings {
  const U = m.updatePeriodMs / 1000;
  if (!(U > 0)) throw new RangeError('updatePeriodMs must be positive');
  const first = fromS + (((m.phaseMs ?? 0) / 1000) % U);
  const n = Math.max(0, Math.floor((toS - first) / U + 1e-9) + 1);
  const updateS = new Float64Array(n), value = new Float64Array(n);
  for (let k = 0; k < n; k++) updateS[k] = first + k * U;
  if (m.kind === 'energy-counter') {
    const res = m.resolutionJ ?? 0, base = cumulativeJ(tr, fromS);
    for (let k = 0; k < n; k++) {
      let e = cumulativeJ(tr, updateS[k]!) - base;
      if (res > 0) e = Math.floor(e / res + 1e-9) * res;
      e += m.offsetJ ?? 0;
      if (m.counterMaxJ) e %= m.counterMaxJ;
      value[k] = e;
    }
    return { kind: 'energy', updateS, value };
  }
  const D = Math.min(1, Math.max(0.001, (m.dutyCyclePct ?? 100) / 100));
  const obs = D * U;
  const slice = (u: number) => (cumulativeJ(tr, u) - cumulativeJ(tr, u - obs)) / obs;
  if (m.kind === 'instantaneous') {
    for (let k = 0; k < n; k++) value[k] = slice(updateS[k]!);
    return { kind: 'power', updateS, value };
  }
  // windowed average: the mean of the last W/U observations (updates before the first one see the held start)
  const win = Math.max(1, Math.round(m.averagingWindowMs / m.updatePeriodMs));
  const slices = new Float64Array(n + win - 1);
  for (let j = 0; j < slices.length; j++) slices[j] = slice(first + (j - (win - 1)) * U);
  let acc = 0;
  for (let j = 0; j < win - 1; j++) acc += slices[j]!;
  for (let k = 0; k < n; k++) {
    acc += slices[k + win - 1]!;
    value[k] = acc / win;
    acc -= slices[k]!;
  }
  return { kind: 'power', updateS, value };
}

export interface PollPlan {
  startS: number;
  endS: number;
  intervalMs: number;
  /** Offset of the first poll after startS, ms. */
  phaseMs?: number;
  /** Each poll is late by a uniform random 0..jitterMs (a busy host), never early. */
  jitterMs?: number;
  seed?: number;
}

/** Poll the published values: each poll returns the latest value published at or before it. */
export function poll(r: Readings, plan: PollPlan): Array<{ tS: number; value: number }> {
  const I = plan.intervalMs / 1000, rand = rng(plan.seed ?? 7), out: Array<{ tS: number; value: number }> = [];
  let k = -1;
  for (let j = 0; ; j++) {
    const t = plan.startS + (plan.phaseMs ?? 0) / 1000 + j * I + ((plan.jitterMs ?? 0) / 1000) * rand();
    if (t > plan.endS) break;
    while (k + 1 < r.updateS.length && r.updateS[k + 1]! <= t) k++;
    if (k < 0) continue;
    if (out.length && t <= out[out.length - 1]!.tS) continue;
    out.push({ tS: t, value: r.value[k]! });
  }
  return out;
}

/** Samples, as a driver would deliver them, of a sensor watching a trace. */
export function simulateSamples(m: SensorModel, tr: PowerTrace, plan: PollPlan, deviceId = 'sim:0'): Sample[] {
  const r = sensorReadings(m, tr, Math.min(tr.tS[0]!, plan.startS), Math.max(tr.endS, plan.endS));
  return poll(r, plan).map((p) => (r.kind === 'energy'
    ? { tS: p.tS, sourceId: 'sim', deviceId, energyJ: p.value }
    : { tS: p.tS, sourceId: 'sim', deviceId, powerW: p.value }));
}

/** The semantics a driver for this sensor should declare. */
export function semanticsOf(m: SensorModel): Semantics {
  if (m.kind === 'energy-counter') {
    return { kind: 'energy-counter', updatePeriodMs: m.updatePeriodMs, ...(m.resolutionJ ? { counterResolutionJ: m.resolutionJ } : {}), ...(m.counterMaxJ ? { counterMaxJ: m.counterMaxJ } : {}) };
  }
  const sem: Semantics = m.kind === 'instantaneous'
    ? { kind: 'instantaneous', updatePeriodMs: m.updatePeriodMs, ...(m.dutyCyclePct !== undefined ? { dutyCyclePct: m.dutyCyclePct } : {}) }
    : { kind: 'windowed-average', updatePeriodMs: m.updatePeriodMs, averagingWindowMs: m.averagingWindowMs, ...(m.dutyCyclePct !== undefined ? { dutyCyclePct: m.dutyCyclePct } : {}) };
  return { ...sem, lagMs: readingLagMs({ ...sem, dutyCyclePct: m.dutyCyclePct ?? 100 }) };
}

/**
 * Expected delay between the load and a power reading stamped when it was polled, ms: a held reading is on
 * average U/2 old when polled, and it describes the mean over its observation (the last D·U for an instantaneous
 * sensor, the last W for an average), whose centre lies a further D·U/2 (resp. W/2 − U/2 + D·U/2) back.
 * Declared lagMs wins. An instantaneous source that declares neither lag nor duty cycle (a replayed trace, a
 * counter-derived power) is taken as stamped at its measurement time: 0.
 */
export function readingLagMs(sem: Semantics): number {
  if (sem.lagMs !== undefined) return sem.lagMs;
  const U = sem.updatePeriodMs;
  const D = (sem.dutyCyclePct ?? 100) / 100;
  if (sem.kind === 'windowed-average') {
    if (sem.averagingWindowMs === undefined) return 0;
    return sem.averagingWindowMs / 2 + (U !== undefined ? (D * U) / 2 : 0);
  }
  if (sem.kind === 'instantaneous' && U !== undefined && sem.dutyCyclePct !== undefined) return U / 2 + (D * U) / 2;
  return 0;
}

// ───────────────────────────── held values ─────────────────────────────

/**
 * Share of consecutive readings that repeat the previous value exactly. A high share means the poller is faster
 * than the sensor's refresh, so the first poll that shows a new value is within one poll interval of the update.
 */
export function repeatedShare(values: readonly number[]): number {
  if (values.length < 2) return 0;
  let same = 0;
  for (let i = 1; i < values.length; i++) if (values[i] === values[i - 1]) same++;
  return same / (values.length - 1);
}

/**
 * Keep each value at the poll where it first appeared (a held counter value stamped later is stale by the hold).
 * A value unchanged for longer than flatAfterS is genuinely flat (no energy, or below the resolution): it is kept
 * again at that point so the flat stretch is not smeared into the next update.
 */
export function firstAppearances<T extends { tS: number }>(points: readonly T[], value: (p: T) => number, flatAfterS: number): T[] {
  const out: T[] = [];
  let anchor: T | undefined;
  for (const p of points) {
    if (!anchor || value(p) !== value(anchor) || p.tS - anchor.tS >= flatAfterS) { out.push(p); anchor = p; }
  }
  return out;
}

/**
 * A counter polled faster than it refreshes, turned into points fit for interpolation:
 *  - a new value is stamped half a poll before the poll that first showed it (it appeared within that poll);
 *  - a value first seen after a gap longer than two polls appeared within one update before that poll (or after
 *    the poll before the gap, if later): it is stamped in the middle of that span;
 *  - a value unchanged for 1.5 updates is genuinely flat and kept where it was seen;
 *  - the first and last polls get an extrapolated point from the neighbouring slope, kept within what the counter
 *    allows there (at least the value shown, at most the next update's), so a window reaching the ends of the
 *    record is not held flat at a stale value.
 * Points must be sorted by time. With fewer than two usable changes the input is returned as is.
 */
export function freshCounterPoints(points: ReadonlyArray<{ tS: number; energyJ: number }>, pollS: number, updateS: number): Array<{ tS: number; energyJ: number }> {
  if (points.length < 3) return [...points];
  const fresh: Array<{ tS: number; energyJ: number }> = [];
  let anchor = points[0]!;
  for (let i = 1; i < points.length; i++) {
    const p = points[i]!, prev = points[i - 1]!;
    const changed = p.energyJ !== anchor.energyJ;
    if (changed) {
      if (p.tS - prev.tS <= 2 * pollS) fresh.push({ tS: p.tS - pollS / 2, energyJ: p.energyJ });
      else {
        // after a gap in the polling (a starved harness) the value still appeared no earlier than one update
        // before it was seen: dated to the middle of that span it is off by at most half an update. Dropping it
        // would leave an edge in the gap held at the last value, i.e. 0 W there (CI saw 241 W for 300 W).
        const fromS = Math.max(prev.tS, p.tS - updateS);
        fresh.push({ tS: (fromS + p.tS) / 2, energyJ: p.energyJ });
      }
      anchor = p;
    } else if (p.tS - anchor.tS >= 1.5 * updateS) {
      fresh.push({ tS: p.tS, energyJ: p.energyJ });
      anchor = p;
    }
  }
  if (fresh.length < 2) return [...points];
  const first = points[0]!, last = points[points.length - 1]!;
  const f0 = fresh[0]!, f1 = fresh[1]!, fl = fresh[fresh.length - 1]!, fk = fresh[fresh.length - 2]!;
  if (first.tS < f0.tS && f0.energyJ >= first.energyJ) {
    const slope = Math.max(0, (f1.energyJ - f0.energyJ) / Math.max(f1.tS - f0.tS, 1e-9));
    fresh.unshift({ tS: first.tS, energyJ: Math.min(f0.energyJ, Math.max(first.energyJ, f0.energyJ - slope * (f0.tS - first.tS))) });
  }
  if (last.tS > fl.tS && last.energyJ === fl.energyJ) {
    const slope = Math.max(0, (fl.energyJ - fk.energyJ) / Math.max(fl.tS - fk.tS, 1e-9));
    fresh.push({ tS: last.tS, energyJ: Math.min(fl.energyJ + slope * updateS, fl.energyJ + slope * (last.tS - fl.tS)) });
  }
  return fresh;
}

// ───────────────────────────── variability and the error bound ─────────────────────────────

/** What the readings say about how the power moved inside a window. */
export interface Variability {
  meanPowerW: number;
  minPowerW: number;
  maxPowerW: number;
  /** Update-to-update variability: sqrt(Σ Δv² / 2(n−1)) over successive readings (von Neumann), W. */
  successiveSdW: number;
  /** Spacing of the readings it was computed from, s. */
  stepS: number;
  readings: number;
}

function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** Power variability inside [startS, endS] from power readings or, for a counter, from counter differences. */
export function observedVariability(samples: readonly Sample[], startS: number, endS: number, opts: { useCounter: boolean; updatePeriodMs?: number }): Variability | null {
  // only the window and a little either side matter; analyse.ts passes samples already in time order
  let sorted = samples.filter((s) => s.tS >= startS - 2 && s.tS <= endS + 2);
  if (sorted.some((s, i) => i > 0 && s.tS < sorted[i - 1]!.tS)) sorted = [...sorted].sort((a, b) => a.tS - b.tS);
  let series: Array<{ tS: number; v: number }> = [];
  const U = (opts.updatePeriodMs ?? 0) / 1000;
  if (opts.useCounter) {
    const pts = sorted.filter((s) => s.energyJ !== undefined);
    const fresh = repeatedShare(pts.map((p) => p.energyJ!)) >= 0.2 ? firstAppearances(pts, (p) => p.energyJ!, 1.5 * Math.max(U, 1e-3)) : pts;
    // power over spans of at least two updates: one late poll then shortens one span by a fraction, not by half
    const spanS = 2 * Math.max(U, 1e-3);
    for (let i = 0, j = 0; i < fresh.length; i++) {
      while (j < fresh.length && fresh[j]!.tS - fresh[i]!.tS < spanS) j++;
      if (j >= fresh.length) break;
      const dt = fresh[j]!.tS - fresh[i]!.tS, dE = fresh[j]!.energyJ! - fresh[i]!.energyJ!;
      if (dt > 0 && dE >= 0) series.push({ tS: fresh[j]!.tS, v: dE / dt });
    }
  } else {
    series = sorted.filter((s) => s.powerW !== undefined).map((s) => ({ tS: s.tS, v: s.powerW! }));
  }
  const inside = series.filter((p) => p.tS >= startS && p.tS <= endS);
  if (inside.length === 0) return null;
  const spacing: number[] = [];
  for (let i = 1; i < inside.length; i++) spacing.push(inside[i]!.tS - inside[i - 1]!.tS);
  const I = spacing.length ? median(spacing) : Math.max(U, endS - startS);
  const step = Math.max(I, U);
  let min = Infinity, max = -Infinity, sum = 0, sq = 0;
  for (let i = 0; i < inside.length; i++) {
    const v = inside[i]!.v;
    min = Math.min(min, v); max = Math.max(max, v); sum += v;
    if (i > 0) sq += (v - inside[i - 1]!.v) ** 2;
  }
  // polled faster than the sensor refreshes, most differences are between copies of one update: normalise by the
  // number of updates the readings span, not by the number of readings
  const steps = Math.max(1, Math.round((inside[inside.length - 1]!.tS - inside[0]!.tS) / step));
  return { meanPowerW: sum / inside.length, minPowerW: min, maxPowerW: max, successiveSdW: Math.sqrt(sq / (2 * steps)), stepS: step, readings: inside.length };
}

export interface BoundInput {
  semantics: Semantics;
  /** How the harness integrated (analyse.ts methodFor). */
  method: { method: string; shiftS: number; freshOnly?: boolean };
  windowS: number;
  /** Median spacing of the polls, ms. */
  intervalMs: number;
  /** Energy of the window / its length, W. */
  meanPowerW: number;
  variability: Pick<Variability, 'minPowerW' | 'maxPowerW' | 'successiveSdW'>;
  /** The device's power limit, W, where known: the most the unobserved time can hold (worst case). */
  powerLimitW?: number;
}

export interface ErrorBound {
  /** Bound on |energy error| / energy, %, for a load not locked in phase to the sensor's update cycle. */
  boundPct: number;
  /** Worst case for a load locked to the sensor cycle (every observation lands on the same part of it), %. */
  worstCasePct: number;
  terms: {
    /** Timing at the window edges: staleness, lag left after the shift, reconstruction between readings. */
    edgePct: number;
    /** Time the readings never observed (duty cycle, updates skipped by slow polling): 3σ of the sampling error. */
    coveragePct: number;
    resolutionPct: number;
  };
  /** Share of the window the readings observed, %. */
  observedPct: number;
}

/**
 * Bound on a window's energy error from sensor and sampling alone (calibration is separate: ±5 W on NVIDIA per
 * the nvidia-smi help text). Terms, in joules, over the window energy P̄·T (the measured one: the truth lies
 * within ± bound of the figure):
 *  - edges. Inside one update the power may swing in ways no reading shows; with 0 ≤ P ≤ Pmax, interpolating
 *    across the update an edge falls in is off by at most U·Pmax/4. A counter value is also stale: by up to one
 *    poll (stamped where it first appeared, shifted back half of it) or one update (otherwise), ≤ τ·Pmax over the
 *    two edges. Power readings instead carry the lag left after the shift (× the power range R), the unknown
 *    poll/update phase (U/2·R per edge), the reconstruction between readings (S·R/4 per edge, S = max(poll,
 *    update)) and, for an average over W, its smoothing kernel (W·R/8 per edge);
 *  - coverage. The readings observe a share D_eff = D·min(1, U/poll) of the time. What they missed differs from
 *    what they saw by an error of standard deviation ≤ σ·√(1−D_eff) per reading, σ the update-to-update
 *    variability (undone from the average's smoothing); independent across readings when the load has no rhythm
 *    locked to the sensor's cycle: 3σ·√((1−D_eff)·S·T). A load locked (or nearly: a period close to a multiple or
 *    divisor of U) makes the errors add up instead, to at most (1−D_eff)·max(Plimit, Pmax)·T: `worstCasePct`;
 *  - resolution: two counter steps.
 */
export function energyErrorBound(b: BoundInput): ErrorBound {
  const sem = b.semantics;
  const T = b.windowS, I = b.intervalMs / 1000;
  const U = (sem.updatePeriodMs ?? b.intervalMs) / 1000;
  const S = Math.max(I, U);
  const Pmax = Math.max(0, b.variability.maxPowerW), R = Math.max(0, b.variability.maxPowerW - b.variability.minPowerW);
  const E = b.meanPowerW * T;
  const D = Math.min(1, Math.max(0, (sem.dutyCyclePct ?? 100) / 100));
  const hiddenJ = 2 * (U * Pmax) / 4;
  let edgeJ: number, resJ = 0, Deff: number, sigma = b.variability.successiveSdW;
  if (b.method.method === 'counter') {
    edgeJ = (b.method.freshOnly ? I : U) * Pmax + hiddenJ;
    resJ = 2 * (sem.counterResolutionJ ?? 0);
    Deff = D;
  } else {
    const W = sem.kind === 'windowed-average' ? (sem.averagingWindowMs ?? 0) / 1000 : 0;
    const residualLagS = Math.abs(readingLagMs(sem) / 1000 - b.method.shiftS);
    edgeJ = residualLagS * R + 2 * ((U / 2) * R + (S * R) / 4 + (W * R) / 8) + hiddenJ;
    Deff = D * Math.min(1, U / Math.max(I, 1e-9));
    // an average of n observations moves by 1/n of a change per update: scale back to one observation's spread
    if (W > 0) sigma *= Math.max(Math.sqrt(W / U), W / S);
  }
  const statJ = Deff < 1 ? 3 * sigma * Math.sqrt((1 - Deff) * S * T) : 0;
  const worstJ = (1 - Deff) * Math.max(b.powerLimitW ?? 0, Pmax) * T;
  const pct = (j: number) => (E > 0 ? (100 * j) / E : j > 0 ? Infinity : 0);
  return {
    boundPct: pct(edgeJ + statJ + resJ),
    worstCasePct: pct(edgeJ + Math.max(statJ, worstJ) + resJ),
    terms: { edgePct: pct(edgeJ), coveragePct: pct(statJ), resolutionPct: pct(resJ) },
    observedPct: 100 * Deff,
  };
}
