// `wattbench run [SUITE]`: measure. With no suite, the built-in smoke workload on the best power source.
import { resolve } from 'node:path';
import type { Command } from './command.js';
import { parseFlags, num } from './command.js';
import { loadSuite, planFromDoc, type PlannedRun, type Plan } from '../suite.js';
import { executeRun, type RunOutcome } from '../run.js';
import { createProgress, progressMode } from '../progress.js';
import { parseKeyValues, checkSourceOptFlags, probeForced, chooseSource } from '../sources.js';
import { EXIT, badInput, WattbenchError } from '../../lib/errors.js';
import { printSummary } from '../summary.js';
import type { SettingName } from '../../workloads/workload.js';

export const DEFAULTS = { repetitions: 3, idleS: 10, cooldownS: 2 } as const;

const options = {
  out: { type: 'string' }, repetitions: { type: 'string' }, 'max-repetitions': { type: 'string' }, 'target-ci': { type: 'string' },
  idle: { type: 'string' }, cooldown: { type: 'string' }, interval: { type: 'string' }, timeout: { type: 'string' },
  source: { type: 'string' }, 'source-opt': { type: 'string', multiple: true }, devices: { type: 'string' },
  workload: { type: 'string' }, set: { type: 'string', multiple: true }, python: { type: 'string' },
  'run-id': { type: 'string' }, 'record-hostname': { type: 'boolean' }, quiet: { type: 'boolean' }, progress: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const usage = `wattbench run [SUITE] [options]

Measure tokens per joule. SUITE is a YAML/JSON suite file or a built-in suite name (quick, standard); without
one, the built-in smoke workload runs on the best power source found.

  --out DIR              where results go (default results/runs/)
  --repetitions N        measured repetitions per run (default ${DEFAULTS.repetitions})
  --target-ci PCT        repeat until the 95% CI half-width of tokens/J is within PCT% (e.g. 2%)
  --max-repetitions N    upper bound for --target-ci (default 10)
  --idle S               idle baseline before the first repetition, seconds (default ${DEFAULTS.idleS}; 0 skips it)
  --cooldown S           pause after each repetition, seconds (default ${DEFAULTS.cooldownS})
  --interval MS          sampling interval (default: the source's own)
  --timeout S            stop a repetition that runs longer than this
  --source NAME          force a power source (see \`wattbench devices\`)
  --source-opt K=V       option for the source, repeatable (e.g. file=trace.csv for replay)
  --devices 0,1          measure only these device indices
  --workload ID          workload to run without a suite (default smoke)
  --set K=V              workload config value without a suite, repeatable (e.g. --set durationS=5)
  --python PATH          Python interpreter for the PyTorch workloads
  --run-id ID            name of the result file (default: time, workload and a random suffix)
  --record-hostname      put the host name in the result (left out by default)
  --quiet                no progress output, warnings still print (the same as --progress quiet)
  --progress MODE        auto | tty | plain | quiet (--quiet with another mode is refused)`;

function coerce(key: string, v: string): unknown {
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  if (v.startsWith('[') || v.startsWith('{')) {
    // a value that looks like JSON is JSON: falling back to a string would surface as "must be array" later
    try { return JSON.parse(v); } catch (err) {
      throw badInput('BAD_FLAG', `--set ${key}: the value is not valid JSON (${(err as Error).message.split('\n')[0]})`, `quote the whole value for the shell, e.g. --set '${key}=["python3","bench.py"]'`);
    }
  }
  return v;
}

/** What result files may be called (the result schema's runId pattern). */
const RUN_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Check --run-id before anything runs: it becomes the result and raw-samples file names, and a run that measured
 * for an hour must not fail at the end on its name. A plan of several runs writes ID-0 … ID-(N-1): those are checked.
 */
export function checkRunId(runId: string | undefined, runs = 1): void {
  if (runId === undefined) return;
  const longest = runs > 1 ? `${runId}-${runs - 1}` : runId;
  if (RUN_ID.test(runId) && RUN_ID.test(longest) && !/^\.+$/.test(runId)) return;
  const shown = JSON.stringify(runId.length > 40 ? `${runId.slice(0, 40)}…` : runId);
  const room = 128 - (longest.length - runId.length);
  throw badInput('BAD_FLAG', `--run-id ${shown} is not a usable file name: only letters, digits, '.', '_' and '-', not only dots, at most ${room} characters${runs > 1 ? ` (the ${runs} runs add -0 … -${runs - 1})` : ''}`, 'e.g. --run-id h100-llama-bf16');
}

/** `--out ''` would resolve to the current folder without the user saying so. */
export function outDirOf(out: string | undefined): string {
  if (out !== undefined && out.trim() === '') throw badInput('BAD_FLAG', '--out is empty', 'e.g. --out results/runs');
  return resolve(out ?? 'results/runs');
}

/** The measurement flags shared by run and serve, converted once, before anything runs. */
export function measurementFlags(f: { repetitions?: string; 'max-repetitions'?: string; 'target-ci'?: string; idle?: string; cooldown?: string; interval?: string; timeout?: string }) {
  return {
    repetitions: num(f.repetitions, '--repetitions', { integer: true, min: 1 }),
    maxRepetitions: num(f['max-repetitions'], '--max-repetitions', { integer: true, min: 1 }),
    targetCiPct: num(f['target-ci']?.replace(/%$/, ''), '--target-ci', { min: 0, exclusiveMin: true }),
    idleS: num(f.idle, '--idle', { min: 0 }),
    cooldownS: num(f.cooldown, '--cooldown', { min: 0 }),
    intervalMs: num(f.interval, '--interval', { min: 0, exclusiveMin: true }),
    timeoutS: num(f.timeout, '--timeout', { min: 0, exclusiveMin: true }),
  };
}

/**
 * A maximum that cannot take effect is refused rather than ignored: without a CI target there is nothing to
 * repeat for, and below the minimum the minimum would win. `where` says who set it (a flag, a suite entry).
 */
export function checkRepetitionBounds(s: { repetitions: number; maxRepetitions?: number; targetCiPct?: number }, where: string, code = 'BAD_FLAG'): void {
  if (s.maxRepetitions === undefined) return;
  if (s.targetCiPct === undefined) throw badInput(code, `${where}: a maximum number of repetitions is set without a CI target, so it would be ignored`, 'add --target-ci PCT (or targetCiPct in the suite), or leave out the maximum');
  if (s.maxRepetitions < s.repetitions) throw badInput(code, `${where}: the maximum number of repetitions (${s.maxRepetitions}) is below the number to run (${s.repetitions})`, 'raise --max-repetitions (maxRepetitions) or lower --repetitions (repetitions)');
}

/** One run's power source: the id forced (if any), the options per source id, and the remedy when it does not work. */
export interface RunSource { id?: string; options: Record<string, Record<string, string>>; leaveOut: string }

/**
 * Decide every run's source and options from --source, --source-opt and the suite, refusing what would be
 * silently dropped: K=V options without --source, SOURCE.K=V for a source other than --source, keys the driver
 * does not declare. `suitePath` names the suite in remedies.
 */
export function planSources(runs: PlannedRun[], flag: string | undefined, items: string[] | undefined, suitePath?: string): RunSource[] {
  const { common, scoped } = checkSourceOptFlags(flag, items);
  const scopedAll = Object.fromEntries(scoped);
  return runs.map((r, i) => {
    const suiteSrc = r.source;
    const suiteId = typeof suiteSrc === 'string' ? suiteSrc : suiteSrc?.id;
    const suiteOpts = typeof suiteSrc === 'object' && suiteSrc.options ? Object.fromEntries(Object.entries(suiteSrc.options).map(([k, v]) => [k, String(v)])) : {};
    if (flag) {
      const options = { ...(flag === suiteId ? suiteOpts : {}), ...common, ...(scoped.get(flag) ?? {}) };
      return { id: flag, options: { [flag]: options }, leaveOut: 'leave out --source to let wattbench choose' };
    }
    if (suiteId) {
      const where = suitePath ? `in ${suitePath}` : 'in the suite';
      // a source under defaults: is changed there, once, for every run that inherits it
      const at = r.sourcePointer === '/defaults/source' ? 'the source: under defaults: (/defaults/source)' : `the source: of run ${i + 1} ('${r.label}', ${r.pointer})`;
      return { id: suiteId, options: { ...scopedAll, [suiteId]: { ...suiteOpts, ...(scoped.get(suiteId) ?? {}) } }, leaveOut: `change ${at} ${where}, or remove it to let wattbench choose` };
    }
    return { options: scopedAll, leaveOut: '' };
  });
}

/**
 * Probe every distinct (source, options) the plan will use, before the first measurement: a later run's missing
 * trace or absent tool is bad input (exit 2, nothing measured), not a stop halfway through the suite. The probe is
 * the one a run does (harness/sources.ts); a run probes again when it starts, as the machine may have changed.
 */
export async function preflightSources(sources: RunSource[], deviceIndices: Array<number[] | undefined>, env: NodeJS.ProcessEnv): Promise<void> {
  const seen = new Set<string>();
  for (const [i, s] of sources.entries()) {
    const key = JSON.stringify([s.id ?? null, Object.entries(s.options).sort(([a], [b]) => a.localeCompare(b)).map(([id, o]) => [id, Object.entries(o).sort(([a], [b]) => a.localeCompare(b))]), deviceIndices[i] ?? null]);
    if (seen.has(key)) continue;
    seen.add(key);
    if (s.id) {
      const probe = await probeForced(env, s.id, s.options[s.id] ?? {}, s.leaveOut);
      const missing = (deviceIndices[i] ?? []).filter((d) => !probe.devices.some((x) => x.index === d));
      if (missing.length) throw badInput('NO_SUCH_DEVICE', `${s.id} has no device ${missing.join(', ')} (it has ${probe.devices.map((d) => d.index).join(', ')})`, 'pick indices that `wattbench devices` lists');
    } else if (sources.length > 1) {
      // automatic choice: a single run probes first thing anyway; a suite learns now that nothing works
      await chooseSource(env, undefined, (id) => s.options[id] ?? {});
    }
  }
}

export const run: Command = {
  name: 'run',
  summary: 'measure tokens per joule (a suite file, or the built-in smoke workload)',
  usage,
  async run(argv, io) {
    const { values: f, positionals } = parseFlags(argv, options, 'run');
    if (f.help) { io.stdout.write(usage + '\n'); return EXIT.OK; }
    if (positionals.length > 1) throw badInput('BAD_FLAG', `run takes at most one suite file, got ${positionals.length}`, 'run suites one at a time');
    // without a suite the workload config comes from --set: its remedies give values as --set KEY=VALUE
    const settingName: SettingName | undefined = positionals[0] ? undefined : (key, value) => (value === undefined ? key : `--set ${key}=${value}`);
    const resolveOpts = { python: f.python, env: io.env, ...(settingName ? { settingName } : {}) };
    const progress = createProgress(progressMode(f.progress, f.quiet), io.stderr);
    const outDir = outDirOf(f.out);
    const flags = measurementFlags(f);
    let plan: Plan;
    if (positionals[0]) {
      if (f.workload || f.set) throw badInput('BAD_FLAG', '--workload/--set apply only without a suite file', 'put the workload config in the suite file');
      plan = await loadSuite(positionals[0], resolveOpts);
    } else {
      const config: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(parseKeyValues(f.set, '--set'))) config[k] = coerce(k, v);
      try {
        plan = planFromDoc({ runs: [{ workload: f.workload ?? 'smoke', config }] }, 'command line', resolveOpts);
      } catch (err) {
        // the pointer and remedy speak of a suite file; here the value came from --set
        if (!(err instanceof WattbenchError) || err.code !== 'BAD_CONFIG') throw err;
        const m = /^command line: (?:.*?: )?at \/runs\/0\/config\/?([^:]*): (.*)$/s.exec(err.message);
        if (!m) throw err;
        // the workload's own remedy (in --set terms, see settingName) is kept; a schema error's (the nearest key, the
        // keys allowed, or "fix that value") is pointed at the workload's keys instead of the suite section
        const suiteReadme = /\(see README "Suite files"\)$/;
        const remedy = suiteReadme.test(err.remedy) ? err.remedy.replace(suiteReadme, '(see `wattbench run --help` and the workload\'s config keys in README "Workloads and the event protocol")') : err.remedy;
        throw badInput('BAD_FLAG', m[1] ? `--set ${m[1].split('/')[0]}: ${m[1].includes('/') ? `at ${m[1]}: ` : ''}${m[2]}` : `--set: ${m[2]}`, remedy);
      }
    }
    checkRunId(f['run-id'], plan.runs.length);
    const flagDevices = f.devices?.split(',').map((s) => num(s.trim(), '--devices', { integer: true, min: 0 })!);
    const sources = planSources(plan.runs, f.source, f['source-opt'], plan.path);
    const settings = plan.runs.map((r) => {
      const s = {
        repetitions: flags.repetitions ?? r.repetitions ?? DEFAULTS.repetitions,
        maxRepetitions: flags.maxRepetitions ?? r.maxRepetitions,
        targetCiPct: flags.targetCiPct ?? r.targetCiPct,
        idleS: flags.idleS ?? r.idleS ?? DEFAULTS.idleS,
        cooldownS: flags.cooldownS ?? r.cooldownS ?? DEFAULTS.cooldownS,
        intervalMs: flags.intervalMs ?? r.intervalMs,
        timeoutS: flags.timeoutS ?? r.timeoutS,
      };
      if (flags.maxRepetitions !== undefined) checkRepetitionBounds(s, '--max-repetitions');
      else checkRepetitionBounds(s, `${plan.path ?? 'suite'}: at ${r.pointer} ('${r.label}')`, 'BAD_CONFIG');
      return s;
    });

    // every preflight (python and torch present, the power sources each run forces, ...) before any measurement
    const software: Record<string, string> = {};
    for (const r of plan.runs) {
      const extra = await r.workload.preflight?.(r.config, resolveOpts);
      if (extra && typeof extra === 'object') Object.assign(software, extra);
      if (r.workload.preflight) r.description = r.workload.describe(r.config); // preflight may resolve 'auto' (backend)
    }
    await preflightSources(sources, plan.runs.map((r) => flagDevices ?? r.devices), io.env);

    const outcomes: RunOutcome[] = [];
    let exit: number = EXIT.OK;
    for (const [i, r] of plan.runs.entries()) {
      if (io.signal.aborted) break;
      const src = sources[i]!;
      try {
        const o = await executeRun({
          label: plan.runs.length > 1 ? `[${i + 1}/${plan.runs.length}] ${r.label}` : r.label,
          workload: r.workload, config: r.config, description: r.description,
          sourceId: src.id, sourceOptions: src.options, ...(src.leaveOut ? { sourceRemedy: src.leaveOut } : {}),
          deviceIndices: flagDevices ?? r.devices,
          ...settings[i]!,
          outDir, runId: plan.runs.length > 1 && f['run-id'] ? `${f['run-id']}-${i}` : f['run-id'],
          recordHostname: Boolean(f['record-hostname']),
          software,
          ...(plan.path ? { suite: { path: plan.path, sha256: plan.sha256!, entry: r.pointer } } : {}),
        }, progress, io.signal, io.env);
        outcomes.push(o);
        if ((o.result.status === 'failed' || o.rescued) && exit === EXIT.OK) exit = EXIT.RUN_FAILED;
      } catch (err) {
        // bad input found while starting this run (source unavailable, unwritable folder): stop, keep what is done
        if (err instanceof WattbenchError) { progress.end(); printSummary(outcomes, io.stdout); throw err; }
        throw err;
      }
    }
    progress.end();
    printSummary(outcomes, io.stdout);
    if (io.signal.aborted) return EXIT.INTERRUPTED;
    return exit;
  },
};
