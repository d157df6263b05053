// Step 7 of a run, as a pure function: samples + workload events → per-repetition figures, statistics across
// repetitions, warnings, fidelity. Kept apart from the run so an analysis can be redone from raw samples alone.
import type { Device, DevicePower, Gap, Idle, Metric, Repetition, Semantics, Source, Summary, Warning, Fidelity } from '../results/types.gen.js';
import type { Sample } from '../results/samples.js';
import type { Scope } from '../drivers/driver.js';
import { integrateCounter, integrateSeries, peakOfSum, unwrapCounter, toSeries, idleSubtracted, efficiency, medianSpacing, type Series, type UnwrappedCounter, type CounterReset } from './energy.js';
import { describe, percentile } from './stats.js';
import { gradeFidelity, type FidelityWindow } from './fidelity.js';
import { firstAppearances, freshCounterPoints, observedVariability, readingLagMs, repeatedShare } from './sensor-model.js';
import { WARNING_TEXT, repetitionName, type WarningCode } from '../results/warnings.js';
import { DiagnosticsFold } from '../results/diagnostics.js';

const atSentenceStart = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

export interface SourceRun {
  id: string;
  scope: Scope;
  semantics: Semantics;
  deviceIds: string[];
  requestedIntervalMs: number;
  command?: string[];
  restarts: number;
  gaps: Gap[];
  note?: string;
}

export interface RepetitionRaw {
  index: number;
  status: 'ok' | 'failed' | 'interrupted';
  error?: { code: string; message: string; stderrTail?: string };
  phases: Repetition['phases'];
  window: { startS: number; endS: number } | null;
  tokens: { total: number; input?: number; output?: number } | null;
  metrics: Metric[];
  exit?: { exitCode: number | null; signal: string | null };
  /** Structured details the workload returned (serving records), kept verbatim in the result. */
  details?: Record<string, unknown>;
  protocolErrors: number;
  truncatedLines: number;
}

export interface AnalysisInput {
  source: SourceRun;
  devices: Device[];
  samples: readonly Sample[];
  idle: { startS: number; endS: number } | null;
  repetitions: RepetitionRaw[];
  interrupted: boolean;
  repetitionsRequested: number;
  targetCiPct?: number;
  maxRepetitions?: number;
}

export interface AnalysisOutput {
  source: Source;
  idle: Idle | null;
  repetitions: Repetition[];
  summary: Summary | null;
  warnings: Warning[];
  fidelity: Fidelity;
  status: 'ok' | 'failed' | 'interrupted';
}

const HIGH_CV_PCT = 5;
const HIGH_IDLE_SHARE = 0.5;
const MIN_UPDATES_PER_WINDOW = 10;

/** What a counter reset inside a window did to its energy, in words. */
function resetMessage(resets: readonly CounterReset[]): string {
  const unbridged = resets.filter((x) => x.bridged === 'since-reset');
  const span = (x: CounterReset) => `${(x.toS - x.fromS).toFixed(2)} s at ${x.fromS.toFixed(2)} s`;
  const head = `The energy counter went backwards ${resets.length === 1 ? 'once' : `${resets.length} times`} in this window (driver reload or reset)`;
  if (unbridged.length === 0) return `${head}; the stretch across ${resets.length === 1 ? 'it' : 'each'} (${resets.map(span).join(', ')}) was integrated from the power readings.`;
  return `${head}; no power readings cover ${unbridged.map(span).join(', ')}, so there only the energy since the reset was counted: the window's energy is a lower bound.`;
}

function warn(code: WarningCode, extra: Partial<Warning> = {}, message = WARNING_TEXT[code]): Warning {
  return { code, message, ...extra };
}

export interface MethodChoice {
  method: DevicePower['method'];
  /** Readings are moved this much earlier before integrating (the sensor's lag, or half a poll of staleness). */
  shiftS: number;
  /** Counter values are stamped at the poll where they first appeared (the poller outpaces the sensor). */
  freshOnly?: boolean;
}

/**
 * Which integration a source's semantics call for, with its correction (harness/sensor-model.ts models each):
 *  - an energy counter wherever the samples carry one. Polled faster than it refreshes (many exact repeats), each
 *    value is kept at the poll where it first appeared and moved back half a poll: it is then at most half a poll
 *    off the update instead of up to a whole update period;
 *  - a windowed average, shifted back by its lag (declared, or W/2 + D·U/2);
 *  - an instantaneous reading, shifted back by its lag where the source declares one or a duty cycle (a real,
 *    held sensor: on average U/2 old when polled, describing the last D·U); a replayed trace is taken as is.
 */
export function methodFor(sem: Semantics, samples: readonly Sample[]): MethodChoice {
  if (sem.kind === 'energy-counter') {
    const counter = samples.filter((s) => s.energyJ !== undefined);
    if (counter.length) {
      if (repeatedShare(counter.map((s) => s.energyJ!)) < FRESH_REPEAT_SHARE) return { method: 'counter', shiftS: 0 };
      const pollS = medianSpacing(counter.map((s) => s.tS));
      return { method: 'counter', shiftS: Number.isFinite(pollS) ? pollS / 2 : 0, freshOnly: true };
    }
  }
  const lagMs = readingLagMs(sem);
  if (lagMs > 0 && (sem.kind === 'windowed-average' || sem.kind === 'instantaneous')) return { method: 'shifted-trapezoid', shiftS: lagMs / 1000 };
  return { method: 'trapezoid', shiftS: 0 };
}

/** A counter polled this much faster than it refreshes repeats values in at least this share of polls. */
const FRESH_REPEAT_SHARE = 0.2;

/** What a device's samples become once, before any window is integrated: the method and the series it needs. */
interface Prepared { m: MethodChoice; power: Series; counter?: UnwrappedCounter }

// A run integrates the same device's samples many times (idle, each window, each whole repetition, adaptive
// repetitions re-analysing): extract and sort its series once per sample array and semantics, not per window.
const prepared = new WeakMap<readonly Sample[], Map<string, Prepared>>();

function prepare(sem: Semantics, samples: readonly Sample[]): Prepared {
  let bySem = prepared.get(samples);
  if (!bySem) { bySem = new Map(); prepared.set(samples, bySem); }
  const key = JSON.stringify(sem);
  const hit = bySem.get(key);
  if (hit) return hit;
  const m = methodFor(sem, samples);
  const power = toSeries(samples, (s) => s.powerW);
  let counter: UnwrappedCounter | undefined;
  if (m.method === 'counter') {
    let pts = samples.filter((s) => s.energyJ !== undefined).map((s) => ({ tS: s.tS, energyJ: s.energyJ! }));
    if (m.freshOnly) {
      pts.sort((x, y) => x.tS - y.tS);
      const updateS = (sem.updatePeriodMs ?? 0) / 1000 || medianSpacing(firstAppearances(pts, (p) => p.energyJ, Infinity).map((p) => p.tS));
      pts = freshCounterPoints(pts, 2 * m.shiftS, updateS);
    }
    // a reset's stretch is filled from the power readings where they cover it (see unwrapCounter)
    const bridge = (t0S: number, t1S: number) => power.ts.length >= 2 && power.ts[0]! <= t0S && power.ts[power.ts.length - 1]! >= t1S
      ? integrateSeries(power, t0S, t1S).energyJ : undefined;
    counter = unwrapCounter(pts, sem.counterMaxJ, bridge);
  }
  const out = { m, power, ...(counter ? { counter } : {}) };
  bySem.set(key, out);
  return out;
}

/**
 * The window's peak of the devices' total power. One device: its own peak. Several, all with power readings: the
 * peak of their interpolated sum (devices seldom peak at the same instant). Otherwise (a counter-only device) the
 * sum of each device's peak, an upper bound.
 */
function peakPower(power: Series[], startS: number, endS: number, sumOfPeaksW: number, devs: DevicePower[]): number {
  if (devs.length === 1) return devs[0]!.peakPowerW ?? sumOfPeaksW;
  if (power.some((x) => x.ts.length === 0)) return sumOfPeaksW;
  return peakOfSum(power, startS, endS) ?? sumOfPeaksW;
}

/** Highest power reading in [startS, endS] of a sorted series, or null. */
function peakIn(series: Series, startS: number, endS: number): number | null {
  let lo = 0, hi = series.ts.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (series.ts[mid]! < startS) lo = mid + 1; else hi = mid; }
  let peak: number | null = null;
  for (let i = lo; i < series.ts.length && series.ts[i]! <= endS; i++) if (peak === null || series.vs[i]! > peak) peak = series.vs[i]!;
  return peak;
}

/** Energy of one device's samples over [startS, endS] by the method its semantics call for. */
export function windowEnergy(sem: Semantics, samples: readonly Sample[], startS: number, endS: number, maxGapS?: number) {
  const { m, power, counter } = prepare(sem, samples);
  if (m.method === 'counter' && counter) {
    const r = integrateCounter(counter, startS, endS, { counterMaxJ: sem.counterMaxJ, maxGapS });
    // peak power from the power readings where the source gives them (counter differences are noisy at 1 ms)
    return { ...r, method: m.method, choice: m, peakPowerW: peakIn(power, startS, endS) ?? r.peakPowerW };
  }
  const r = integrateSeries(power, startS, endS, { shiftS: m.shiftS, maxGapS });
  return { ...r, method: m.method, choice: m, resets: [], wraps: 0 };
}

const deviceEnergy = windowEnergy;

export function analyse(inp: AnalysisInput): AnalysisOutput {
  const warnings: Warning[] = [];
  const sem = inp.source.semantics;
  const byDevice = new Map<string, Sample[]>();
  for (const d of inp.devices) byDevice.set(d.id, []);
  for (const s of inp.samples) byDevice.get(s.deviceId)?.push(s);
  for (const arr of byDevice.values()) arr.sort((a, b) => a.tS - b.tS);

  // achieved sampling interval and gaps, per device
  const spacingMs: number[] = [];
  const nominalMs = Math.max(inp.source.requestedIntervalMs, sem.updatePeriodMs ?? 0);
  const gaps: Gap[] = [...inp.source.gaps];
  for (const [deviceId, arr] of byDevice) {
    for (let i = 1; i < arr.length; i++) {
      const d = (arr[i]!.tS - arr[i - 1]!.tS) * 1000;
      spacingMs.push(d);
      if (d > 2 * nominalMs && !gaps.some((g) => g.startS <= arr[i - 1]!.tS + 1e-9 && g.endS >= arr[i]!.tS - 1e-9 && (!g.deviceId || g.deviceId === deviceId))) {
        gaps.push({ startS: arr[i - 1]!.tS, endS: arr[i]!.tS, deviceId, reason: `no sample for ${d.toFixed(0)} ms (more than twice the ${nominalMs} ms interval)` });
      }
    }
  }
  gaps.sort((a, b) => a.startS - b.startS);
  const achieved = spacingMs.length ? { median: percentile(spacingMs, 50), p99: percentile(spacingMs, 99) } : null;
  const maxGapS = (2 * nominalMs) / 1000;
  const sampleCount = [...byDevice.values()].reduce((n, a) => n + a.length, 0);
  // A device with no reading in the whole run while others have some (a secondary die or partition whose power is
  // read on its card's first die) is left out of the figures and named in one warning — not counted as 0 W.
  const noReading = new Set(sampleCount > 0 ? [...byDevice].filter(([, a]) => a.length === 0).map(([id]) => id) : []);
  if (noReading.size) warnings.push(warn('PARTIAL_DEVICE_POWER', { sourceId: inp.source.id }, `No power reading for ${[...noReading].join(', ')} in the whole run (a secondary die or partition whose card is read on another device, or a sensor that never answered); left out of the figures, not counted as 0 W.`));
  const measured = inp.devices.filter((d) => !noReading.has(d.id));

  // idle baseline
  let idle: Idle | null = null;
  if (inp.idle && inp.idle.endS > inp.idle.startS) {
    const devices = measured.map((d) => {
      const arr = byDevice.get(d.id)!;
      const r = deviceEnergy(sem, arr, inp.idle!.startS, inp.idle!.endS, maxGapS);
      return { deviceId: d.id, powerW: r.meanPowerW, sampleCount: arr.filter((s) => s.tS >= inp.idle!.startS && s.tS <= inp.idle!.endS).length };
    });
    idle = { startS: inp.idle.startS, endS: inp.idle.endS, durationS: inp.idle.endS - inp.idle.startS, powerW: devices.reduce((s, d) => s + d.powerW, 0), devices };
  } else {
    warnings.push(warn('NO_IDLE_BASELINE'));
  }

  const updateMs = Math.max(sem.updatePeriodMs ?? 0, achieved?.median ?? 0);
  let minCoverage: number | null = null;
  let shortest: number | null = null;
  let methodUsed: DevicePower['method'] = 'trapezoid';
  // per device and window, what the error bound needs (harness/fidelity.ts)
  const fidelityWindows: FidelityWindow[] = [];
  const pollMs = new Map([...byDevice].map(([id, arr]) => [id, medianSpacing(arr.map((s) => s.tS)) * 1000]));
  const reps: Repetition[] = inp.repetitions.map((r) => {
    const base: Repetition = {
      index: r.index, status: r.status, phases: r.phases,
      window: r.window ? { startS: r.window.startS, endS: r.window.endS, durationS: r.window.endS - r.window.startS } : null,
      tokens: r.tokens, figures: null, devices: [], metrics: r.metrics,
      ...(r.error ? { error: { ...r.error, repetition: r.index } } : {}),
      ...(r.exit ? { exit: r.exit } : {}),
    };
    if (r.protocolErrors > 0) warnings.push(warn('PROTOCOL_ERRORS', { repetition: r.index }, `${r.protocolErrors} malformed protocol line(s) were ignored.`));
    if (r.truncatedLines > 0) warnings.push(warn('OUTPUT_TRUNCATED', { repetition: r.index }));
    if (r.status === 'failed') warnings.push(warn('REPETITION_FAILED', { repetition: r.index }, `${atSentenceStart(repetitionName(r.index, inp.repetitions.length))} failed: ${r.error?.message ?? 'unknown error'}`));
    // a workload's own warnings (the serving load generator's: client behind schedule, usage from the client,
    // failed requests) arrive in its details as {code, message}; only codes of the closed set are taken
    for (const w of Array.isArray(r.details?.warnings) ? r.details.warnings : []) if (w && typeof w.message === 'string' && w.code in WARNING_TEXT) warnings.push(warn(w.code as WarningCode, { repetition: r.index }, w.message.slice(0, 4096)));
    if (r.status !== 'ok' || !r.window || !r.tokens) return base;
    const { startS, endS } = r.window;
    const dur = endS - startS;
    shortest = shortest === null ? dur : Math.min(shortest, dur);
    const devs: DevicePower[] = [];
    let energy = 0, peakSum = 0, anyPeak = false, edgeHeld = false;
    const powerSeries: Series[] = [];
    let peakShiftS = 0;
    const telemetry = new DiagnosticsFold();
    const repWindows: FidelityWindow[] = [];
    for (const d of measured) {
      const arr = byDevice.get(d.id)!;
      const e = deviceEnergy(sem, arr, startS, endS, maxGapS);
      methodUsed = e.method;
      energy += e.energyJ;
      if (e.peakPowerW !== null) { peakSum += e.peakPowerW; anyPeak = true; }
      powerSeries.push(prepare(sem, arr).power);
      peakShiftS = e.method === 'counter' ? 0 : e.choice.shiftS; // the same readings and shift as the device's own peak
      edgeHeld ||= e.edgeHeld;
      minCoverage = minCoverage === null ? e.coveragePct : Math.min(minCoverage, e.coveragePct);
      if (e.resets.length > 0) warnings.push(warn('COUNTER_RESET', { repetition: r.index, deviceId: d.id }, resetMessage(e.resets)));
      devs.push({ deviceId: d.id, sourceId: inp.source.id, method: e.method, energyJ: e.energyJ, meanPowerW: e.meanPowerW, peakPowerW: e.peakPowerW, sampleCount: e.sampleCount, coveragePct: e.coveragePct });
      const variability = observedVariability(arr, startS, endS, { useCounter: e.method === 'counter', updatePeriodMs: sem.updatePeriodMs });
      if (variability) repWindows.push({ repetition: r.index, deviceId: d.id, durationS: dur, meanPowerW: e.meanPowerW, intervalMs: pollMs.get(d.id) ?? inp.source.requestedIntervalMs, choice: e.choice, variability, headline: true, ...(d.powerLimitW !== undefined ? { powerLimitW: d.powerLimitW } : {}) });
      for (const s of arr) if (s.tS >= startS && s.tS <= endS) telemetry.add(s);
    }
    if (edgeHeld || (minCoverage !== null && minCoverage < 90)) warnings.push(warn('WINDOW_NOT_COVERED', { repetition: r.index }));
    const throttle = telemetry.throttleReasons;
    if (throttle.length) warnings.push(warn('THROTTLED', { repetition: r.index }, `The device throttled during ${repetitionName(r.index, inp.repetitions.length)}: ${throttle.join(', ')}.`));
    // energy over the whole repetition (start to last phase end), beside the window's: serving records both
    const repStart = r.phases[0]?.startS;
    const repEnd = r.phases.reduce((m, p) => Math.max(m, p.endS ?? p.startS), repStart ?? 0);
    const extraMetrics: Metric[] = [];
    if (repStart !== undefined && repEnd > repStart) {
      let whole = 0;
      for (const d of inp.devices) whole += deviceEnergy(sem, byDevice.get(d.id)!, repStart, repEnd, maxGapS).energyJ;
      extraMetrics.push({ name: 'repetition_energy_J', value: whole, unit: 'J' }, { name: 'repetition_duration_s', value: repEnd - repStart, unit: 's' });
    }
    const eff = efficiency(r.tokens.total, energy, dur);
    const idleSub = idle ? idleSubtracted(energy, idle.powerW, dur) : null;
    const headline = !(updateMs > 0 && dur * 1000 < MIN_UPDATES_PER_WINDOW * updateMs * (1 - 1e-6)); // float noise must not decide
    for (const w of repWindows) fidelityWindows.push({ ...w, headline });
    if (!headline) warnings.push(warn('SHORT_WINDOW', { repetition: r.index }, `The window of ${repetitionName(r.index, inp.repetitions.length)} (${dur.toFixed(2)} s) covered fewer than ${MIN_UPDATES_PER_WINDOW} sensor updates of ${updateMs.toFixed(0)} ms; its figure is not a headline. Lengthen the workload.`));
    const diagnostics = telemetry.diagnostics();
    return {
      ...base,
      metrics: [...base.metrics.filter((m) => !extraMetrics.some((x) => x.name === m.name)), ...extraMetrics],
      devices: devs,
      headline,
      ...(Object.keys(diagnostics).length ? { diagnostics } : {}),
      figures: {
        durationS: dur, energyJ: energy, idleSubtractedEnergyJ: idleSub,
        meanPowerW: dur > 0 ? energy / dur : 0, peakPowerW: anyPeak ? peakPower(powerSeries, startS + peakShiftS, endS + peakShiftS, peakSum, devs) : null,
        tokensPerS: eff.tokensPerS, tokensPerJ: eff.tokensPerJ, joulesPerToken: eff.joulesPerToken,
        idleSubtractedTokensPerJ: idleSub !== null && idleSub > 0 ? r.tokens.total / idleSub : null,
      },
    };
  });

  const good = reps.filter((r) => r.status === 'ok' && r.figures && r.figures.tokensPerJ !== null && r.headline !== false);
  let summary: Summary | null = null;
  if (good.length) {
    const f = (k: keyof NonNullable<Repetition['figures']>) => good.map((r) => r.figures![k]).filter((v): v is number => typeof v === 'number');
    const metricNames = new Map<string, string>();
    for (const r of good) for (const m of r.metrics) metricNames.set(m.name, m.unit);
    const isub = f('idleSubtractedTokensPerJ');
    summary = {
      repetitionsOk: good.length, repetitionsTotal: reps.length,
      tokensPerJ: describe(f('tokensPerJ')), tokensPerS: describe(f('tokensPerS')), energyJ: describe(f('energyJ')),
      meanPowerW: describe(f('meanPowerW')), joulesPerToken: describe(f('joulesPerToken')),
      ...(isub.length === good.length ? { idleSubtractedTokensPerJ: describe(isub) } : {}),
      metrics: [...metricNames].map(([name, unit]) => ({ name, unit, stats: describe(good.map((r) => r.metrics.find((m) => m.name === name)?.value).filter((v): v is number => typeof v === 'number')) })).filter((m) => m.stats.n > 0),
    };
    if (summary.tokensPerJ.cvPct !== null && summary.tokensPerJ.cvPct > HIGH_CV_PCT) warnings.push(warn('HIGH_CV', {}, `Tokens per joule varied by ${summary.tokensPerJ.cvPct.toFixed(1)}% (CV) across repetitions, above ${HIGH_CV_PCT}%; raise --repetitions or lengthen the window.`));
    if (idle && summary.meanPowerW.mean > 0 && idle.powerW > HIGH_IDLE_SHARE * summary.meanPowerW.mean) warnings.push(warn('HIGH_IDLE', {}, `Idle power (${idle.powerW.toFixed(1)} W) was above ${HIGH_IDLE_SHARE * 100}% of loaded power (${summary.meanPowerW.mean.toFixed(1)} W).`));
  }
  // checked whether or not any repetition gave a headline figure: none at all is the plainest miss
  if (inp.targetCiPct !== undefined) {
    const t = summary?.tokensPerJ;
    const achievedPct = t && t.ci95HalfWidth !== null && t.mean > 0 ? (100 * t.ci95HalfWidth) / t.mean : null;
    if (achievedPct === null || achievedPct > inp.targetCiPct) warnings.push(warn('TARGET_CI_NOT_REACHED', {}, `The 95% CI half-width of tokens per joule stayed above ${inp.targetCiPct}% (${achievedPct === null ? 'no interval: fewer than 2 repetitions gave a headline figure' : `${achievedPct.toFixed(2)}%`}) after ${reps.length} repetitions (maximum ${inp.maxRepetitions ?? reps.length}).`));
  }
  if (good.length < 3 && !inp.interrupted) warnings.push(warn('FEW_REPETITIONS', {}, `Only ${good.length} repetition(s) gave a figure; use --repetitions 3 or more for a confidence interval worth quoting.`));
  if (inp.source.scope === 'estimated') warnings.push(warn('ESTIMATED_POWER'));
  if (inp.source.scope === 'host-cpu' || inp.source.scope === 'node') warnings.push(warn('HOST_SCOPE'));
  if (sem.kind === 'windowed-average') warnings.push(warn('AVERAGED_SENSOR', { sourceId: inp.source.id }));
  if (inp.source.restarts > 0) warnings.push(warn('SOURCE_RESTARTED', { sourceId: inp.source.id }, `The ${inp.source.id} tool was restarted ${inp.source.restarts} time(s) during the run.`));
  if (gaps.length) {
    const worst = gaps.reduce((a, g) => Math.max(a, g.endS - g.startS), 0);
    warnings.push(warn('SAMPLING_GAP', { sourceId: inp.source.id }, `${gaps.length} sampling gap(s), the longest ${worst.toFixed(2)} s: ${gaps[0]!.reason}.`));
  }
  if (inp.interrupted) warnings.push(warn('INTERRUPTED'));

  const status: AnalysisOutput['status'] = inp.interrupted ? 'interrupted' : reps.some((r) => r.status !== 'ok') || reps.length === 0 ? 'failed' : 'ok';
  const source: Source = {
    id: inp.source.id, state: 'used', scope: inp.source.scope, semantics: sem, deviceIds: inp.source.deviceIds,
    requestedIntervalMs: inp.source.requestedIntervalMs, achievedIntervalMs: achieved, sampleCount, gaps, restarts: inp.source.restarts,
    ...(inp.source.command ? { command: inp.source.command } : {}), ...(inp.source.note ? { note: inp.source.note } : {}),
  };
  const fidelity = gradeFidelity({ scope: inp.source.scope, semantics: sem, method: methodUsed, achievedIntervalMs: achieved?.median ?? null, shortestWindowS: shortest, coverageMinPct: minCoverage, windows: fidelityWindows });
  return { source, idle, repetitions: reps, summary, warnings, fidelity, status };
}

export { medianSpacing };
