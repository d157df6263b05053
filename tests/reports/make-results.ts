// Builds the report tests' result files once, with the real pipeline (`wattbench run` on the replay and estimate
// sources), and shares them between test files through a cache folder keyed on everything that shapes them.
//
// What it makes (two chips, three model-size × workload columns, plus an estimated run):
//   a-smoke   "Accel A" ×1 · 350 W, smoke workload (model size 'smoke', infer)
//   a-large   same chip, a larger smoke model, model size edited to 'smoke-l' in a re-validated copy
//   a-train   same chip, the command workload with a protocol script, kind train, model size edited to a payload
//   b-smoke   XSS-named chip ×2 · 250 W, smoke
//   b-large   same, 'smoke-l'
//   est       the estimate source (host CPU, scope 'estimated', grade D), smoke
// Device and model-size names carry HTML payloads on purpose: the reports must show them as text.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT, runCli, resultFiles, writeConstantTrace } from '../helpers/cli.js';
import { validateResult } from '../../results/validate.js';
import { reanalyse } from '../../harness/commands/analyse.js';
import type { Sample, SampleRecord } from '../../results/samples.js';
import type { WattbenchResult } from '../../results/types.gen.js';

export const XSS_CHIP = 'Chip B <script>window.__xss=1</script>';
export const XSS_SIZE = 'tiny"><img src=x onerror="window.__xss=2">';
export const CHIP_A = 'Accel A';

export interface MadeResults {
  dir: string;
  /** label → result file */
  files: Record<'a-smoke' | 'a-large' | 'a-train' | 'b-smoke' | 'b-large' | 'est', string>;
}

const TRAIN_SCRIPT = join(ROOT, 'tests', 'fixtures', 'reports', 'train-protocol.mjs');

/** A replay trace in the CSV format the replay source reads: idle for the first 1.2 s, then load with a ripple. */
export function traceCsv(devices: string[], idleW: number, loadW: number, rippleW: number, seconds = 12, stepS = 0.05): string {
  const lines = ['t_s,power_w,device'];
  for (let i = 0; i * stepS < seconds; i++) {
    const t = i * stepS;
    for (const [k, d] of devices.entries()) {
      const p = t < 1.2 ? idleW + 0.8 * Math.sin(i + k) : loadW + rippleW * Math.sin(t * 2.1 + k);
      lines.push(`${t.toFixed(3)},${p.toFixed(2)},${d}`);
    }
  }
  return lines.join('\n') + '\n';
}

function cacheKey(): string {
  const h = createHash('sha256');
  // everything whose change would change the files: this helper, the protocol script, the schema, the run path
  for (const f of ['tests/reports/make-results.ts', 'tests/fixtures/reports/train-protocol.mjs', 'results/schema.json', 'harness/run.ts', 'harness/analyse.ts', 'harness/energy.ts', 'harness/fidelity.ts', 'drivers/replay.ts', 'drivers/estimate.ts', 'workloads/smoke.ts']) {
    const p = join(ROOT, f);
    h.update(f).update(existsSync(p) ? readFileSync(p) : '');
  }
  return h.digest('hex').slice(0, 16);
}

async function runOne(out: string, args: string[]): Promise<string> {
  const r = await runCli(['run', '--idle', '1', '--repetitions', '2', '--cooldown', '0', '--quiet', '--out', out, ...args], { timeoutMs: 180_000 });
  if (r.exitCode !== 0) throw new Error(`wattbench run failed (${r.exitCode}): ${r.stderr}\n${r.stdout}`);
  const files = (await readdir(out)).filter((f) => f.endsWith('.json'));
  if (files.length !== 1) throw new Error(`expected one result in ${out}, found ${files.join(', ')}`);
  return join(out, files[0]!);
}

/** Edit a result (model size), keep it valid, write it as a new file beside the raw samples, remove the old. */
async function editModelSize(file: string, modelSize: string): Promise<string> {
  const r = JSON.parse(await readFile(file, 'utf8'));
  r.workload.modelSize = modelSize;
  r.runId = `${r.runId}-edited`;
  const v = validateResult(r);
  if (!v.ok) throw new Error(`edited result is invalid: ${JSON.stringify(v.problems)}`);
  const out = file.replace(/\.json$/, '-edited.json');
  await writeFile(out, JSON.stringify(r, null, 2) + '\n');
  await unlink(file);
  return out;
}

async function build(dir: string): Promise<MadeResults['files']> {
  await mkdir(dir, { recursive: true });
  const traceA = join(dir, 'trace-a.csv');
  const traceB = join(dir, 'trace-b.csv');
  await writeFile(traceA, traceCsv(['0'], 62, 290, 25));
  await writeFile(traceB, traceCsv(['0', '1'], 40, 160, 12));
  const chipA = ['--source', 'replay', '--source-opt', `file=${traceA}`, '--source-opt', `device-name=${CHIP_A}`, '--source-opt', 'power-limit-w=350'];
  const chipB = ['--source', 'replay', '--source-opt', `file=${traceB}`, '--source-opt', `device-name=${XSS_CHIP}`, '--source-opt', 'power-limit-w=250'];
  const large = ['--set', 'dModel=256', '--set', 'layers=6'];
  const jobs: Array<[keyof MadeResults['files'], string[], string | null]> = [
    ['a-smoke', [...chipA, '--set', 'durationS=1'], null],
    ['b-smoke', [...chipB, '--set', 'durationS=1'], null],
    ['a-large', [...chipA, '--set', 'durationS=1', ...large], 'smoke-l'],
    ['b-large', [...chipB, '--set', 'durationS=1', ...large], 'smoke-l'],
    ['a-train', [...chipA, '--workload', 'command', '--set', `command=${JSON.stringify([process.execPath, TRAIN_SCRIPT, '1.2'])}`, '--set', 'kind=train', '--set', 'name=train steps'], XSS_SIZE],
    // the estimate source updates every 50 ms here, so a 1 s window still has its 10 sensor updates
    ['est', ['--source', 'estimate', '--interval', '50', '--set', 'durationS=1'], null],
  ];
  const files = {} as MadeResults['files'];
  // two at a time: the machine has two cores and each run is mostly waiting on its clock
  for (let i = 0; i < jobs.length; i += 2) {
    await Promise.all(jobs.slice(i, i + 2).map(async ([label, args, size]) => {
      const out = join(dir, label);
      let f = await runOne(out, args);
      if (size) f = await editModelSize(f, size);
      files[label] = f;
    }));
  }
  return files;
}

let memo: Promise<MadeResults> | undefined;

/** The shared result set; built on first use, then reused by every test file until the inputs change. */
export function makeResults(): Promise<MadeResults> {
  return (memo ??= (async () => {
    const base = join(tmpdir(), `wattbench-report-results-${cacheKey()}`);
    // not *.json: the folder is handed to `wattbench report`, which reads every .json in it
    const index = join(base, 'files.index');
    const lock = `${base}.lock`;
    const deadline = Date.now() + 6 * 60_000;
    for (;;) {
      if (existsSync(index)) return { dir: base, files: JSON.parse(await readFile(index, 'utf8')) };
      try {
        await mkdir(lock);
      } catch {
        // another test file is building: wait for it, unless its lock is stale (a killed run)
        const st = statSync(lock, { throwIfNoEntry: false });
        const age = st ? Date.now() - st.mtimeMs : 0;
        if (age > 5 * 60_000) await rm(lock, { recursive: true, force: true });
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      try {
        const work = `${base}.build-${process.pid}`;
        await rm(work, { recursive: true, force: true });
        const files = await build(work);
        const moved = Object.fromEntries(Object.entries(files).map(([k, f]) => [k, f.replace(work, base)]));
        await writeFile(join(work, 'files.index'), JSON.stringify(moved, null, 2));
        try {
          await rename(work, base);
        } catch {
          // someone published the same set meanwhile (a stale lock was taken over): theirs may be in use, keep it
          await rm(work, { recursive: true, force: true });
          continue;
        }
        return { dir: base, files: moved as MadeResults['files'] };
      } finally {
        await rm(lock, { recursive: true, force: true });
      }
    }
  })());
}

export interface ServeRunOptions {
  /** The OpenAI-compatible server (tests/serve/fake-server.ts). */
  url: string;
  model: string;
  /** Folder for the results (and the power trace). */
  out: string;
  /** '--concurrency' value: one level, or a comma list for a sweep (one result per level). */
  concurrency?: string;
  /** '--rate' value (req/s), instead of concurrency. */
  rate?: string;
  requests?: number;
  repetitions?: number;
  /** Constant power the replay source reports, W. */
  powerW?: number;
  deviceName?: string;
  extra?: string[];
}

/** Real serve results: `wattbench serve` against a server, power replayed from a constant trace. Result files, sorted. */
export async function runServe(o: ServeRunOptions): Promise<string[]> {
  await mkdir(o.out, { recursive: true });
  const trace = await writeConstantTrace(o.out, o.powerW ?? 200, 60, 0.02);
  const load = o.rate !== undefined ? ['--rate', o.rate] : ['--concurrency', o.concurrency ?? '2'];
  // the trace sits in the results folder: keep it out of *.json, which `wattbench report` reads
  const r = await runCli(['serve', '--url', o.url, '--model', o.model, ...load, '--requests', String(o.requests ?? 24), '--input-tokens', '8', '--output-tokens', '16',
    '--source', 'replay', '--source-opt', `file=${trace}`, ...(o.deviceName ? ['--source-opt', `device-name=${o.deviceName}`] : []),
    '--idle', '0.3', '--cooldown', '0', '--quiet', '--repetitions', String(o.repetitions ?? 2), '--out', o.out, ...(o.extra ?? [])], { timeoutMs: 180_000 });
  if (r.exitCode !== 0) throw new Error(`wattbench serve failed (${r.exitCode}): ${r.stderr}\n${r.stdout}`);
  return resultFiles(o.out);
}

/** What a test adds to a raw sample's record: any of the telemetry fields of results/samples.ts Sample. */
export type SampleTelemetry = Pick<Sample, 'temperatureC' | 'smClockMHz' | 'memClockMHz' | 'utilizationPct' | 'memoryUsedMiB' | 'throttleReasons'>;

/**
 * A copy of a real result whose raw samples carry device telemetry (the replay source records power only): every
 * sample record of the source gets `telemetry(sample)`, and the run is re-analysed from the rewritten samples by
 * the real `wattbench analyse` code, so its repetitions' diagnostics and THROTTLED warnings are the harness's own.
 * Written under `dir` as RUNID.json beside RUNID.samples.jsonl, validated. Returns the result file.
 */
export async function withTelemetry(src: string, dir: string, runId: string, telemetry: (s: Sample) => SampleTelemetry): Promise<string> {
  await mkdir(dir, { recursive: true });
  const original = JSON.parse(await readFile(src, 'utf8')) as WattbenchResult;
  const lines = (await readFile(join(dirname(src), original.rawSamples.file), 'utf8')).split('\n').filter((l) => l.trim());
  const samplesFile = `${runId}.samples.jsonl`;
  await writeFile(join(dir, samplesFile), lines.map((l) => {
    const rec = JSON.parse(l) as SampleRecord;
    return JSON.stringify(rec.type === 'sample' ? { ...rec, ...telemetry(rec) } : rec);
  }).join('\n') + '\n');
  const out = join(dir, `${runId}.json`);
  const redone = await reanalyse({ ...original, runId, rawSamples: { ...original.rawSamples, file: samplesFile } }, out);
  const v = validateResult(redone);
  if (!v.ok) throw new Error(`re-analysed result is invalid: ${JSON.stringify(v.problems)}`);
  await writeFile(out, JSON.stringify(redone, null, 2) + '\n');
  return out;
}

/**
 * A real `wattbench run` on the nvidia-smi source, with tests/fakes/nvidia/nvidia-smi first on PATH replaying
 * `captureCsv` (the `-lms` CSV format, looped): power, temperature, clocks, utilization, memory and the clock-event
 * mask go through the real driver's parser. Returns the result file (RUNID.json in `out`).
 */
export async function runNvidiaSmiFake(o: { out: string; runId: string; captureCsv: string; extra?: string[] }): Promise<string> {
  await mkdir(o.out, { recursive: true });
  const fake = join(ROOT, 'tests', 'fakes', 'nvidia');
  chmodSync(join(fake, 'nvidia-smi'), 0o755); // a checkout may drop the bit
  // the capture sits beside the results folder: `wattbench report` reads every .json inside it
  const capture = join(o.out, '..', `${o.runId}.capture.csv`);
  await writeFile(capture, o.captureCsv);
  const r = await runCli(['run', '--source', 'nvidia-smi', '--source-opt', 'stdbuf=false', '--idle', '0.5', '--repetitions', '2', '--cooldown', '0', '--set', 'durationS=1',
    '--quiet', '--run-id', o.runId, '--out', o.out, ...(o.extra ?? [])], { env: { PATH: `${fake}:${process.env.PATH ?? ''}`, FAKE_NVSMI_CAPTURE: capture }, timeoutMs: 180_000 });
  if (r.exitCode !== 0) throw new Error(`wattbench run (fake nvidia-smi) failed (${r.exitCode}): ${r.stderr}\n${r.stdout}`);
  return join(o.out, `${o.runId}.json`);
}
