import { describe, it, expect } from 'vitest';
import { integratePower, integrateCounter, unwrapCounter, integrateSeries, peakOfSum, idleSubtracted, efficiency } from '../../harness/energy.js';

const series = (f: (t: number) => number, t0: number, t1: number, dt: number) => {
  const out = [];
  for (let t = t0; t <= t1 + 1e-9; t += dt) out.push({ tS: +t.toFixed(9), powerW: f(t) });
  return out;
};
const within = (got: number, want: number, pct = 0.1) => expect(Math.abs(got - want) / Math.abs(want) * 100).toBeLessThan(pct);

describe('integratePower (trapezoid, edges interpolated)', () => {
  it('constant power: E = P × duration, window edges mid-interval', () => {
    const r = integratePower(series(() => 250, 0, 20, 0.1), 3.037, 13.291);
    within(r.energyJ, 250 * (13.291 - 3.037));
    expect(r.meanPowerW).toBeCloseTo(250, 9);
    expect(r.coveragePct).toBeCloseTo(100, 6);
    expect(r.edgeHeld).toBe(false);
  });
  it('ramp: linear power is integrated exactly, edges included', () => {
    const f = (t: number) => 100 + 10 * t;
    const a = 2.05, b = 17.93;
    const exact = 100 * (b - a) + 5 * (b * b - a * a);
    const r = integratePower(series(f, 0, 20, 0.1), a, b);
    within(r.energyJ, exact, 1e-6);
  });
  it('step: a jump between samples costs at most one interval of error, well under 0.1% on a long window', () => {
    const f = (t: number) => (t < 10.05 ? 100 : 400);
    const exact = 100 * (10.05 - 1.02) + 400 * (60.98 - 10.05);
    const r = integratePower(series(f, 0, 62, 0.1), 1.02, 60.98);
    within(r.energyJ, exact, 0.1);
    expect(r.peakPowerW).toBe(400);
  });
  it('unsorted input and missing points are handled; a window past the data is flagged', () => {
    const pts = series(() => 50, 0, 10, 0.5).reverse();
    const r = integratePower(pts, 8, 12);
    expect(r.edgeHeld).toBe(true);
    expect(r.coveragePct).toBeLessThan(60);
    within(r.energyJ, 50 * 4, 1e-9);
  });
  it('a shift moves windowed-average readings back by the sensor lag', () => {
    // a reading at t reports the load at t - 0.5
    const load = (t: number) => (t < 5 ? 100 : 300);
    const pts = series((t) => load(t - 0.5), 0, 20, 0.01);
    const r = integratePower(pts, 5, 15, { shiftS: 0.5 });
    within(r.energyJ, 300 * 10, 0.1);
  });
  it('rejects a window that ends before it starts', () => {
    expect(() => integratePower(series(() => 1, 0, 1, 0.1), 1, 0)).toThrow(RangeError);
  });
});

describe('integrateCounter', () => {
  it('an edge beyond the readings carries the counter on at its observed rate (held flat it would be 0 W there)', () => {
    const pts = Array.from({ length: 27 }, (_, i) => ({ tS: +(i * 0.1).toFixed(1), energyJ: 1000 + 300 * i * 0.1 })); // 300 W, 0–2.6 s
    const end = integrateCounter(pts, 1, 2.9);
    expect(end.edgeHeld).toBe(true);
    expect(end.energyJ).toBeCloseTo(300 * 1.9, 6);
    const late = pts.filter((p) => p.tS >= 0.5);
    expect(integrateCounter(late, 0.2, 2).energyJ).toBeCloseTo(300 * 1.8, 6);
    expect(integrateCounter(pts, 3, 4).energyJ).toBeCloseTo(300, 6); // wholly past the readings: the last rate
    expect(integrateCounter(pts.map((p) => ({ ...p, energyJ: 1000 })), 1, 2.9).energyJ).toBe(0); // a flat counter stays flat
  });

  it('differences an energy counter with both edges interpolated', () => {
    const pts = [];
    for (let t = 0; t <= 30; t += 0.2) pts.push({ tS: t, energyJ: 1000 + 150 * t });
    const r = integrateCounter(pts, 4.33, 21.07);
    within(r.energyJ, 150 * (21.07 - 4.33), 1e-6);
  });
  it('survives wraparound at the counter maximum', () => {
    const max = 262143.328850; // J, the max_energy_range_uj of the Kepler RAPL fixture
    const pts = [];
    for (let t = 0; t <= 10; t += 0.1) pts.push({ tS: t, energyJ: (max - 500 + 200 * t) % max });
    const u = unwrapCounter(pts, max);
    expect(u.wraps).toBe(1);
    const r = integrateCounter(pts, 1, 9, { counterMaxJ: max });
    within(r.energyJ, 200 * 8, 1e-6);
    expect(r.resets).toEqual([]);
  });
  it('a reset (driver reload) without power readings counts from zero (a lower bound) and is reported', () => {
    const pts = [{ tS: 0, energyJ: 5000 }, { tS: 1, energyJ: 5100 }, { tS: 2, energyJ: 50 }, { tS: 3, energyJ: 150 }];
    const r = integrateCounter(pts, 0, 3, { counterMaxJ: 1e9 });
    expect(r.resets).toEqual([{ fromS: 1, toS: 2, bridged: 'since-reset' }]);
    expect(r.energyJ).toBeCloseTo(100 + 50 + 100, 9);
    // a window that does not meet the reset's stretch reports none
    expect(integrateCounter(pts, 2.2, 3, { counterMaxJ: 1e9 }).resets).toEqual([]);
    expect(integrateCounter(pts, 0, 0.9, { counterMaxJ: 1e9 }).resets).toEqual([]);
  });
  it('a reset with power readings around it takes the stretch from power: the energy is whole', () => {
    // 100 W throughout; the counter resets to 0 at 1.4 s, read at 1 s (100 J) and 2 s (60 J since the reset)
    const pts = [{ tS: 0, energyJ: 0 }, { tS: 1, energyJ: 100 }, { tS: 2, energyJ: 60 }, { tS: 3, energyJ: 160 }];
    const power = { ts: Float64Array.from([0, 1, 2, 3]), vs: Float64Array.from([100, 100, 100, 100]) };
    const u = unwrapCounter(pts, 1e9, (a, b) => integrateSeries(power, a, b).energyJ);
    const r = integrateCounter(u, 0, 3);
    expect(r.resets).toEqual([{ fromS: 1, toS: 2, bridged: 'power' }]);
    within(r.energyJ, 300, 1e-9);
  });
});

describe('peakOfSum', () => {
  const S = (pts: Array<[number, number]>) => ({ ts: Float64Array.from(pts.map((p) => p[0])), vs: Float64Array.from(pts.map((p) => p[1])) });
  it('is the peak of the total, not the total of the peaks, for devices that peak at different times', () => {
    const a = S([[0, 100], [1, 300], [2, 100], [3, 100]]);
    const b = S([[0.5, 80], [1.5, 80], [2.5, 300], [3.5, 80]]);
    // at t=1: 300 + 80 = 380; at t=2.5: 100 + 300 = 400; per-device peaks would sum to 600
    expect(peakOfSum([a, b], 0, 3.5)).toBeCloseTo(400, 9);
    // a window that holds only a's peak: 300 + b interpolated at 1 (80)
    expect(peakOfSum([a, b], 0.8, 1.2)).toBeCloseTo(380, 9);
    // interpolated at the window's edges: inside [1.2, 1.4] a falls from 260 to 220, b is 80
    expect(peakOfSum([a, b], 1.2, 1.4)).toBeCloseTo(340, 9);
    expect(peakOfSum([S([])], 0, 1)).toBeNull();
  });
});

describe('figures', () => {
  it('idle subtraction and the headline ratios', () => {
    expect(idleSubtracted(1000, 20, 10)).toBe(800);
    const e = efficiency(5000, 1000, 10);
    expect(e.tokensPerJ).toBe(5);
    expect(e.tokensPerS).toBe(500);
    expect(e.joulesPerToken).toBe(0.2);
    // tokens per joule is the same number as (tokens/s) per watt
    expect(e.tokensPerJ).toBeCloseTo(e.tokensPerS / (1000 / 10), 12);
  });
});
