// The fidelity simulation: ground-truth power traces → each sensor model → polled samples → the harness's own
// integration (analyse(), so methodFor's choice and correction are the ones a run uses) and a naive integration
// beside it → error against the exact energy. Shared by tests/fidelity/*.test.ts and bench/fidelity.ts.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyse } from '../../harness/analyse.js';
import { integrateCounter, integratePower } from '../../harness/energy.js';
import {
  burstTrace, constantTrace, makeTrace, rng, semanticsOf, simulateSamples, traceEnergyJ, traceFromReadings,
  type PowerTrace, type SensorModel,
} from '../../harness/sensor-model.js';
import { parseNumber } from '../../drivers/driver.js';
import type { Fidelity } from '../../results/types.gen.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const NVIDIA_FIXTURES = join(ROOT, '..', 'shared', 'fixtures', 'nvidia');

export interface SensorCase {
  id: string;
  title: string;
  model: SensorModel;
  /** Poll interval the harness uses for it, ms. */
  harnessIntervalMs: number;
  /** Whether the corrected figure must stay under 1% on windows ≥ 10 s (the sensor observes all of the time). */
  fullCoverage: boolean;
}

export const SENSORS: SensorCase[] = [
  { id: 'counter', title: 'energy counter, 100 ms, 1 mJ (NVML total energy)', model: { kind: 'energy-counter', updatePeriodMs: 100, resolutionJ: 0.001 }, harnessIntervalMs: 25, fullCoverage: true },
  { id: 'average-1s', title: '1 s average, 100 ms updates, full coverage', model: { kind: 'windowed-average', updatePeriodMs: 100, averagingWindowMs: 1000, dutyCyclePct: 100 }, harnessIntervalMs: 100, fullCoverage: true },
  { id: 'instant-100', title: 'instantaneous, 100 ms updates, full coverage', model: { kind: 'instantaneous', updatePeriodMs: 100, dutyCyclePct: 100 }, harnessIntervalMs: 100, fullCoverage: true },
  { id: 'h100-average', title: 'H100 power.draw: 1 s average of 25 ms-in-100 ms observations', model: { kind: 'windowed-average', updatePeriodMs: 100, averagingWindowMs: 1000, dutyCyclePct: 25 }, harnessIntervalMs: 100, fullCoverage: false },
  { id: 'h100-instant', title: 'H100 power.draw.instant: 25 ms of every 100 ms', model: { kind: 'instantaneous', updatePeriodMs: 100, dutyCyclePct: 25 }, harnessIntervalMs: 100, fullCoverage: false },
];

/** The habit the corrected methods are compared with: `nvidia-smi -l 1`, trapezoid, no correction. */
export const NAIVE_INTERVAL_MS = 1000;

export interface TraceCase {
  id: string;
  title: string;
  trace: PowerTrace;
  /**
   * Periodic on (or near) a multiple or divisor of the sensor's 100 ms: the errors of successive readings add up,
   * so only the worst case holds, not the statistical bound.
   */
  locked: boolean;
  /** Where windows may start, s (the first leaves the sensors' averaging windows some history). */
  windowStartsS: number[];
  source?: string;
}

function steps(): PowerTrace {
  // idle, then the load comes on exactly at 3 s (a window edge) and changes level every 2.5 s
  const levels = [300, 180, 350, 120, 260, 330, 90, 240];
  const t = [0], p = [60];
  for (let i = 0, s = 3; s < 75; i++, s += 2.5) { t.push(s); p.push(levels[i % levels.length]!); }
  return makeTrace(t, p, 75);
}

export const BURST_PERIODS_MS = [10, 20, 50, 100, 200, 500];

export function syntheticTraces(): TraceCase[] {
  const out: TraceCase[] = [
    { id: 'constant', title: 'constant 250 W', trace: constantTrace(250, 75), locked: false, windowStartsS: [2, 3.37, 5.81] },
    { id: 'steps', title: 'steps 60–350 W every 2.5 s, load on at a window edge', trace: steps(), locked: false, windowStartsS: [3, 4.2, 7.77] },
  ];
  const starts = [2, 3.37, 5.81];
  for (const periodMs of BURST_PERIODS_MS) {
    out.push({ id: `bursts-${periodMs}ms-irregular`, title: `bursts, mean period ${periodMs} ms, each stretch 0.5–1.5× (350 W / 100 W)`, trace: burstTrace({ periodMs, highW: 350, lowW: 100, durationS: 75, irregular: true, seed: periodMs }), locked: false, windowStartsS: starts });
    out.push({ id: `bursts-${periodMs}ms-periodic`, title: `bursts every ${periodMs} ms, strictly periodic (locked to the sensor)`, trace: burstTrace({ periodMs, highW: 350, lowW: 100, durationS: 75 }), locked: true, windowStartsS: starts });
  }
  // a rhythm near the sensor's own (a decode step of ~100 ms with ±10% jitter) drifts through its phase slowly
  out.push({ id: 'bursts-100ms-jitter10', title: 'bursts every 100 ms ± 10% (nearly locked)', trace: burstTrace({ periodMs: 100, highW: 350, lowW: 100, durationS: 75, jitterPct: 10, seed: 3 }), locked: true, windowStartsS: starts });
  return out;
}

/** nvidia-smi --format=csv timestamp → seconds (the clock's zone does not matter for differences). */
function timestampS(s: string): number {
  const m = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3})$/.exec(s.trim());
  if (!m) return NaN;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!) / 1000;
}

/** The power.draw.instant column of an nvidia-smi CSV log as (time, power) readings. */
export function instantColumn(text: string): Array<{ tS: number; powerW: number }> {
  const lines = text.split(/\r?\n/).filter((l) => l.trim());
  const header = lines[0]!.split(', ').map((h) => h.trim());
  const ti = header.indexOf('timestamp'), pi = header.findIndex((h) => h.startsWith('power.draw.instant'));
  if (ti < 0 || pi < 0) throw new Error('no timestamp or power.draw.instant column');
  const out: Array<{ tS: number; powerW: number }> = [];
  for (const line of lines.slice(1)) {
    const cells = line.split(', ');
    const tS = timestampS(cells[ti] ?? ''), p = parseNumber(cells[pi]);
    if (Number.isFinite(tS) && p !== undefined) out.push({ tS, powerW: p });
  }
  return out;
}

/** The real H100 logs (power.draw.instant as ground truth); empty when ../shared is absent. */
export function realTraces(): TraceCase[] {
  if (!existsSync(NVIDIA_FIXTURES)) return [];
  return readdirSync(NVIDIA_FIXTURES).filter((f) => /^yqg9651-.*\.csv$/.test(f)).sort().map((f) => {
    const trace = traceFromReadings(instantColumn(readFileSync(join(NVIDIA_FIXTURES, f), 'utf8')));
    const span = trace.endS;
    const starts = [1.5, span * 0.3, span * 0.55].filter((s, i) => i === 0 || s + 10 < span);
    return { id: f.replace(/^yqg9651-cuda_test__/, '').replace(/\.csv$/, ''), title: `H100 PCIe log ${f}`, trace, locked: false, windowStartsS: starts, source: f };
  });
}

export interface Trial {
  truthJ: number;
  measuredJ: number;
  errHarnessPct: number;
  errNaivePct: number;
  boundPct: number | null;
  fidelity: Fidelity;
  method: string;
}

/** One simulated measurement: the sensor at a random phase, polled, a window analysed. */
export function trial(sensor: SensorCase, tc: TraceCase, windowS: number, startS: number, seed: number): Trial | null {
  const endS = startS + windowS;
  if (endS > tc.trace.endS - 1.2) return null;
  const rand = rng(seed);
  const model = { ...sensor.model, phaseMs: rand() * sensor.model.updatePeriodMs } as SensorModel;
  const sem = semanticsOf(model);
  const truth = traceEnergyJ(tc.trace, startS, endS);
  // sample from the trace's start to past the window, as a run's sampler does (idle baseline … cooldown)
  const span = { startS: 0, endS: Math.min(tc.trace.endS, endS + 1.1), jitterMs: 3 };
  const samples = simulateSamples(model, tc.trace, { ...span, intervalMs: sensor.harnessIntervalMs, phaseMs: rand() * sensor.harnessIntervalMs, seed: seed + 1 });
  const a = analyse({
    source: { id: 'sim', scope: 'device', semantics: sem, deviceIds: ['sim:0'], requestedIntervalMs: sensor.harnessIntervalMs, restarts: 0, gaps: [] },
    // the device's power limit: the most its unobserved time can hold (here, the trace's peak)
    devices: [{ id: 'sim:0', index: 0, vendor: 'sim', name: sensor.id, powerLimitW: Math.max(...tc.trace.powerW) }],
    samples,
    idle: null,
    repetitions: [{ index: 0, status: 'ok', phases: [{ phase: 'window', startS, endS }], window: { startS, endS }, tokens: { total: 1000 }, metrics: [], protocolErrors: 0, truncatedLines: 0 }],
    interrupted: false,
    repetitionsRequested: 1,
  });
  const rep = a.repetitions[0]!;
  const measured = rep.figures!.energyJ;
  // naive: polled once a second, integrated as is
  const slow = simulateSamples(model, tc.trace, { ...span, intervalMs: NAIVE_INTERVAL_MS, phaseMs: rand() * NAIVE_INTERVAL_MS, seed: seed + 2 });
  const naive = sensor.model.kind === 'energy-counter'
    ? integrateCounter(slow.map((s) => ({ tS: s.tS, energyJ: s.energyJ! })), startS, endS).energyJ
    : integratePower(slow.map((s) => ({ tS: s.tS, powerW: s.powerW! })), startS, endS).energyJ;
  return {
    truthJ: truth, measuredJ: measured,
    errHarnessPct: (100 * (measured - truth)) / truth,
    errNaivePct: (100 * (naive - truth)) / truth,
    boundPct: a.fidelity.energyErrorBoundPct,
    fidelity: a.fidelity,
    method: rep.devices[0]!.method,
  };
}

export interface CaseSummary {
  sensor: SensorCase;
  trace: TraceCase;
  windowS: number;
  trials: Trial[];
  maxHarnessPct: number;
  maxNaivePct: number;
  /** Smallest bound stated across the trials (the test checks each trial against its own). */
  minBoundPct: number;
  maxBoundPct: number;
  /** Trials whose error exceeded the statistical bound. */
  outside: number;
  /** Trials whose error exceeded the phase-locked worst case. */
  outsideWorst: number;
}

/** The worst case a result states in its notes (the bound itself when it states none: full coverage). */
export const worstCaseOf = (f: Fidelity): number => {
  const m = f.notes?.map((n) => /could be off by up to ([\d.]+)%/.exec(n)).find(Boolean);
  return m ? Number(m[1]) : (f.energyErrorBoundPct ?? Infinity);
};

/** The bound is stated on the measured figure: the truth lies within ± bound% of it (plus float rounding). */
export function within(t: Trial, boundPct: number): boolean {
  return Math.abs(t.measuredJ - t.truthJ) <= (boundPct / 100) * Math.abs(t.measuredJ) + 1e-9 * Math.abs(t.truthJ);
}

/** Every start × several sensor and poll phases for one sensor, trace and window length. */
export function runCase(sensor: SensorCase, tc: TraceCase, windowS: number, phases = 4): CaseSummary | null {
  const trials: Trial[] = [];
  tc.windowStartsS.forEach((startS, si) => {
    for (let k = 0; k < phases; k++) {
      const t = trial(sensor, tc, windowS, startS, 1000 * si + 17 * k + Math.round(windowS));
      if (t) trials.push(t);
    }
  });
  if (!trials.length) return null;
  const abs = (xs: number[]) => Math.max(...xs.map(Math.abs));
  const bounds = trials.map((t) => t.boundPct ?? Infinity);
  return {
    sensor, trace: tc, windowS, trials,
    maxHarnessPct: abs(trials.map((t) => t.errHarnessPct)),
    maxNaivePct: abs(trials.map((t) => t.errNaivePct)),
    minBoundPct: Math.min(...bounds), maxBoundPct: Math.max(...bounds),
    outside: trials.filter((t) => !within(t, t.boundPct ?? Infinity)).length,
    outsideWorst: trials.filter((t) => !within(t, worstCaseOf(t.fidelity))).length,
  };
}
