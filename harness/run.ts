// The run lifecycle, in a fixed, documented order (README "The run"):
//   1 inventory → 2 probe sources → 3 idle baseline → per repetition: 4 warm-up → 5 measured window → 6 cooldown
//   → 7 result (integrate, statistics, validate, atomic write).
// Samplers run from the idle baseline to the end of the last cooldown; every sample and event is stamped on one
// run clock and streamed to the raw samples file as it arrives, so nothing measured is lost to a crash or signal.
import { join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { Device, Semantics, Source, WattbenchResult, Settings } from '../results/types.gen.js';
import { SampleLog, type Sample, type SampleRecord } from '../results/samples.js';
import { writeResultOrRescue, checkWritableDir } from '../results/io.js';
import { makeRedactor, redactDeep } from '../lib/redact.js';
import { SCHEMA_VERSION } from '../results/validate.js';
import { createRunClock, sleepMs, MAX_TIMER_MS, type RunClock } from '../lib/clock.js';
import { badInput, WattbenchError, errorMessage, EXIT } from '../lib/errors.js';
import type { Workload, WorkloadDescription } from '../workloads/workload.js';
import type { Sampler } from '../drivers/driver.js';
import { chooseSource, type SourceChoice } from './sources.js';
import { hostFacts, toolVersion, gitCommit } from './inventory.js';
import { analyse, type RepetitionRaw, type SourceRun } from './analyse.js';
import { readingLagMs } from './sensor-model.js';
import { RepetitionEvents } from './repetition-events.js';
import type { Progress } from './progress.js';

export interface RunRequest {
  label: string;
  workload: Workload<unknown>;
  config: unknown;
  description: WorkloadDescription;
  sourceId?: string;
  sourceOptions: Record<string, Record<string, string>>;
  /** What to do instead when the forced source does not work, by where it came from (`--source`, a suite entry). */
  sourceRemedy?: string;
  deviceIndices?: number[];
  repetitions: number;
  maxRepetitions?: number;
  targetCiPct?: number;
  idleS: number;
  cooldownS: number;
  intervalMs?: number;
  timeoutS?: number;
  outDir: string;
  runId?: string;
  recordHostname: boolean;
  suite?: Settings['suite'];
  /** Extra software versions a workload's preflight learned (python, torch). */
  software?: Record<string, string>;
}

export interface RunOutcome {
  result: WattbenchResult;
  resultPath: string;
  samplesPath: string;
  /** The result could not go where it was asked and was saved to the rescue folder: the command exits 1. */
  rescued?: boolean;
}

/**
 * Keep the samplers on until every device has a reading past the last window's end (moved later by the sensor's
 * lag, which the analysis undoes), so that edge is interpolated rather than held from the last reading before it.
 * Only the last window needs this: a cooldown or the next repetition covers the others. Bounded: a device that
 * stopped reporting costs at most a few sensor periods, and the analysis then says the window was not covered.
 */
async function sampleBeyondLastWindow(reps: RepetitionRaw[], lastReadingS: ReadonlyMap<string, number>, devices: Device[], sem: Semantics, intervalMs: number, signal: AbortSignal): Promise<void> {
  const lastEndS = Math.max(-Infinity, ...reps.flatMap((r) => (r.window ? [r.window.endS] : [])));
  if (!Number.isFinite(lastEndS)) return;
  const periodMs = Math.max(intervalMs, sem.updatePeriodMs ?? 0);
  // a counter polled faster than it refreshes is read half a poll late (see methodFor): one more poll covers that
  const needS = lastEndS + (readingLagMs(sem) + (sem.kind === 'energy-counter' ? intervalMs : 0)) / 1000;
  await readingsReach(lastReadingS, devices, needS, 3 * periodMs + readingLagMs(sem) + 2000, signal);
}

/** Wait until every device has a reading at or after atS, for at most maxWaitMs (10 s at the most); early on abort. */
async function readingsReach(lastReadingS: ReadonlyMap<string, number>, devices: Device[], atS: number, maxWaitMs: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + Math.min(10_000, maxWaitMs);
  const reached = () => devices.every((d) => (lastReadingS.get(d.id) ?? -Infinity) >= atS);
  while (!signal.aborted && Date.now() < deadline && !reached()) await sleepMs(20, signal);
}

/** Beyond any meter (a 10 MW rack row; 1 PJ, a year of 30 MW): a reading past these is a broken sensor or trace. */
const MAX_PLAUSIBLE_POWER_W = 1e7;
const MAX_PLAUSIBLE_ENERGY_J = 1e15;

/**
 * The sample with its implausible fields removed (null when nothing is left): a reading of 1e308 W would make the
 * window's energy Infinity, which no result can hold, and the whole measurement would be lost to one bad line.
 */
function plausible(s: Sample, dropped: () => void): Sample | null {
  const badP = s.powerW !== undefined && !(Math.abs(s.powerW) <= MAX_PLAUSIBLE_POWER_W);
  const badE = s.energyJ !== undefined && !(Math.abs(s.energyJ) <= MAX_PLAUSIBLE_ENERGY_J);
  if (!badP && !badE) return s;
  dropped();
  const { powerW, energyJ, ...rest } = s;
  const kept: Sample = { ...rest, ...(badP || powerW === undefined ? {} : { powerW }), ...(badE || energyJ === undefined ? {} : { energyJ }) };
  return kept.powerW === undefined && kept.energyJ === undefined ? null : kept;
}

/** Phases in the order they happen; the samples file records each with its time (tests check the order). */
export const RUN_ORDER = ['inventory', 'probe', 'idle', 'warmup', 'window', 'cooldown', 'result'] as const;

export function makeRunId(label: string, at = new Date()): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  // the "[2/6] " a plan's progress puts before a label says nothing the time stamp does not (files sort by it)
  const slug = label.replace(/^\[\d+\/\d+\]\s*/, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 48) || 'run';
  return `${stamp}-${slug}-${randomBytes(2).toString('hex')}`;
}

/**
 * The variables that show the workload its devices, and the devices as the result records them: the driver's own
 * choice where it has one (Driver.workloadVisibility: a MIG slice's UUID), else the selected devices' indices.
 * A selection the driver says cannot run (two MIG GPUs, an unknown slice) throws its bad-input error here.
 */
function visibilityEnv(choice: SourceChoice, devices: Device[], options: Record<string, string>): { env: Record<string, string>; devices: Device[] } {
  const { driver, probe } = choice.chosen;
  const fixed = driver.meta.workloadEnv ?? {};
  if (driver.workloadVisibility) {
    const v = driver.workloadVisibility(devices, probe, options);
    if (v instanceof WattbenchError) throw v;
    return { env: { ...fixed, ...v.env }, devices: v.devices ?? devices };
  }
  const vars = driver.meta.visibilityEnv ?? [];
  const value = devices.map((d) => String(d.index ?? 0)).join(',');
  return { env: { ...fixed, ...Object.fromEntries(vars.map((v) => [v, value])) }, devices };
}

export async function executeRun(request: RunRequest, progress: Progress, signal: AbortSignal, env: NodeJS.ProcessEnv = process.env): Promise<RunOutcome> {
  const clock: RunClock = createRunClock();
  // secret values of the environment (API keys, tokens) are scrubbed from everything written or shown (lib/redact.ts);
  // the label (the command line, often) is scrubbed before it names anything: the run id, the files, the progress
  const redact = makeRedactor(env);
  const req: RunRequest = { ...request, label: redact(request.label) };
  const runId = req.runId ?? makeRunId(req.label);
  const resultPath = join(req.outDir, `${runId}.json`);
  const samplesPath = join(req.outDir, `${runId}.samples.jsonl`);
  const phaseLog: Array<{ tS: number; phase: string; repetition?: number }> = [];
  const mark = (phase: string, repetition?: number) => phaseLog.push({ tS: clock.nowS(), phase, ...(repetition !== undefined ? { repetition } : {}) });
  // a run id given twice must not replace the earlier measurement (generated ids carry a random suffix); only a
  // regular file is a measurement (the disk-fault tests put a link to /dev/full where the samples go)
  for (const p of [resultPath, samplesPath]) {
    if (await stat(p).then((st) => st.isFile(), () => false)) throw badInput('RUN_ID_EXISTS', `${p} exists: run id '${runId}' was used before in this folder`, 'choose another --run-id, or another --out folder; wattbench never overwrites a measurement');
  }

  // a folder we cannot write is known before anything is measured
  const unwritable = await checkWritableDir(req.outDir);
  if (unwritable) throw badInput('OUTPUT_NOT_WRITABLE', `cannot write results to ${req.outDir}: ${unwritable}`, 'choose another folder with --out, or fix its permissions / free space');

  // 1. inventory
  mark('inventory');
  progress.phase(req.label, 'inventory');
  const [host, version, commit] = await Promise.all([hostFacts(req.recordHostname), toolVersion(), gitCommit()]);

  // 2. probe the power sources and choose
  mark('probe');
  progress.phase(req.label, 'probe');
  const choice = await chooseSource(env, req.sourceId, (id) => req.sourceOptions[id] ?? {}, req.sourceRemedy);
  const { driver, probe } = choice.chosen;
  let devices = probe.devices;
  if (req.deviceIndices?.length) {
    const missing = req.deviceIndices.filter((i) => !devices.some((d) => d.index === i));
    if (missing.length) throw badInput('NO_SUCH_DEVICE', `${driver.meta.id} has no device ${missing.join(', ')} (it has ${devices.map((d) => d.index).join(', ')})`, 'pick indices that `wattbench devices` lists');
    devices = devices.filter((d) => req.deviceIndices!.includes(d.index ?? -1));
  }
  // decided before sampling starts, so a selection the workload cannot run on stops the run before anything is measured
  const visible = visibilityEnv(choice, devices, req.sourceOptions[driver.meta.id] ?? {});
  devices = visible.devices;
  const intervalMs = Math.max(req.intervalMs ?? driver.meta.defaultIntervalMs, driver.meta.minIntervalMs);
  progress.info(`  source: ${driver.meta.id} (${driver.meta.scope}, ${probe.semantics.kind}) on ${devices.map((d) => (d.partition?.startsWith('MIG slice') ? `${d.name} [${d.partition}]` : d.name)).join(', ')}`);

  const log = new SampleLog(samplesPath);
  for (const p of phaseLog) log.write({ type: 'phase', ...p });
  const phase = (name: string, repetition?: number) => { mark(name, repetition); log.write({ type: 'phase', ...phaseLog[phaseLog.length - 1]! }); };

  const samples: Sample[] = [];
  const srcRun: SourceRun = { id: driver.meta.id, scope: probe.scope ?? driver.meta.scope, semantics: probe.semantics, deviceIds: devices.map((d) => d.id), requestedIntervalMs: intervalMs, restarts: 0, gaps: [], ...(probe.note ? { note: probe.note } : {}) };
  let lastPower = new Map<string, number>();
  const lastReadingS = new Map<string, number>();
  let implausible = 0;
  const samplerAbort = new AbortController();
  let sampler: Sampler | undefined;
  const repetitions: RepetitionRaw[] = [];
  let idleWindow: { startS: number; endS: number } | null = null;
  let interrupted = false;
  const errors: WattbenchResult['errors'] = [];

  const stopAll = () => samplerAbort.abort();
  signal.addEventListener('abort', stopAll, { once: true });
  try {
    sampler = await driver.start({
      devices, intervalMs, clock, signal: samplerAbort.signal, options: req.sourceOptions[driver.meta.id] ?? {}, env, probe,
      sink: {
        sample: (raw) => {
          const s = plausible(raw, () => {
            if (implausible++ === 0) progress.warn(`${driver.meta.id}: dropped a reading no sensor can give (${JSON.stringify({ powerW: raw.powerW, energyJ: raw.energyJ })}); later ones are counted in the result`);
          });
          if (!s) return;
          samples.push(s); log.write({ type: 'sample', ...s });
          if (s.powerW !== undefined) lastPower.set(s.deviceId, s.powerW);
          if (s.powerW !== undefined || s.energyJ !== undefined) lastReadingS.set(s.deviceId, Math.max(s.tS, lastReadingS.get(s.deviceId) ?? -Infinity));
        },
        gap: (g) => { const reason = redact(g.reason); srcRun.gaps.push({ ...g, reason: reason.slice(0, 1000) }); log.write({ type: 'gap', sourceId: driver.meta.id, ...g, reason }); },
        restarted: (why) => { srcRun.restarts++; progress.warn(`${driver.meta.id}: ${redact(why)}`); },
        note: (msg) => progress.info(`  ${redact(msg)}`),
      },
    });
    if (sampler.command) srcRun.command = sampler.command;

    // 3. idle baseline
    if (req.idleS > 0 && !signal.aborted) {
      phase('idle');
      progress.phase(req.label, 'idle baseline', `${req.idleS} s`);
      const t0 = clock.nowS();
      const ticker = setInterval(() => progress.status({ label: req.label, phase: 'idle', elapsedS: clock.nowS() - t0, remainingS: req.idleS - (clock.nowS() - t0), powerW: sum(lastPower) }), 250);
      await sleepMs(req.idleS * 1000, signal);
      clearInterval(ticker);
      idleWindow = { startS: t0, endS: clock.nowS() };
    }

    // the first window must not open before the sensors have spoken: with --idle 0 a workload would otherwise start
    // before the first reading (an estimate needs one interval of CPU times; a vendor tool, its start-up). The wait
    // is the longest readingsReach allows whatever the period: nvidia-smi starting on a host of eight GPUs without
    // persistence mode takes seconds, a loaded host more, and the wait ends at the first reading anyway
    await readingsReach(lastReadingS, devices, -Number.MAX_VALUE, 10_000, signal);
    const wlEnv = { ...env, ...visible.env };
    const maxReps = req.targetCiPct !== undefined ? Math.max(req.maxRepetitions ?? 10, req.repetitions) : req.repetitions;
    for (let i = 0; i < maxReps && !signal.aborted; i++) {
      const raw = await runRepetition(i, req, clock, signal, wlEnv, devices, progress, phase, () => sum(lastPower), (rec) => log.write(rec));
      repetitions.push(raw);
      log.write({ type: 'event', tS: clock.nowS(), repetition: i, event: 'repetition_end', data: { status: raw.status } });
      if (raw.status === 'interrupted') break;
      // 6. cooldown
      if (req.cooldownS > 0 && !signal.aborted) {
        phase('cooldown', i);
        progress.phase(req.label, `cooldown ${i + 1}`, `${req.cooldownS} s`);
        await sleepMs(req.cooldownS * 1000, signal);
      }
      if (req.targetCiPct !== undefined && i + 1 >= req.repetitions && targetReached(req, srcRun, devices, samples, idleWindow, repetitions)) break;
    }
    if (!signal.aborted) await sampleBeyondLastWindow(repetitions, lastReadingS, devices, probe.semantics, intervalMs, signal);
  } catch (err) {
    if (err instanceof WattbenchError) throw err;
    errors.push({ code: 'RUN_ERROR', message: errorMessage(err).slice(0, 8000) });
  } finally {
    signal.removeEventListener('abort', stopAll);
    samplerAbort.abort();
    await sampler?.stop().catch((err) => errors.push({ code: 'SAMPLER_STOP', message: errorMessage(err) }));
  }
  interrupted = signal.aborted;
  if (implausible > 0) srcRun.note = `${srcRun.note ? `${srcRun.note}; ` : ''}${implausible} implausible reading(s) dropped (power beyond ±${MAX_PLAUSIBLE_POWER_W.toExponential()} W or energy beyond ${MAX_PLAUSIBLE_ENERGY_J.toExponential()} J)`;

  // 7. result
  phase('result');
  progress.phase(req.label, 'result');
  const a = analyse({ source: srcRun, devices, samples, idle: idleWindow, repetitions, interrupted, repetitionsRequested: req.repetitions, targetCiPct: req.targetCiPct, maxRepetitions: req.maxRepetitions });
  const parameters = repetitions.flatMap((r) => r.metrics).find((m) => m.name === 'parameters')?.value;
  const result: WattbenchResult = {
    schemaVersion: SCHEMA_VERSION,
    runId,
    status: errors.length && a.status === 'ok' ? 'failed' : a.status,
    createdAt: new Date().toISOString(),
    tool: { name: 'wattbench', version, ...(commit ? { gitCommit: commit } : {}) },
    clock: { anchorWallTime: new Date(clock.anchorWallMs).toISOString(), source: 'process.hrtime' },
    host,
    software: { node: process.versions.node, ...(probe.software ?? {}), ...(req.software ?? {}) },
    devices,
    workload: {
      id: req.workload.meta.id, name: req.description.name, kind: req.description.kind,
      ...(req.description.modelSize ? { modelSize: req.description.modelSize } : {}),
      ...(req.description.parameters ?? parameters ? { parameters: (req.description.parameters ?? parameters)! } : {}),
      ...(req.description.dtype ? { dtype: req.description.dtype } : {}),
      ...(req.description.backend ? { backend: req.description.backend } : {}),
      config: req.config as Record<string, unknown>,
    },
    settings: {
      repetitions: req.repetitions, idleS: req.idleS, cooldownS: req.cooldownS, intervalMs,
      ...(req.maxRepetitions !== undefined ? { maxRepetitions: req.maxRepetitions } : {}),
      ...(req.targetCiPct !== undefined ? { targetCiPct: req.targetCiPct } : {}),
      ...(req.timeoutS !== undefined ? { timeoutS: req.timeoutS } : {}),
      ...(req.sourceId ? { sourceRequested: req.sourceId } : {}),
      ...(req.suite ? { suite: req.suite } : {}),
    },
    sources: [a.source, ...choice.others] as Source[],
    idle: a.idle,
    repetitions: a.repetitions,
    summary: a.summary,
    warnings: a.warnings,
    errors,
    rawSamples: { file: basename(samplesPath), format: 'wattbench-samples-jsonl-v1' },
    fidelity: a.fidelity,
    ...(repetitions.some((r) => r.details) ? { serving: { repetitions: repetitions.filter((r) => r.details).map((r) => ({ index: r.index, ...r.details }) as unknown as NonNullable<WattbenchResult['serving']>['repetitions'][number]) } } : {}),
  };
  await log.close();
  if (log.error) {
    // the figures are whole (samples are also kept in memory) but the raw file is not: say so and mark the run
    result.errors.push({ code: 'SAMPLES_WRITE_FAILED', message: `the raw samples file ${basename(samplesPath)} is incomplete: ${log.error}`.slice(0, 8000) });
    if (result.status === 'ok') result.status = 'failed';
  }
  const safe = redactDeep(result, redact);
  let written: { path: string; failed?: string };
  try {
    written = await writeResultOrRescue(resultPath, safe);
  } catch (err) {
    if (!(err as NodeJS.ErrnoException).code) throw err;
    throw new WattbenchError('RESULT_NOT_WRITTEN', `could not write the result ${resultPath}: ${errorMessage(err)}`, `free space or fix the folder; the raw samples are in ${samplesPath}`, EXIT.RUN_FAILED);
  }
  if (written.failed) progress.warn(`could not write ${resultPath} (${written.failed}); the result was saved to ${written.path} instead`);
  return { result: safe, resultPath: written.path, samplesPath, ...(written.failed ? { rescued: true } : {}) };
}

function sum(m: Map<string, number>): number | undefined {
  if (m.size === 0) return undefined;
  let s = 0;
  for (const v of m.values()) s += v;
  return s;
}

function targetReached(req: RunRequest, src: SourceRun, devices: Device[], samples: Sample[], idle: { startS: number; endS: number } | null, reps: RepetitionRaw[]): boolean {
  const a = analyse({ source: src, devices, samples, idle, repetitions: reps, interrupted: false, repetitionsRequested: req.repetitions });
  const s = a.summary?.tokensPerJ;
  if (!s || s.ci95HalfWidth === null || s.mean === 0) return false;
  return (100 * s.ci95HalfWidth) / s.mean <= req.targetCiPct!;
}

async function runRepetition(
  index: number, req: RunRequest, clock: RunClock, signal: AbortSignal, env: NodeJS.ProcessEnv, devices: Device[],
  progress: Progress, phase: (name: string, rep?: number) => void, power: () => number | undefined,
  record: (rec: SampleRecord) => void,
): Promise<RepetitionRaw> {
  // with --target-ci the count is open up to the maximum: say so rather than show [4/3]
  const label = `${req.label} [${index + 1}/${req.targetCiPct !== undefined ? `≤${Math.max(req.maxRepetitions ?? 10, req.repetitions)}` : req.repetitions}]`;
  const ev = new RepetitionEvents(clock.nowS());
  let protocolErrors = 0, truncatedLines = 0;
  const ticker = setInterval(() => {
    const el = clock.nowS() - (ev.inWindow ? ev.windowStart! : ev.phases[0]!.startS);
    progress.status({ label, phase: ev.inWindow ? 'window' : ev.windowStart === undefined ? 'warm-up' : 'finishing', elapsedS: el, powerW: power(), tokensPerS: ev.inWindow && el > 0 ? ev.tokensSoFar / el : undefined });
  }, 250);
  progress.phase(label, 'start');
  // a run-level timeout stops this repetition only; a signal stops everything
  const repAbort = new AbortController();
  let timedOut = false;
  const onAbort = () => repAbort.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const timer = req.timeoutS ? setTimeout(() => { timedOut = true; repAbort.abort(); }, Math.min(req.timeoutS * 1000, MAX_TIMER_MS)) : undefined;
  let outcome = await req.workload.run(req.config, {
    repetition: index, clock, signal: repAbort.signal, env, devices,
    onEvent: ({ tS, e }) => {
      // every protocol event goes into the raw samples file too, so the analysis can be redone from it alone
      if (e.event !== 'info') { const { event, ...data } = e as { event: string }; record({ type: 'event', tS, repetition: index, event, ...(Object.keys(data).length ? { data } : {}) }); }
      const opened = ev.apply(tS, e);
      if (opened) phase(opened, index);
    },
    onLog: () => {},
    onProtocolError: (_line, why) => { protocolErrors++; if (why.includes('cut')) truncatedLines++; },
  });
  clearInterval(ticker);
  if (timer) clearTimeout(timer);
  signal.removeEventListener('abort', onAbort);
  if (timedOut && !signal.aborted) outcome = { state: 'timed-out', reason: `still running after the ${req.timeoutS} s timeout; stopped`, stderrTail: outcome.state === 'failed' ? outcome.stderrTail : '' };
  const end = clock.nowS();
  ev.close(end);
  const exit = outcome.state === 'completed' || outcome.state === 'failed' ? { exitCode: outcome.exitCode, signal: outcome.signal } : undefined;
  const base = { index, phases: ev.phases, metrics: ev.metrics(), protocolErrors, truncatedLines, ...(exit ? { exit } : {}) };
  const tok = ev.tokens();
  const { windowStart, windowEnd } = ev;
  if (outcome.state === 'stopped' || signal.aborted) {
    progress.phase(label, 'interrupted');
    return { ...base, status: 'interrupted', window: null, tokens: null };
  }
  if (outcome.state !== 'completed') {
    const message = outcome.reason;
    progress.warn(`${label} failed: ${message}`);
    return { ...base, status: 'failed', window: null, tokens: null, error: { code: outcome.state === 'timed-out' ? 'WORKLOAD_TIMEOUT' : 'WORKLOAD_FAILED', message, ...(outcome.stderrTail ? { stderrTail: outcome.stderrTail.slice(-16000) } : {}) } };
  }
  if (windowStart === undefined || windowEnd === undefined) {
    const message = windowStart === undefined ? 'the workload exited without signalling window_start' : 'the workload exited without signalling window_end';
    progress.warn(`${label} failed: ${message}`);
    return { ...base, status: 'failed', window: null, tokens: null, error: { code: 'NO_WINDOW', message } };
  }
  progress.phase(label, 'measured', `${(windowEnd - windowStart).toFixed(1)} s, ${tok.total} tokens`);
  return { ...base, status: 'ok', window: { startS: windowStart, endS: windowEnd }, tokens: tok, ...(outcome.details ? { details: outcome.details } : {}) };
}
