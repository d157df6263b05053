// How far to trust a run's energy: a grade from what was measured and how, plus a bound on the energy error from
// the sensor model (harness/sensor-model.ts), so reports rank only comparable runs together.
//   A: device energy counter;
//   B: device sensor read at its update rate (instantaneous, or a windowed average corrected for its lag);
//   C: averaged-uncorrected, host/node scope, windows shorter than 10 sensor updates, samples covering less than
//      90% of a window, or an error bound above 10%;
//   D: estimated.
import type { Fidelity, Semantics } from '../results/types.gen.js';
import type { Scope } from '../drivers/driver.js';
import { energyErrorBound, type ErrorBound, type Variability } from './sensor-model.js';
import { repetitionName } from '../results/warnings.js';

/** One device's measured window, as analyse.ts saw it. */
export interface FidelityWindow {
  repetition: number;
  deviceId: string;
  durationS: number;
  /** Energy / duration, W. */
  meanPowerW: number;
  /** Median spacing of that device's polls, ms. */
  intervalMs: number;
  /** The integration chosen for it (analyse.ts methodFor). */
  choice: { method: string; shiftS: number; freshOnly?: boolean };
  variability: Pick<Variability, 'minPowerW' | 'maxPowerW' | 'successiveSdW'>;
  /** False for a window shorter than 10 sensor updates (no headline figure). */
  headline: boolean;
  /** The device's power limit, W, where known (bounds what the sensor may have missed). */
  powerLimitW?: number;
}

export interface FidelityInput {
  scope: Scope;
  semantics: Semantics;
  method: 'trapezoid' | 'counter' | 'shifted-trapezoid' | 'step';
  achievedIntervalMs: number | null;
  shortestWindowS: number | null;
  coverageMinPct: number | null;
  /** Per device and window; without them the bound falls back to the sampling-only estimate. */
  windows?: FidelityWindow[];
}

/** Error bound (%) at or above which a figure drops to grade C. */
export const GRADE_C_BOUND_PCT = 10;

const GRADE_RANK: Record<Fidelity['grade'], number> = { A: 0, B: 1, C: 2, D: 3 };
const atLeast = (g: Fidelity['grade'], floor: Fidelity['grade']): Fidelity['grade'] => (GRADE_RANK[g] >= GRADE_RANK[floor] ? g : floor);

/** Whether two results may be ranked together: the same grade. */
export function comparableFidelity(a: Fidelity | undefined, b: Fidelity | undefined): boolean {
  return a !== undefined && b !== undefined && a.grade === b.grade;
}

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

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
    notes.push(f.method === 'shifted-trapezoid' ? `${f.semantics.kind} readings shifted back by the sensor lag, then integrated` : 'instantaneous readings integrated with the trapezoid rule');
    if (f.semantics.dutyCyclePct !== undefined && f.semantics.dutyCyclePct < 100) notes.push(`the sensor observes ${f.semantics.dutyCyclePct}% of the time; short bursts can be missed`);
  } else {
    grade = 'C';
    if (f.scope !== 'device') notes.push(`scope is ${f.scope}: includes more than the accelerator`);
    else notes.push(`${f.semantics.kind} readings integrated without correction`);
  }
  if (update !== null && f.shortestWindowS !== null && f.shortestWindowS * 1000 < 10 * update) {
    grade = atLeast(grade, 'C');
    notes.push('a window covered fewer than 10 sensor updates');
  }
  if (f.coverageMinPct !== null && f.coverageMinPct < 90) {
    grade = atLeast(grade, 'C');
    notes.push(`samples covered only ${f.coverageMinPct.toFixed(0)}% of a window`);
  }

  let bound: number | null = null;
  if (grade !== 'D') {
    const windows = f.windows ?? [];
    // the bound applies to any one repetition's energy: the worst headline window (all windows if none is)
    const pool = windows.some((w) => w.headline) ? windows.filter((w) => w.headline) : windows;
    let worst: { w: FidelityWindow; b: ErrorBound } | undefined;
    for (const w of pool) {
      const b = energyErrorBound({ semantics: f.semantics, method: w.choice, windowS: w.durationS, intervalMs: w.intervalMs, meanPowerW: w.meanPowerW, variability: w.variability, ...(w.powerLimitW !== undefined ? { powerLimitW: w.powerLimitW } : {}) });
      if (Number.isFinite(b.boundPct) && (!worst || b.boundPct > worst.b.boundPct)) worst = { w, b };
    }
    if (worst) {
      bound = worst.b.boundPct;
      const t = worst.b.terms;
      notes.push(`energy error bound ${fmt(bound)}% (${repetitionName(worst.w.repetition)}, ${worst.w.deviceId}): edges ${fmt(t.edgePct)}%, unobserved time ${fmt(t.coveragePct)}%${t.resolutionPct > 0 ? `, resolution ${fmt(t.resolutionPct)}%` : ''}; calibration not included`);
      if (worst.b.observedPct < 100) {
        notes.push(`the readings observed ${fmt(worst.b.observedPct)}% of the time; the bound assumes the load is not locked in phase to the sensor's ${update ?? '?'} ms cycle — a load that is could be off by up to ${fmt(worst.b.worstCasePct)}%`);
      }
      if (bound >= GRADE_C_BOUND_PCT && grade !== 'C') {
        grade = atLeast(grade, 'C');
        notes.push(`error bound above ${GRADE_C_BOUND_PCT}%: ${f.semantics.kind === 'energy-counter' ? 'lengthen the window' : 'use an energy counter (e.g. --source nvml) or lengthen the window'}`);
      }
    } else if (update !== null && f.shortestWindowS) {
      // no readings to judge variability by: half an update period of unknown power at each window edge
      bound = (100 * (update / 1000)) / f.shortestWindowS;
    }
  }
  return { grade, method: `${f.method} over ${f.semantics.kind} readings`, energyErrorBoundPct: bound, notes };
}
