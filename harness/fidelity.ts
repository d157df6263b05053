// How far to trust a run's energy: a grade from what was measured and how, so reports rank only comparable runs
// together. A: device energy counter; B: device sensor read at its update rate (instantaneous, or a windowed
// average corrected for its lag); C: coarse, averaged-uncorrected, host/node scope, or windows too short;
// D: estimated.
import type { Fidelity, Semantics } from '../results/types.gen.js';
import type { Scope } from '../drivers/driver.js';

export interface FidelityInput {
  scope: Scope;
  semantics: Semantics;
  method: 'trapezoid' | 'counter' | 'shifted-trapezoid' | 'step';
  achievedIntervalMs: number | null;
  shortestWindowS: number | null;
  coverageMinPct: number | null;
}

export function gradeFidelity(f: FidelityInput): Fidelity {
  const notes: string[] = [];
  let grade: Fidelity['grade'];
  const update = f.semantics.updatePeriodMs ?? f.achievedIntervalMs ?? null;
  if (f.scope === 'estimated' || f.semantics.kind === 'estimated') {
    grade = 'D';
    notes.push('power is estimated from utilization, not measured');
  } else if (f.method === 'counter' && f.scope === 'device') {
    grade = 'A';
    notes.push('energy counter on the device, differenced across the window');
  } else if (f.scope === 'device' && (f.semantics.kind === 'instantaneous' || f.method === 'shifted-trapezoid')) {
    grade = 'B';
    notes.push(f.method === 'shifted-trapezoid' ? 'windowed-average readings shifted back by the sensor lag, then integrated' : 'instantaneous readings integrated with the trapezoid rule');
    if (f.semantics.dutyCyclePct !== undefined && f.semantics.dutyCyclePct < 100) notes.push(`the sensor observes ${f.semantics.dutyCyclePct}% of the time; short bursts can be missed`);
  } else {
    grade = 'C';
    if (f.scope !== 'device') notes.push(`scope is ${f.scope}: includes more than the accelerator`);
    else notes.push(`${f.semantics.kind} readings integrated without correction`);
  }
  if (update !== null && f.shortestWindowS !== null && f.shortestWindowS * 1000 < 10 * update) {
    if (grade < 'C') grade = 'C';
    notes.push('a window covered fewer than 10 sensor updates');
  }
  if (f.coverageMinPct !== null && f.coverageMinPct < 90 && grade < 'C') {
    grade = 'C';
    notes.push(`samples covered only ${f.coverageMinPct.toFixed(0)}% of a window`);
  }
  // Bound on the integration error from sampling alone: half an update period of unknown power at each window
  // edge, relative to the window. Sensor calibration error is not included (vendor figures: ±5 W on NVIDIA).
  let bound: number | null = null;
  if (grade !== 'D' && update !== null && f.shortestWindowS) bound = (100 * (update / 1000)) / f.shortestWindowS;
  return { grade, method: `${f.method} over ${f.semantics.kind} readings`, energyErrorBoundPct: bound, notes };
}
