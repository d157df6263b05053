// Energy inside a measured window, one definition for the whole tool (GUIDE "Figures").
//  - power samples: trapezoid over [startS, endS], both edges linearly interpolated from the neighbouring samples;
//  - energy counter: unwrap (wraparound at counterMaxJ; a reset counts from 0), interpolate at both edges, subtract.
// Pure functions over arrays: the tests feed them traces with known energy.

export interface PowerPoint { tS: number; powerW: number }
export interface CounterPoint { tS: number; energyJ: number }

export interface WindowEnergy {
  energyJ: number;
  meanPowerW: number;
  /** Highest reading inside the window (edges included); null when the window holds no reading at all. */
  peakPowerW: number | null;
  /** Readings strictly inside the window. */
  sampleCount: number;
  /** Percentage of the window with readings on both sides no further apart than maxGapS. */
  coveragePct: number;
  /** True when a window edge lay outside the samples: held at the nearest power reading, or a counter carried on at its rate. */
  edgeHeld: boolean;
}

/** Index of the first element with tS > t (binary search over a sorted series). */
function upperBound(ts: ArrayLike<number>, t: number): number {
  let lo = 0, hi = ts.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (ts[mid]! <= t) lo = mid + 1; else hi = mid; }
  return lo;
}

/** Linear interpolation of a sorted series at t (held flat beyond either end). */
function valueAt(ts: ArrayLike<number>, vs: ArrayLike<number>, t: number): { v: number; held: boolean } {
  const n = ts.length;
  if (t <= ts[0]!) return { v: vs[0]!, held: t < ts[0]! };
  if (t >= ts[n - 1]!) return { v: vs[n - 1]!, held: t > ts[n - 1]! };
  const hi = upperBound(ts, t), lo = hi - 1;
  const t0 = ts[lo]!, t1 = ts[hi]!;
  const f = t1 === t0 ? 0 : (t - t0) / (t1 - t0);
  return { v: vs[lo]! + f * (vs[hi]! - vs[lo]!), held: false };
}

/** A time series as two parallel arrays, sorted by time, non-finite points dropped. Build once, integrate often. */
export interface Series { ts: Float64Array; vs: Float64Array }

export function toSeries<T extends { tS: number }>(points: readonly T[], value: (p: T) => number | undefined): Series {
  const kept: Array<[number, number]> = [];
  let sorted = true;
  for (const p of points) {
    const v = value(p);
    if (v === undefined || !Number.isFinite(v) || !Number.isFinite(p.tS)) continue;
    if (kept.length && p.tS < kept[kept.length - 1]![0]) sorted = false;
    kept.push([p.tS, v]);
  }
  if (!sorted) kept.sort((a, b) => a[0] - b[0]);
  const ts = new Float64Array(kept.length), vs = new Float64Array(kept.length);
  kept.forEach(([t, v], i) => { ts[i] = t; vs[i] = v; });
  return { ts, vs };
}

/** Share of [startS, endS] covered by sample spacing ≤ maxGapS. */
function coverage(ts: ArrayLike<number>, startS: number, endS: number, maxGapS: number): number {
  const dur = endS - startS;
  if (dur <= 0) return 100;
  let covered = 0;
  const first = Math.max(1, upperBound(ts, startS) - 1);
  for (let i = first; i < ts.length; i++) {
    const a = ts[i - 1]!, b = ts[i]!;
    if (a >= endS) break;
    if (b - a > maxGapS) continue;
    const lo = Math.max(a, startS), hi = Math.min(b, endS);
    if (hi > lo) covered += hi - lo;
  }
  return Math.min(100, (100 * covered) / dur);
}

export interface IntegrateOptions {
  /** Gap threshold for coverage, s (default: 2 × median spacing). */
  maxGapS?: number;
  /** Move every reading this many seconds earlier first (windowed-average sensors report late). */
  shiftS?: number;
}

/** Trapezoid over power samples inside [startS, endS], edges interpolated. */
export function integratePower(points: readonly PowerPoint[] | Series, startS: number, endS: number, opts: IntegrateOptions = {}): WindowEnergy {
  const series = 'ts' in points ? points : toSeries(points, (p) => p.powerW);
  return integrateSeries(series, startS, endS, opts);
}

export function integrateSeries(series: Series, startS: number, endS: number, opts: IntegrateOptions = {}): WindowEnergy {
  if (!(endS >= startS)) throw new RangeError(`window end ${endS} is before its start ${startS}`);
  if (series.ts.length === 0) return { energyJ: 0, meanPowerW: 0, peakPowerW: null, sampleCount: 0, coveragePct: 0, edgeHeld: true };
  // shifting every reading earlier by s is the same as moving the window later by s
  const shift = opts.shiftS ?? 0;
  const a0 = startS + shift, b0 = endS + shift;
  const { ts, vs } = series;
  const dur = endS - startS;
  const a = valueAt(ts, vs, a0);
  const b = valueAt(ts, vs, b0);
  if (dur === 0) return { energyJ: 0, meanPowerW: a.v, peakPowerW: a.v, sampleCount: 0, coveragePct: 100, edgeHeld: a.held };
  let energy = 0, prevT = a0, prevV = a.v, peak = Math.max(a.v, b.v), inside = 0;
  for (let i = upperBound(ts, a0); i < ts.length; i++) {
    const t = ts[i]!;
    if (t >= b0) break;
    energy += 0.5 * (prevV + vs[i]!) * (t - prevT);
    prevT = t; prevV = vs[i]!;
    if (vs[i]! > peak) peak = vs[i]!;
    inside++;
  }
  energy += 0.5 * (prevV + b.v) * (b0 - prevT);
  const maxGap = opts.maxGapS ?? 2 * medianSpacing(ts);
  return { energyJ: energy, meanPowerW: energy / dur, peakPowerW: peak, sampleCount: inside, coveragePct: coverage(ts, a0, b0, maxGap), edgeHeld: a.held || b.held };
}

/**
 * Highest total power over [startS, endS] of several devices read at their own times: each device's readings
 * interpolated at every reading time of any device, summed. The sum of per-device peaks overstates it whenever
 * the devices do not peak together. Null when no series has a reading there.
 */
export function peakOfSum(series: readonly Series[], startS: number, endS: number): number | null {
  const live = series.filter((x) => x.ts.length > 0);
  if (live.length === 0) return null;
  const times = [startS, endS];
  for (const x of live) for (let i = upperBound(x.ts, startS); i < x.ts.length && x.ts[i]! < endS; i++) times.push(x.ts[i]!);
  times.sort((a, b) => a - b);
  // per series, the last reading at or before t (-1: none yet); t only grows, so each pointer only moves forward
  const ptr = live.map((x) => upperBound(x.ts, startS) - 1);
  let peak = -Infinity;
  for (const t of times) {
    let sum = 0;
    for (let k = 0; k < live.length; k++) {
      const { ts, vs } = live[k]!;
      let i = ptr[k]!;
      while (i + 1 < ts.length && ts[i + 1]! <= t) i++;
      ptr[k] = i;
      if (i < 0) sum += vs[0]!;
      else if (i >= ts.length - 1 || ts[i + 1] === ts[i]) sum += vs[i]!;
      else sum += vs[i]! + ((t - ts[i]!) / (ts[i + 1]! - ts[i]!)) * (vs[i + 1]! - vs[i]!);
    }
    if (sum > peak) peak = sum;
  }
  return peak;
}

export function medianSpacing(ts: ArrayLike<number>): number {
  if (ts.length < 2) return Infinity;
  const d: number[] = [];
  // a strided subset is enough for a median and keeps this O(10k) on hour-long traces
  const stride = Math.max(1, Math.floor((ts.length - 1) / 10000));
  for (let i = 1; i < ts.length; i += stride) d.push(ts[i]! - ts[i - 1]!);
  d.sort((x, y) => x - y);
  return d[Math.floor(d.length / 2)]!;
}

export interface CounterEnergy extends WindowEnergy {
  /** Resets (the counter went backwards by more than a wrap explains: a driver reload) whose stretch meets the window. */
  resets: CounterReset[];
  wraps: number;
}

/** The stretch between the last reading before a reset and the first after it, and how its energy was found. */
export interface CounterReset { fromS: number; toS: number; bridged: 'power' | 'since-reset' }

export interface UnwrappedCounter { ts: Float64Array; cum: Float64Array; wraps: number; resets: CounterReset[] }

/**
 * Energy over [t0, t1] from another signal (the source's power readings), or undefined where it has none there.
 * A reset loses the counter's energy between the reading before it and the reset itself; this fills the stretch.
 */
export type EnergyBridge = (t0S: number, t1S: number) => number | undefined;

/**
 * Turn raw counter readings into a monotonic cumulative series, undoing wraparound and resets. Across a reset the
 * stretch takes the bridge's energy where there is one (power readings); otherwise the reading after the reset,
 * i.e. the energy since the reset only: a lower bound, short by the part of the stretch before the reset.
 */
export function unwrapCounter(points: readonly CounterPoint[] | Series, counterMaxJ?: number, bridge?: EnergyBridge): UnwrappedCounter {
  const { ts, vs } = 'ts' in points ? points : toSeries(points, (p) => p.energyJ);
  const cum = new Float64Array(ts.length);
  const resets: CounterReset[] = [];
  let wraps = 0, acc = 0;
  for (let i = 1; i < ts.length; i++) {
    let d = vs[i]! - vs[i - 1]!;
    if (d < 0) {
      // a wrap lands near 0 after being near the maximum; anything else is a reset
      if (counterMaxJ && vs[i - 1]! > counterMaxJ / 2 && vs[i]! < counterMaxJ / 2) { d += counterMaxJ; wraps++; }
      else {
        const fromPower = bridge?.(ts[i - 1]!, ts[i]!);
        d = fromPower ?? vs[i]!;
        resets.push({ fromS: ts[i - 1]!, toS: ts[i]!, bridged: fromPower === undefined ? 'since-reset' : 'power' });
      }
    }
    acc += d;
    cum[i] = acc;
  }
  return { ts, cum, wraps, resets };
}

/** Resets whose stretch meets [startS, endS]. */
function resetsIn(u: UnwrappedCounter, startS: number, endS: number): CounterReset[] {
  return u.resets.filter((r) => r.toS > startS && r.fromS < endS);
}

/** Energy from a counter: unwrapped value at endS minus value at startS (both interpolated). */
export function integrateCounter(points: readonly CounterPoint[] | UnwrappedCounter, startS: number, endS: number, opts: { counterMaxJ?: number; maxGapS?: number } = {}): CounterEnergy {
  if (!(endS >= startS)) throw new RangeError(`window end ${endS} is before its start ${startS}`);
  const u = 'cum' in points ? points : unwrapCounter(points, opts.counterMaxJ);
  if (u.ts.length < 2) return { energyJ: 0, meanPowerW: 0, peakPowerW: null, sampleCount: u.ts.length, coveragePct: 0, edgeHeld: true, resets: resetsIn(u, startS, endS), wraps: u.wraps };
  const a = valueAt(u.ts, u.cum, startS);
  const b = valueAt(u.ts, u.cum, endS);
  // an edge beyond the readings: holding a counter's value there would mean 0 W, where holding a power reading means
  // "as last seen". Carry the counter on at the rate it showed over the observed part of the window instead (the
  // equivalent of holding the power), so the edge costs what the warning and the error bound say: power × time.
  if (a.held || b.held) {
    const n = u.ts.length, firstS = u.ts[0]!, lastS = u.ts[n - 1]!;
    // the rate over the observed part of the window, and over at least five readings, so that one counter update
    // more or less in a short stretch does not set it
    const spanS = 5 * medianSpacing(u.ts);
    const rateW = (fromS: number, toS: number) => {
      const f = Math.max(firstS, fromS), t = Math.min(lastS, toS);
      return t > f ? Math.max(0, (valueAt(u.ts, u.cum, t).v - valueAt(u.ts, u.cum, f).v) / (t - f)) : 0;
    };
    const beyond = (t: number) => t > lastS ? rateW(Math.min(startS, lastS - spanS), lastS) * (t - lastS)
      : t < firstS ? -rateW(firstS, Math.max(endS, firstS + spanS)) * (firstS - t) : 0;
    a.v += beyond(startS);
    b.v += beyond(endS);
  }
  const dur = endS - startS;
  const energy = b.v - a.v;
  // peak power from consecutive differences inside the window
  let peak: number | null = null, inside = 0;
  for (let i = Math.max(1, upperBound(u.ts, startS)); i < u.ts.length; i++) {
    const t0 = u.ts[i - 1]!, t1 = u.ts[i]!;
    if (t0 >= endS) break;
    if (t1 === t0) continue;
    const p = (u.cum[i]! - u.cum[i - 1]!) / (t1 - t0);
    if (peak === null || p > peak) peak = p;
    if (t1 < endS) inside++;
  }
  const maxGap = opts.maxGapS ?? 2 * medianSpacing(u.ts);
  return { energyJ: energy, meanPowerW: dur > 0 ? energy / dur : 0, peakPowerW: peak, sampleCount: inside, coveragePct: coverage(u.ts, startS, endS, maxGap), edgeHeld: a.held || b.held, resets: resetsIn(u, startS, endS), wraps: u.wraps };
}

/** Idle-subtracted energy: E − P_idle × duration. */
export function idleSubtracted(energyJ: number, idlePowerW: number, durationS: number): number {
  return energyJ - idlePowerW * durationS;
}

/** The headline ratios, defined once. */
export function efficiency(tokens: number, energyJ: number, durationS: number) {
  return {
    tokensPerS: durationS > 0 ? tokens / durationS : 0,
    tokensPerJ: energyJ > 0 ? tokens / energyJ : null,
    joulesPerToken: tokens > 0 ? energyJ / tokens : null,
  };
}
