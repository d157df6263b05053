// The sensor model's pieces against hand-computed values: ground truth, what each sensor publishes, polling,
// the lag each semantics implies, counter stamping, variability and the error bound's behaviour.
import { describe, expect, it } from 'vitest';
import {
  burstTrace, constantTrace, energyErrorBound, freshCounterPoints, makeTrace, observedVariability, poll, readingLagMs,
  semanticsOf, sensorReadings, simulateSamples, stepTrace, traceEnergyJ, traceFromReadings, type BoundInput,
} from '../../harness/sensor-model.js';
import { methodFor, windowEnergy } from '../../harness/analyse.js';
import type { Sample } from '../../results/samples.js';

describe('ground-truth traces', () => {
  it('integrates piecewise-constant power exactly, holding the ends', () => {
    const tr = makeTrace([0, 1, 3], [100, 300, 50], 4);
    expect(traceEnergyJ(tr, 0, 4)).toBeCloseTo(100 + 600 + 50, 9);
    expect(traceEnergyJ(tr, 0.5, 1.5)).toBeCloseTo(50 + 150, 9);
    expect(traceEnergyJ(tr, -1, 0)).toBeCloseTo(100, 9); // first power held before the start
    expect(traceEnergyJ(tr, 4, 6)).toBeCloseTo(100, 9); // last power held after the end
    expect(() => makeTrace([0, 2, 1], [1, 2, 3], 3)).toThrow(/ascend/);
  });
  it('builds steps, strictly periodic bursts and irregular bursts with the energy their shape implies', () => {
    expect(traceEnergyJ(stepTrace([100, 200, 300], 2), 0, 6)).toBeCloseTo(1200, 9);
    const periodic = burstTrace({ periodMs: 100, highW: 300, lowW: 100, durationS: 10 });
    expect(traceEnergyJ(periodic, 0, 10)).toBeCloseTo(2000, 6); // 50% at 300 W, 50% at 100 W
    expect(traceEnergyJ(periodic, 0.02, 0.07)).toBeCloseTo(0.03 * 300 + 0.02 * 100, 9);
    const irregular = burstTrace({ periodMs: 100, highW: 300, lowW: 100, durationS: 60, irregular: true, seed: 5 });
    const mean = traceEnergyJ(irregular, 0, 60) / 60;
    expect(mean).toBeGreaterThan(180);
    expect(mean).toBeLessThan(220);
    expect(irregular.tS.length).toBeGreaterThan(900); // about 600 bursts of two segments
  });
  it('turns a measured series into a held trace', () => {
    const tr = traceFromReadings([{ tS: 10, powerW: 100 }, { tS: 10.1, powerW: 200 }, { tS: 10.2, powerW: 300 }]);
    expect(tr.endS).toBeCloseTo(0.3, 9);
    expect(traceEnergyJ(tr, 0, 0.3)).toBeCloseTo(60, 9);
  });
});

describe('what each sensor publishes', () => {
  // 100 ms bursts: 300 W for the first 50 ms of every period, 100 W after
  const bursts = burstTrace({ periodMs: 100, highW: 300, lowW: 100, durationS: 5 });
  it('an instantaneous sensor with a 25% duty cycle reports only the last 25 ms of each update', () => {
    // updates at 50 ms + k·100 ms observe [25, 50] ms of each period: always the 300 W half
    const seen = sensorReadings({ kind: 'instantaneous', updatePeriodMs: 100, dutyCyclePct: 25, phaseMs: 50 }, bursts);
    expect([...seen.value.slice(0, 20)].every((v) => Math.abs(v - 300) < 1e-9)).toBe(true);
    // updates at k·100 ms observe [75, 100] ms: the 100 W half — the same load reads 3× lower
    const other = sensorReadings({ kind: 'instantaneous', updatePeriodMs: 100, dutyCyclePct: 25, phaseMs: 0 }, bursts);
    expect(other.value[5]).toBeCloseTo(100, 9);
    // full coverage sees the mean of each period
    const full = sensorReadings({ kind: 'instantaneous', updatePeriodMs: 100, dutyCyclePct: 100, phaseMs: 0 }, bursts);
    expect(full.value[5]).toBeCloseTo(200, 9);
  });
  it('a windowed average follows a step over its window', () => {
    const step = makeTrace([0, 5], [100, 300], 10);
    const r = sensorReadings({ kind: 'windowed-average', updatePeriodMs: 100, averagingWindowMs: 1000 }, step);
    const at = (t: number) => r.value[Math.round(t / 0.1)]!;
    expect(at(5)).toBeCloseTo(100, 9);
    expect(at(5.5)).toBeCloseTo(200, 9);
    expect(at(6)).toBeCloseTo(300, 9);
  });
  it('an energy counter counts continuously, quantised to its resolution, from its offset, wrapping at its maximum', () => {
    const r = sensorReadings({ kind: 'energy-counter', updatePeriodMs: 100, resolutionJ: 1, offsetJ: 50 }, constantTrace(12.34, 10));
    expect(r.value[10]).toBe(50 + 12); // 12.34 J after 1 s, floored to 1 J
    const wrap = sensorReadings({ kind: 'energy-counter', updatePeriodMs: 100, counterMaxJ: 1000 }, constantTrace(300, 10));
    expect(wrap.value[40]).toBeCloseTo(200, 6); // 1200 J wrapped at 1000 J
  });
  it('a poll returns the latest value published at or before it, and nothing before the first update', () => {
    const r = { kind: 'power' as const, updateS: Float64Array.from([1, 2, 3]), value: Float64Array.from([10, 20, 30]) };
    expect(poll(r, { startS: 0, endS: 3.5, intervalMs: 500 })).toEqual([
      { tS: 1, value: 10 }, { tS: 1.5, value: 10 }, { tS: 2, value: 20 }, { tS: 2.5, value: 20 }, { tS: 3, value: 30 }, { tS: 3.5, value: 30 },
    ]);
  });
});

describe('the lag each semantics implies', () => {
  it('is W/2 + D·U/2 for an average, U/2 + D·U/2 for a held instantaneous reading, and what a source declares', () => {
    expect(readingLagMs({ kind: 'windowed-average', averagingWindowMs: 1000, updatePeriodMs: 100 })).toBe(550);
    expect(readingLagMs({ kind: 'windowed-average', averagingWindowMs: 1000, updatePeriodMs: 100, dutyCyclePct: 25 })).toBe(512.5);
    expect(readingLagMs({ kind: 'instantaneous', updatePeriodMs: 100, dutyCyclePct: 25 })).toBe(62.5);
    expect(readingLagMs({ kind: 'instantaneous', updatePeriodMs: 50 })).toBe(0); // a replayed trace: as stamped
    expect(readingLagMs({ kind: 'windowed-average', averagingWindowMs: 1000, lagMs: 900 })).toBe(900);
    expect(semanticsOf({ kind: 'windowed-average', updatePeriodMs: 100, averagingWindowMs: 1000 }).lagMs).toBe(550);
  });
  it('shifting by it recovers the energy of a step that a plain trapezoid misses', () => {
    const step = makeTrace([0, 5], [100, 300], 20);
    const model = { kind: 'windowed-average' as const, updatePeriodMs: 100, averagingWindowMs: 1000 };
    const samples = simulateSamples(model, step, { startS: 0, endS: 20, intervalMs: 100, phaseMs: 37 });
    const truth = traceEnergyJ(step, 5, 15);
    const sem = semanticsOf(model);
    expect(methodFor(sem, samples).method).toBe('shifted-trapezoid');
    const corrected = windowEnergy(sem, samples, 5, 15).energyJ;
    const naive = windowEnergy({ kind: 'instantaneous' }, samples, 5, 15).energyJ;
    // what is left is the average's smoothing at the edge, R·W/8 = 25 J (the step sits on the window's start);
    // unshifted, the readings are 0.55 s late: 0.55 s × 200 W = 110 J
    expect(Math.abs(corrected - truth)).toBeLessThan(25 + 3);
    expect(truth - naive).toBeGreaterThan(100);
    expect(truth - naive).toBeLessThan(120);
  });
});

describe('counter stamping', () => {
  // a counter updated every 100 ms at 200 W, polled every 25 ms
  const polls = (from: number, to: number) => {
    const out: Array<{ tS: number; energyJ: number }> = [];
    for (let t = from; t <= to + 1e-9; t += 0.025) out.push({ tS: +t.toFixed(3), energyJ: 200 * Math.floor(t / 0.1 + 1e-9) * 0.1 });
    return out;
  };
  it('stamps each value half a poll before the poll that first showed it', () => {
    const pts = freshCounterPoints(polls(0, 1), 0.025, 0.1);
    const inner = pts.slice(1, -1);
    expect(inner[0]!.tS).toBeCloseTo(0.0875, 9);
    expect(inner[0]!.energyJ).toBe(20);
    expect(inner.every((p, i) => i === 0 || Math.abs(p.tS - inner[i - 1]!.tS - 0.1) < 1e-9)).toBe(true);
  });
  it('extrapolates to the first and last polls within what the counter allows', () => {
    const pts = freshCounterPoints(polls(0.05, 1.05), 0.025, 0.1);
    const first = pts[0]!, last = pts[pts.length - 1]!;
    expect(first.tS).toBe(0.05);
    // back along the slope from the first stamped update (20 J at 0.0875 s), within [shown 0 J, next 20 J]
    expect(first.energyJ).toBeCloseTo(20 - 200 * (0.0875 - 0.05), 6);
    expect(last.tS).toBe(1.05);
    expect(last.energyJ).toBeGreaterThanOrEqual(200);
    expect(last.energyJ).toBeLessThanOrEqual(220);
  });
  it('dates a value first seen after a gap in the polling to within half an update', () => {
    const raw = polls(0, 2).filter((p) => p.tS < 0.6 || p.tS > 1.2);
    const pts = freshCounterPoints(raw, 0.025, 0.1);
    // 240 J appeared at 1.2 s and was first seen at 1.225 s: no earlier than one update (0.1 s) before that
    const after = pts.find((p) => p.energyJ === 240)!;
    expect(after.tS).toBeCloseTo(1.175, 9);
    expect(Math.abs(after.tS - 1.2)).toBeLessThanOrEqual(0.05);
    expect(pts.find((p) => p.energyJ === 260)!.tS).toBeCloseTo(1.2875, 9);
    expect(pts.map((p) => p.tS)).toEqual([...pts.map((p) => p.tS)].sort((a, b) => a - b));
  });

  it('a window edge inside a polling gap gets the counter at its true rate, not held flat (0 W)', () => {
    // 300 W, updated every 100 ms, polled every 25 ms until a starved stretch: polls at 2.605, 2.687, 2.822, 3.046 s
    const at = (t: number) => ({ tS: t, energyJ: 300 * Math.floor(t / 0.1 + 1e-9) * 0.1 });
    const raw = [...Array.from({ length: 105 }, (_, i) => at(+(i * 0.025).toFixed(3))), at(2.687), at(2.822), at(3.046)];
    const pts = freshCounterPoints(raw, 0.025, 0.1);
    const energyAt = (t: number) => { // linear interpolation, as the integration does
      const j = pts.findIndex((p) => p.tS >= t);
      const a = pts[j - 1]!, b = pts[j]!;
      return a.energyJ + ((b.energyJ - a.energyJ) * (t - a.tS)) / (b.tS - a.tS);
    };
    const w = [1, 2.898] as const;
    const meanW = (energyAt(w[1]) - energyAt(w[0])) / (w[1] - w[0]);
    expect(Math.abs(meanW - 300) / 300).toBeLessThan(0.03);
  });
});

describe('variability and the error bound', () => {
  const sem100 = { kind: 'instantaneous' as const, updatePeriodMs: 100, dutyCyclePct: 100 };
  const base: BoundInput = {
    semantics: { kind: 'energy-counter', updatePeriodMs: 100, counterResolutionJ: 0.001 },
    method: { method: 'counter', shiftS: 0.0125, freshOnly: true }, windowS: 10, intervalMs: 25, meanPowerW: 250,
    variability: { minPowerW: 240, maxPowerW: 260, successiveSdW: 2 },
  };
  it('update-to-update variability ignores slow steps but sees a load that alternates', () => {
    const mk = (f: (i: number) => number): Sample[] => Array.from({ length: 200 }, (_, i) => ({ tS: i * 0.1, sourceId: 's', deviceId: 'd', powerW: f(i) }));
    const slow = observedVariability(mk((i) => (i < 100 ? 100 : 300)), 0, 20, { useCounter: false, updatePeriodMs: 100 })!;
    const fast = observedVariability(mk((i) => (i % 2 ? 100 : 300)), 0, 20, { useCounter: false, updatePeriodMs: 100 })!;
    expect(slow.maxPowerW - slow.minPowerW).toBe(200);
    expect(slow.successiveSdW).toBeLessThan(12);
    expect(fast.successiveSdW).toBeGreaterThan(100);
  });
  it('shrinks with the window and grows with what the sensor leaves unobserved', () => {
    const b10 = energyErrorBound(base).boundPct, b30 = energyErrorBound({ ...base, windowS: 30 }).boundPct;
    expect(b30).toBeLessThan(b10);
    expect(b10 / b30).toBeCloseTo(3, 1); // a counter's error lives at the edges
    const full = energyErrorBound({ ...base, semantics: sem100, method: { method: 'shifted-trapezoid', shiftS: 0.1 }, intervalMs: 100, variability: { minPowerW: 100, maxPowerW: 350, successiveSdW: 90 } });
    const part = energyErrorBound({ ...base, semantics: { ...sem100, dutyCyclePct: 25 }, method: { method: 'shifted-trapezoid', shiftS: 0.0625 }, intervalMs: 100, variability: { minPowerW: 100, maxPowerW: 350, successiveSdW: 90 } });
    const slow = energyErrorBound({ ...base, semantics: sem100, method: { method: 'shifted-trapezoid', shiftS: 0.1 }, intervalMs: 1000, variability: { minPowerW: 100, maxPowerW: 350, successiveSdW: 90 } });
    expect(full.terms.coveragePct).toBe(0);
    expect(full.observedPct).toBe(100);
    expect(part.observedPct).toBe(25);
    expect(part.terms.coveragePct).toBeGreaterThan(1);
    expect(slow.observedPct).toBeCloseTo(10, 9); // one update in ten is ever read
    expect(slow.boundPct).toBeGreaterThan(part.boundPct);
    expect(part.worstCasePct).toBeGreaterThan(part.boundPct);
  });
  it('charges an uncorrected lag', () => {
    const v = { minPowerW: 100, maxPowerW: 300, successiveSdW: 5 };
    const avg = { kind: 'windowed-average' as const, updatePeriodMs: 100, averagingWindowMs: 1000 };
    const shifted = energyErrorBound({ ...base, semantics: avg, method: { method: 'shifted-trapezoid', shiftS: 0.55 }, intervalMs: 100, variability: v });
    const plain = energyErrorBound({ ...base, semantics: avg, method: { method: 'trapezoid', shiftS: 0 }, intervalMs: 100, variability: v });
    expect(plain.terms.edgePct - shifted.terms.edgePct).toBeCloseTo((100 * 0.55 * 200) / 2500, 6);
  });
});
