// `wattbench run [SUITE]`: measure. With no suite, the built-in smoke workload on the best power source.
import { resolve } from 'node:path';
import type { Command } from './command.js';
import { parseFlags, num } from './command.js';
import { loadSuite, planFromDoc, type PlannedRun, type Plan } from '../suite.js';
import { executeRun, type RunOutcome } from '../run.js';
import { createProgress } from '../progress.js';
import { parseKeyValues, checkSourceId } from '../sources.js';
import { EXIT, badInput, WattbenchError } from '../../lib/errors.js';
import { printSummary } from '../summary.js';

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
  --quiet                no progress output
  --progress MODE        auto | tty | plain | quiet`;

function coerce(v: string): unknown {
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (v !== '' && Number.isFinite(Number(v))) return Number(v);
  if (v.startsWith('[') || v.startsWith('{')) { try { return JSON.parse(v); } catch { /* a string */ } }
  return v;
}

export const run: Command = {
  name: 'run',
  summary: 'measure tokens per joule (a suite file, or the built-in smoke workload)',
  usage,
  async run(argv, io) {
    const { values: f, positionals } = parseFlags(argv, options, 'run');
    if (f.help) { io.stdout.write(usage + '\n'); return EXIT.OK; }
    if (positionals.length > 1) throw badInput('BAD_FLAG', `run takes at most one suite file, got ${positionals.length}`, 'run suites one at a time');
    const resolveOpts = { python: f.python, env: io.env };
    let plan: Plan;
    if (positionals[0]) {
      if (f.workload || f.set) throw badInput('BAD_FLAG', '--workload/--set apply only without a suite file', 'put the workload config in the suite file');
      plan = await loadSuite(positionals[0], resolveOpts);
    } else {
      const config: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(parseKeyValues(f.set, '--set'))) config[k] = coerce(v);
      plan = planFromDoc({ runs: [{ workload: f.workload ?? 'smoke', config }] }, 'command line', resolveOpts);
    }
    if (f.source) checkSourceId(f.source);
    const cliOpts = parseKeyValues(f['source-opt'], '--source-opt');
    const flagDevices = f.devices?.split(',').map((s) => num(s.trim(), '--devices', { integer: true, min: 0 })!);
    const progress = createProgress(f.quiet ? 'quiet' : ((f.progress as 'auto') ?? 'auto'), io.stderr);
    const outDir = resolve(f.out ?? 'results/runs');

    // every preflight (python and torch present, ...) before any measurement
    const software: Record<string, string> = {};
    for (const r of plan.runs) {
      const extra = await r.workload.preflight?.(r.config, resolveOpts);
      if (extra && typeof extra === 'object') Object.assign(software, extra);
      if (r.workload.preflight) r.description = r.workload.describe(r.config); // preflight may resolve 'auto' (backend)
    }

    const outcomes: RunOutcome[] = [];
    let exit: number = EXIT.OK;
    for (const [i, r] of plan.runs.entries()) {
      if (io.signal.aborted) break;
      const src = sourceOf(r, f.source, cliOpts);
      try {
        const o = await executeRun({
          label: plan.runs.length > 1 ? `[${i + 1}/${plan.runs.length}] ${r.label}` : r.label,
          workload: r.workload, config: r.config, description: r.description,
          sourceId: src.id, sourceOptions: src.id ? { [src.id]: src.options } : {},
          deviceIndices: flagDevices ?? r.devices,
          repetitions: num(f.repetitions, '--repetitions', { integer: true, min: 1 }) ?? r.repetitions ?? DEFAULTS.repetitions,
          maxRepetitions: num(f['max-repetitions'], '--max-repetitions', { integer: true, min: 1 }) ?? r.maxRepetitions,
          targetCiPct: num(f['target-ci']?.replace(/%$/, ''), '--target-ci', { min: 0, exclusiveMin: true }) ?? r.targetCiPct,
          idleS: num(f.idle, '--idle', { min: 0 }) ?? r.idleS ?? DEFAULTS.idleS,
          cooldownS: num(f.cooldown, '--cooldown', { min: 0 }) ?? r.cooldownS ?? DEFAULTS.cooldownS,
          intervalMs: num(f.interval, '--interval', { min: 0, exclusiveMin: true }) ?? r.intervalMs,
          timeoutS: num(f.timeout, '--timeout', { min: 0, exclusiveMin: true }) ?? r.timeoutS,
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

function sourceOf(r: PlannedRun, flag: string | undefined, cliOpts: Record<string, string>): { id?: string; options: Record<string, string> } {
  const suiteSrc = r.source;
  const suiteId = typeof suiteSrc === 'string' ? suiteSrc : suiteSrc?.id;
  const suiteOpts = typeof suiteSrc === 'object' && suiteSrc.options ? Object.fromEntries(Object.entries(suiteSrc.options).map(([k, v]) => [k, String(v)])) : {};
  const id = flag ?? suiteId;
  return { id, options: { ...(id === suiteId ? suiteOpts : {}), ...cliOpts } };
}
