// Benchmark: `wattbench report` over 1,000 result files. Target: under 5 s on the project's machines.
//
//   node --import tsx bench/report.ts [RESULT.json] [--files N] [--rounds N] [--keep DIR]
//
// Without RESULT.json it first makes one real result with the replay source (about 8 s, not timed), then clones
// it N times (default 1000) with perturbed figures across 10 chips × 2 power limits, 4 model sizes and 3 workload
// kinds (every 20th run on the estimate basis), all sharing the one raw samples file. It prints a table: the
// in-process phases (median of --rounds, default 3) and the whole CLI process as a user runs it. --keep DIR
// keeps the generated results (DIR/results) and the CLI's report (DIR/report) to look at.
import { execa } from 'execa';
import { copyFile, cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { collectResults } from '../harness/collect.js';
import { buildReport, writeReport } from '../reports/index.js';
import { validateResult } from '../results/validate.js';
import type { WattbenchResult } from '../results/types.gen.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'wattbench.js');
const TARGET_S = 5;

const { values: flags, positionals } = parseArgs({ allowPositionals: true, options: { files: { type: 'string' }, rounds: { type: 'string' }, keep: { type: 'string' } } });
const N = Number(flags.files ?? 1000);
const ROUNDS = Number(flags.rounds ?? 3);

async function realResult(work: string): Promise<string> {
  if (positionals[0]) return positionals[0];
  const trace = join(work, 'trace.csv');
  const lines = ['t_s,power_w'];
  for (let i = 0; i < 240; i++) lines.push(`${(i * 0.05).toFixed(2)},${(i < 24 ? 60 : 280 + 20 * Math.sin(i / 7)).toFixed(1)}`);
  await writeFile(trace, lines.join('\n') + '\n');
  const out = join(work, 'seed');
  const r = await execa(process.execPath, [BIN, 'run', '--source', 'replay', '--source-opt', `file=${trace}`, '--source-opt', 'device-name=Seed', '--source-opt', 'power-limit-w=300',
    '--idle', '1', '--repetitions', '2', '--set', 'durationS=1', '--cooldown', '0', '--quiet', '--out', out], { reject: false });
  if (r.exitCode !== 0) throw new Error(`wattbench run failed: ${r.stderr}`);
  const f = (await readdir(out)).find((x) => x.endsWith('.json'));
  if (!f) throw new Error('no result written');
  return join(out, f);
}

function perturb(seed: WattbenchResult, i: number): WattbenchResult {
  const r = structuredClone(seed);
  // every chip meets every model size and kind: chip varies fastest, then size, kind, power limit
  const sizes = ['1b', '7b', '13b', '70b'], kinds = ['train', 'infer', 'serve'] as const;
  const chip = i % 10, size = Math.floor(i / 10) % 4, kind = Math.floor(i / 40) % 3, limit = Math.floor(i / 120) % 2 ? 400 : 300;
  // deterministic spread: chip and size shape the efficiency, a small wobble per run
  const f = (1 + chip * 0.15) * (1 + 0.05 * Math.sin(i)) / (1 + size * 0.8);
  r.runId = `bench-${String(i).padStart(4, '0')}`;
  for (const d of r.devices) { d.name = `Bench chip ${String.fromCharCode(65 + chip)}`; d.powerLimitW = limit; }
  r.workload.modelSize = sizes[size];
  r.workload.kind = kinds[kind];
  for (const rep of r.repetitions) {
    if (!rep.figures) continue;
    rep.figures.tokensPerS *= f;
    if (rep.figures.tokensPerJ !== null) rep.figures.tokensPerJ *= f;
    if (rep.figures.joulesPerToken !== null) rep.figures.joulesPerToken /= f;
  }
  if (r.summary) {
    for (const k of ['tokensPerJ', 'tokensPerS'] as const) for (const p of ['mean', 'ci95Low', 'ci95High', 'min', 'max', 'sd', 'ci95HalfWidth'] as const) { const v = r.summary[k][p]; if (typeof v === 'number') (r.summary[k] as unknown as Record<string, number>)[p] = v * f; }
    for (const p of ['mean', 'ci95Low', 'ci95High', 'min', 'max', 'sd', 'ci95HalfWidth'] as const) { const v = r.summary.joulesPerToken[p]; if (typeof v === 'number') (r.summary.joulesPerToken as unknown as Record<string, number>)[p] = v / f; }
  }
  if (i % 20 === 19) {
    const used = r.sources.find((s) => s.state === 'used');
    if (used && used.state === 'used') { used.scope = 'estimated'; used.semantics = { kind: 'estimated' }; }
    if (r.fidelity) r.fidelity = { ...r.fidelity, grade: 'D', energyErrorBoundPct: null };
  }
  return r;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const work = await mkdtemp(join(tmpdir(), 'wattbench-bench-report-'));
  try {
    const seedPath = await realResult(work);
    const seed = JSON.parse(await readFile(seedPath, 'utf8')) as WattbenchResult;
    const dir = join(work, 'results');
    await mkdir(dir, { recursive: true });
    await copyFile(join(dirname(seedPath), seed.rawSamples.file), join(dir, basename(seed.rawSamples.file)));
    for (let i = 0; i < N; i++) {
      const r = perturb(seed, i);
      if (i < 25 || i % 97 === 0) { const v = validateResult(r); if (!v.ok) throw new Error(`clone ${i} invalid: ${JSON.stringify(v.problems)}`); }
      await writeFile(join(dir, `${r.runId}.json`), JSON.stringify(r, null, 2));
    }
    const rows: Array<[string, number[]]> = [];
    const add = (name: string, ms: number) => { let row = rows.find((r) => r[0] === name); if (!row) rows.push((row = [name, []])); row[1].push(ms); };
    // CPU time next to wall time: on a shared machine the wall clock also counts other people's work
    const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
    for (let round = 0; round < ROUNDS; round++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const { ok, invalid } = await collectResults([dir]);
      const t1 = performance.now();
      if (ok.length !== N) throw new Error(`expected ${N} valid results, got ${ok.length} (${invalid[0]?.reason})`);
      const { timings } = await buildReport(ok, invalid, { currency: '$', pricePerKWh: 0.12, pue: 1.2, carbonGPerKWh: 350 });
      const t2 = performance.now();
      add('in-process total, CPU time', cpuMs(process.cpuUsage(c0)));
      await writeReport(ok, invalid, join(work, `out-${round}`), { currency: '$' });
      const t3 = performance.now();
      add('collect: read + validate', t1 - t0);
      add('model (matrix, cells, stats)', timings.modelMs);
      add('read raw samples (charted runs)', timings.tracesMs);
      add('charts (vega-lite → SVG)', timings.chartsMs);
      add('render report.html', timings.htmlMs);
      add('render report.md', timings.mdMs);
      add('render results.csv', timings.csvMs);
      add('in-process total (collect + build)', t2 - t0);
      add('writeReport (build + write 3 files)', t3 - t2);
    }
    const haveTime = existsSync('/usr/bin/time');
    for (let round = 0; round < ROUNDS; round++) {
      const t = performance.now();
      const argv = [BIN, 'report', dir, '--out', join(work, `cli-${round}`), '--price-per-kwh', '0.12'];
      // GNU time reports the child's own CPU seconds (user + system) on stderr's last line
      const r = haveTime ? await execa('/usr/bin/time', ['-f', 'cpu %U %S', process.execPath, ...argv], { reject: false }) : await execa(process.execPath, argv, { reject: false });
      if (r.exitCode !== 0) throw new Error(`wattbench report failed: ${r.stderr}`);
      add('CLI process: wattbench report (wall)', performance.now() - t);
      const m = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(String(r.stderr));
      if (m) add('CLI process: CPU time', (Number(m[1]) + Number(m[2])) * 1000);
    }
    const html = await readFile(join(work, 'cli-0', 'report.html'), 'utf8');
    if (flags.keep) {
      await cp(join(work, 'cli-0'), join(flags.keep, 'report'), { recursive: true });
      await cp(dir, join(flags.keep, 'results'), { recursive: true });
    }
    const w = Math.max(...rows.map((r) => r[0].length));
    console.log(`\nwattbench report over ${N} result files (${ROUNDS} rounds; node ${process.version}; report.html ${(html.length / 1e6).toFixed(1)} MB; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')})\n`);
    console.log(`${'phase'.padEnd(w)}  ${'median ms'.padStart(10)}  ${'min ms'.padStart(8)}  ${'max ms'.padStart(8)}`);
    console.log(`${'-'.repeat(w)}  ${'-'.repeat(10)}  ${'-'.repeat(8)}  ${'-'.repeat(8)}`);
    for (const [name, xs] of rows) console.log(`${name.padEnd(w)}  ${median(xs).toFixed(0).padStart(10)}  ${Math.min(...xs).toFixed(0).padStart(8)}  ${Math.max(...xs).toFixed(0).padStart(8)}`);
    const cli = median(rows.find((r) => r[0].startsWith('CLI'))![1]) / 1000;
    console.log(`\ntarget: under ${TARGET_S} s for the whole command → ${cli.toFixed(2)} s ${cli < TARGET_S ? '(met)' : '(NOT met)'}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
