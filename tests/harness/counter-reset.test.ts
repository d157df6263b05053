// A counter that resets mid-run (a driver reload): the window holding the reset keeps its whole energy when power
// readings cover the stretch, says so in its warning, and the other windows carry no warning.
import { describe, expect, it } from 'vitest';
import { analyse, type AnalysisInput, type RepetitionRaw } from '../../harness/analyse.js';
import type { Sample } from '../../results/samples.js';

const RESET_AT_S = 10.15; // between the readings at 10.1 and 10.2 s

function input(withPower: boolean): AnalysisInput {
  const samples: Sample[] = [];
  for (let i = 0; i <= 200; i++) {
    const t = i * 0.1;
    // 200 W throughout; the counter starts again from 0 at RESET_AT_S
    const energyJ = t < RESET_AT_S ? 5000 + 200 * t : 200 * (t - RESET_AT_S);
    samples.push({ tS: t, sourceId: 'sim', deviceId: 'sim:0', energyJ, ...(withPower ? { powerW: 200 } : {}) });
  }
  const windows: Array<[number, number]> = [[2, 7], [8, 13], [14, 19]];
  const repetitions: RepetitionRaw[] = windows.map(([a, b], index) => ({
    index, status: 'ok', phases: [{ phase: 'window', startS: a, endS: b }], window: { startS: a, endS: b }, tokens: { total: 1000 }, metrics: [], protocolErrors: 0, truncatedLines: 0,
  }));
  return {
    source: { id: 'sim', scope: 'device', semantics: { kind: 'energy-counter', updatePeriodMs: 100 }, deviceIds: ['sim:0'], requestedIntervalMs: 100, restarts: 0, gaps: [] },
    devices: [{ id: 'sim:0', index: 0, vendor: 'sim', name: 'sim' }], samples, idle: null, repetitions, interrupted: false, repetitionsRequested: 3,
  };
}

describe('energy counter reset', () => {
  it('with power readings: the stretch is taken from power, the energy is whole, only that window is warned', () => {
    const a = analyse(input(true));
    expect(a.repetitions.map((r) => r.figures!.energyJ)).toEqual([expect.closeTo(1000, 6), expect.closeTo(1000, 6), expect.closeTo(1000, 6)]);
    const w = a.warnings.filter((x) => x.code === 'COUNTER_RESET');
    expect(w.map((x) => x.repetition)).toEqual([1]);
    expect(w[0]!.message).toMatch(/0\.10 s at 10\.10 s\) was integrated from the power readings/);
  });
  it('without power readings: the energy since the reset only, a lower bound, and the warning says so', () => {
    const a = analyse(input(false));
    // the 0.05 s before the reset (10.1 → 10.15 s at 200 W) are lost
    expect(a.repetitions[1]!.figures!.energyJ).toBeCloseTo(1000 - 200 * 0.05, 6);
    const w = a.warnings.filter((x) => x.code === 'COUNTER_RESET');
    expect(w.map((x) => x.repetition)).toEqual([1]);
    expect(w[0]!.message).toMatch(/lower bound/);
  });
});
