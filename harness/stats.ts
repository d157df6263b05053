// Statistics across repetitions and over latency samples: mean, sample standard deviation (n − 1), 95% confidence
// interval with Student's t, coefficient of variation, and percentiles by linear interpolation between closest
// ranks (Hyndman & Fan type 7, the default of R and NumPy).
import type { Stats } from '../results/types.gen.js';

// two-sided 95% critical values of Student's t for 1..30 degrees of freedom, to 6 decimals (scipy.stats.t.ppf(0.975,
// df)); 3-decimal tables put the CI half-width off by up to 1.4e-4 of itself
const T975 = [12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.13145, 2.119905, 2.109816, 2.100922, 2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.04523, 2.042272];

export function tCritical95(df: number): number {
  if (df < 1) return NaN;
  if (df <= 30) return T975[Math.floor(df) - 1]!;
  // Cornish–Fisher expansion around z = 1.959964 to the third order: within 1e-5 of the exact value for df > 30
  const z = 1.959964;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)
    + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3);
}

export function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  if (!xs.length) return NaN;
  if (Number.isFinite(s)) return s / xs.length;
  // finite values whose sum overflows (a workload metric near 1e308): average the scaled-down values instead
  let m = 0;
  for (const x of xs) m += x / xs.length;
  return m;
}

export function sampleSd(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) ** 2;
  if (Number.isFinite(s) || !xs.every(Number.isFinite)) return Math.sqrt(s / (xs.length - 1));
  // squares that overflow: work in units of the largest deviation
  let scale = 0;
  for (const x of xs) scale = Math.max(scale, Math.abs(x / 2 - m / 2));
  let q = 0;
  for (const x of xs) q += ((x / 2 - m / 2) / scale) ** 2;
  return 2 * scale * Math.sqrt(q / (xs.length - 1));
}

/** A standard deviation at or below this share of the mean is floating-point noise, shown and stored as 0. */
const SD_NOISE_REL = 1e-12;

const orNull = (x: number) => (Number.isFinite(x) ? x : null);

export function describe(xs: readonly number[]): Stats {
  const n = xs.length;
  const m = mean(xs);
  // identical values summed in different orders differ in the last bits (250 ± 5.9e-14 W): that is no spread
  const rawSd = sampleSd(xs);
  const sd = Number.isFinite(rawSd) && rawSd <= SD_NOISE_REL * Math.abs(m) ? 0 : rawSd;
  const half = n >= 2 ? tCritical95(n - 1) * sd / Math.sqrt(n) : NaN;
  return {
    n,
    mean: n ? m : 0,
    sd: orNull(sd),
    ci95Low: orNull(m - half),
    ci95High: orNull(m + half),
    ci95HalfWidth: orNull(half),
    cvPct: n >= 2 && m !== 0 ? orNull((100 * sd) / Math.abs(m)) : null,
    min: n ? Math.min(...xs) : 0,
    max: n ? Math.max(...xs) : 0,
  };
}

export const PERCENTILE_METHOD = 'linear interpolation between closest ranks (Hyndman & Fan type 7)';

/** p in [0, 100]; xs need not be sorted. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return percentileSorted(s, p);
}

export function percentileSorted(s: readonly number[], p: number): number {
  if (s.length === 0) return NaN;
  const h = (s.length - 1) * (p / 100);
  const lo = Math.floor(h), hi = Math.ceil(h);
  return s[lo]! + (h - lo) * (s[hi]! - s[lo]!);
}
