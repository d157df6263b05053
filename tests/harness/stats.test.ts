import { describe, it, expect } from 'vitest';
import { describe as stats, percentile, tCritical95 } from '../../harness/stats.js';

describe('stats', () => {
  it('mean, sample sd, Student-t CI and CV', () => {
    const s = stats([10, 12, 14]);
    expect(s.mean).toBe(12);
    expect(s.sd).toBeCloseTo(2, 12);
    expect(s.ci95HalfWidth).toBeCloseTo(4.302653 * 2 / Math.sqrt(3), 9);
    expect(s.cvPct).toBeCloseTo(100 * 2 / 12, 9);
    expect(s.ci95Low! + s.ci95HalfWidth!).toBeCloseTo(12, 9);
  });
  it('one value has no spread and no interval', () => {
    const s = stats([5]);
    expect(s.sd).toBeNull();
    expect(s.ci95HalfWidth).toBeNull();
    expect(s.cvPct).toBeNull();
  });
  it('t critical values beyond the table', () => {
    expect(tCritical95(30)).toBeCloseTo(2.042, 3);
    expect(tCritical95(60)).toBeCloseTo(2.0003, 3);
    expect(tCritical95(1000)).toBeCloseTo(1.9623, 3);
  });
  it('percentiles by linear interpolation (type 7)', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([1, 2, 3, 4, 5], 90)).toBeCloseTo(4.6, 12);
    expect(percentile([7], 99)).toBe(7);
  });
});

describe('statistics of huge finite values', () => {
  it('do not overflow to Infinity: the mean and sd of values near the largest double stay finite and right', async () => {
    const { describe: stats } = await import('../../harness/stats.js');
    const s = stats([1e308, 1e308]);
    expect(s.mean).toBe(1e308);
    expect(s.sd).toBe(0);
    const t = stats([1.5e308, 0.5e308, 1e308]);
    expect(t.mean).toBeCloseTo(1e308, -300);
    expect(t.sd! / 0.5e308).toBeCloseTo(1, 12);
  });
});

describe('floating-point noise', () => {
  it('is no spread: values equal but for their last bits have sd 0 and a zero-width CI', async () => {
    const { describe: stats } = await import('../../harness/stats.js');
    const s = stats([250, 250 + 5.7e-14, 250 - 2.8e-14]);
    expect(s.sd).toBe(0);
    expect(s.ci95HalfWidth).toBe(0);
    expect(stats([250, 250.001, 249.999]).sd).toBeGreaterThan(0); // a real spread stays
  });
});

describe('Student t, 95% two-sided', () => {
  it('matches scipy.stats.t.ppf(0.975, df) to 1e-6 (table) and 2e-6 (expansion beyond 30)', async () => {
    const { tCritical95 } = await import('../../harness/stats.js');
    const exact: Array<[number, number]> = [[1, 12.706205], [2, 4.302653], [3, 3.182446], [9, 2.262157], [30, 2.042272], [31, 2.039513], [40, 2.021075], [60, 2.000298], [100, 1.983972], [1000, 1.962339]];
    for (const [df, t] of exact) expect(Math.abs(tCritical95(df) - t), `df ${df}`).toBeLessThan(df <= 30 ? 1e-6 : 2e-6);
  });
});
