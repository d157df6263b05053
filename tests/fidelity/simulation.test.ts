// The simulation suite: ground-truth traces (constant, steps, bursts of 10–500 ms, the real H100 logs) through
// every sensor model, integrated by analyse() exactly as a run integrates, against the exact energy. It holds the
// issue's targets and the stated error bounds; bench/fidelity.ts prints the same cases as a table.
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { NVIDIA_FIXTURES, SENSORS, realTraces, runCase, syntheticTraces, within, worstCaseOf, type CaseSummary, type SensorCase, type TraceCase } from './cases.js';

const WINDOWS_S = [10, 30];
const synthetic = syntheticTraces();

function matrix(traces: TraceCase[], windows: number[]): CaseSummary[] {
  const out: CaseSummary[] = [];
  for (const tc of traces) for (const w of windows) for (const s of SENSORS) { const c = runCase(s, tc, w); if (c) out.push(c); }
  return out;
}
const cases = matrix(synthetic, WINDOWS_S);
const pick = (sensor: string, pred: (c: CaseSummary) => boolean = () => true) => cases.filter((c) => c.sensor.id === sensor && pred(c));
const label = (c: CaseSummary) => `${c.trace.id} ${c.windowS}s ${c.sensor.id}: harness ${c.maxHarnessPct.toFixed(3)}%, naive ${c.maxNaivePct.toFixed(3)}%, bound ${c.minBoundPct.toFixed(2)}–${c.maxBoundPct.toFixed(2)}%`;

describe('targets: under 1% on windows of 10 s and more', () => {
  it('the energy counter, integrated by first appearance, on every trace', () => {
    const counter = pick('counter');
    expect(counter.length).toBe(synthetic.length * WINDOWS_S.length);
    for (const c of counter) expect(c.maxHarnessPct, label(c)).toBeLessThan(1);
    // stamping each value where it first appeared halves the worst case (about 0.9% without it, on 100–500 ms bursts)
    expect(Math.max(...counter.map((c) => c.maxHarnessPct))).toBeLessThan(0.6);
    expect(counter.every((c) => c.trials.every((t) => t.method === 'counter' && t.fidelity.grade === 'A'))).toBe(true);
  });
  it('a full-coverage instantaneous sensor read at its update period and shifted by its lag, on every trace', () => {
    for (const c of pick('instant-100')) expect(c.maxHarnessPct, label(c)).toBeLessThan(1);
  });
  it('a full-coverage 1 s average shifted by its lag: under 1% from 30 s, and within its bound at 10 s', () => {
    // A 1 s boxcar cannot see a load periodic at a divisor of 1 s at all; what is left at each window edge is its
    // smoothing, up to R·W/8: with 0.5 s bursts that is about 1.3% of a 10 s window, and no integration removes it.
    for (const c of pick('average-1s', (c) => c.windowS >= 30)) expect(c.maxHarnessPct, label(c)).toBeLessThan(1);
    for (const c of pick('average-1s')) for (const t of c.trials) expect(within(t, t.boundPct!), label(c)).toBe(true);
  });
  it('the correction beats the naive habit (1 s polling, no shift) where the load moves', () => {
    for (const sensor of ['average-1s', 'instant-100', 'h100-instant']) {
      const steps = pick(sensor, (c) => c.trace.id === 'steps' && c.windowS === 10)[0]!;
      expect(steps.maxHarnessPct, label(steps)).toBeLessThan(steps.maxNaivePct / 3);
    }
    const slowBursts = pick('instant-100', (c) => c.trace.id === 'bursts-500ms-irregular' && c.windowS === 10)[0]!;
    expect(slowBursts.maxNaivePct, label(slowBursts)).toBeGreaterThan(5);
    expect(slowBursts.maxHarnessPct, label(slowBursts)).toBeLessThan(1);
  });
});

describe('the stated error bound holds', () => {
  it('for every sensor, trace and window where the load has no rhythm locked to the sensor', () => {
    const free = cases.filter((c) => !c.trace.locked);
    expect(free.length).toBeGreaterThan(50);
    for (const c of free) for (const t of c.trials) expect(within(t, t.boundPct ?? Infinity), `${label(c)}: trial ${t.errHarnessPct.toFixed(3)}% > ${t.boundPct}%`).toBe(true);
  });
  it('and the worst case it states holds for loads locked to the sensor cycle', () => {
    for (const c of cases.filter((c) => c.trace.locked)) for (const t of c.trials) expect(within(t, worstCaseOf(t.fidelity)), label(c)).toBe(true);
  });
  it('a part-time sensor misreads a locked load badly, and the result says how badly it could', () => {
    // the H100's 25 ms-in-100 ms sensor on 100 ms bursts sees one phase of every burst: tens of percent off
    const locked = pick('h100-instant', (c) => c.trace.id === 'bursts-100ms-periodic')[0]!;
    expect(locked.maxHarnessPct, label(locked)).toBeGreaterThan(20);
    const t = locked.trials[0]!;
    expect(t.fidelity.notes?.some((n) => /observed 25(\.0+)?% of the time/.test(n) && /could be off by up to/.test(n))).toBe(true);
    expect(worstCaseOf(t.fidelity)).toBeGreaterThan(locked.maxHarnessPct);
    // the counter on the same load: exact but for its edges
    expect(pick('counter', (c) => c.trace.id === 'bursts-100ms-periodic').every((c) => c.maxHarnessPct < 0.2)).toBe(true);
  });
  it('grades follow what was measured: A for the counter, B for a corrected sensor, C once the bound passes 10%', () => {
    const grades = (sensor: string) => new Set(pick(sensor).flatMap((c) => c.trials.map((t) => t.fidelity.grade)));
    expect([...grades('counter')]).toEqual(['A']);
    expect([...grades('instant-100')]).toEqual(['B']);
    for (const c of cases) for (const t of c.trials) {
      if (t.fidelity.grade === 'C') expect(t.boundPct!).toBeGreaterThanOrEqual(10);
      else expect(t.boundPct!).toBeLessThan(10);
    }
  });
});

const real = realTraces();
if (!existsSync(NVIDIA_FIXTURES)) console.log(`note: ${NVIDIA_FIXTURES} is absent; the real H100 traces are skipped`);
describe.skipIf(real.length === 0)('the real H100 logs (power.draw.instant as ground truth)', () => {
  const realCases = matrix(real, [10, 30, 60]);
  it('counter and full-coverage corrected methods stay under 1%, and every figure within its bound', () => {
    expect(realCases.length).toBeGreaterThan(SENSORS.length * 2);
    const full = (s: SensorCase) => s.fullCoverage && s.id !== 'average-1s';
    for (const c of realCases) {
      if (full(c.sensor)) expect(c.maxHarnessPct, label(c)).toBeLessThan(1);
      for (const t of c.trials) expect(within(t, t.boundPct ?? Infinity), label(c)).toBe(true);
    }
    for (const c of realCases.filter((c) => c.sensor.id === 'average-1s')) expect(c.maxHarnessPct, label(c)).toBeLessThan(1);
  });
});
