// The harness's own overhead while it samples: 8 replayed devices at 100 ms for 60 s. Measures the wattbench
// process only (its /proc/<pid>/stat utime+stime and /proc/<pid>/status VmRSS/VmHWM), not the workload it runs.
// Targets (issue 7): under 2% of one core, under 150 MB resident.
//   node --import tsx bench/overhead.ts [--duration 60]
// Two cases: `wattbench sample` (sampling only) and `wattbench run` with a workload that only sleeps (sampling plus
// the raw-samples file, progress and analysis). CPU is reported for the steady part (after start-up: tsx compiles
// the sources and every power source is probed once) and for the whole process.
import { execa } from 'execa';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

// Child mode: the `sample` command alone, without the CLI's command map (which loads every command, the report
// renderer's vega and vega-lite included) — what lazy-loaded commands would cost.
if (process.argv[2] === '--child-sample') {
  const { sample } = await import('../harness/commands/sample.js');
  const code = await sample.run(process.argv.slice(3), { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: new AbortController().signal });
  process.exit(code);
}

const BIN = join(ROOT, 'bin', 'wattbench.js');
const arg = (name: string, dflt: number) => { const i = process.argv.indexOf(name); return i > 0 ? Number(process.argv[i + 1]) : dflt; };
const DURATION_S = arg('--duration', 60);
const DEVICES = 8, INTERVAL_MS = 100;
const STARTUP_S = 6; // CPU before this is start-up, reported apart
const TICK_S = Number((await execa('getconf', ['CLK_TCK'])).stdout.trim()) || 100;

interface Probe { wallS: number; cpuS: number; rssKiB: number; hwmKiB: number }

async function readProc(pid: number): Promise<Omit<Probe, 'wallS'> | null> {
  try {
    const [stat, status] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/status`, 'utf8')]);
    // fields after the command name, which may contain spaces: state is field 3, utime 14, stime 15
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuS = (Number(rest[11]) + Number(rest[12])) / TICK_S;
    const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    if (rest[0] === 'Z') return null;
    return { cpuS, rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
  } catch { return null; }
}

async function measure(label: string, args: string[], argv0: string[] = [BIN]) {
  const t0 = performance.now();
  const child = execa(process.execPath, [...argv0, ...args], { cwd: ROOT, reject: false, env: { CI: '1' } });
  const probes: Probe[] = [];
  const pid = child.pid!;
  const timer = setInterval(async () => {
    const p = await readProc(pid);
    if (p) probes.push({ wallS: (performance.now() - t0) / 1000, ...p });
  }, 500);
  const r = await child;
  clearInterval(timer);
  if (r.exitCode !== 0) throw new Error(`${label}: exit ${r.exitCode}\n${r.stderr}`);
  const wallS = (performance.now() - t0) / 1000;
  // steady: from the end of start-up to the end of sampling (the final analysis and result writing come after)
  const start = probes.find((p) => p.wallS >= STARTUP_S)!;
  const stop = [...probes].reverse().find((p) => p.wallS <= STARTUP_S + DURATION_S - 2) ?? probes[probes.length - 1]!;
  const last = probes[probes.length - 1]!;
  const steady = probes.filter((p) => p.wallS >= start.wallS && p.wallS <= stop.wallS).map((p) => p.rssKiB).sort((a, b) => a - b);
  return {
    label, wallS, steadyPct: (100 * (stop.cpuS - start.cpuS)) / (stop.wallS - start.wallS), steadyS: stop.wallS - start.wallS,
    startupCpuS: start.cpuS, totalCpuS: last.cpuS,
    rssSteadyMiB: steady[steady.length >> 1]! / 1024, hwmMiB: last.hwmKiB / 1024,
  };
}

const dir = await mkdtemp(join(tmpdir(), 'wb-overhead-'));
// 8 devices, 100 ms apart, 30 s of varying power (replay loops it)
const rows = ['t_s,power_w,device'];
for (let i = 0; i < 300; i++) for (let d = 0; d < DEVICES; d++) rows.push(`${(i * INTERVAL_MS / 1000).toFixed(3)},${(300 + 100 * Math.sin(i / 7 + d)).toFixed(2)},${d}`);
const trace = join(dir, 'eight-devices.csv');
await writeFile(trace, rows.join('\n') + '\n');
const sleeper = join(dir, 'sleep.mjs');
await writeFile(sleeper, `const emit = (e) => process.stdout.write(JSON.stringify(e) + '\\n');
emit({ event: 'window_start' });
setTimeout(() => { emit({ event: 'tokens', tokens: 1000 }); emit({ event: 'window_end' }); }, ${DURATION_S * 1000});\n`);

const results = [
  await measure('sample', ['sample', '--source', 'replay', '--source-opt', `file=${trace}`, '--duration', String(DURATION_S), '--interval', String(INTERVAL_MS)]),
  await measure('run (sleeping workload)', ['run', '--source', 'replay', '--source-opt', `file=${trace}`, '--interval', String(INTERVAL_MS), '--workload', 'command',
    '--set', `command=["${process.execPath}","${sleeper}"]`, '--idle', '0', '--cooldown', '0', '--repetitions', '1', '--quiet', '--out', join(dir, 'runs')]),
  await measure('sample, its command module alone', ['--source', 'replay', '--source-opt', `file=${trace}`, '--duration', String(DURATION_S), '--interval', String(INTERVAL_MS)],
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--child-sample']),
];
console.log(`${DEVICES} replayed devices at ${INTERVAL_MS} ms for ${DURATION_S} s (${DEVICES * DURATION_S * 1000 / INTERVAL_MS} samples); node ${process.versions.node}\n`);
console.log('| command | CPU while sampling (% of one core) | over (s) | CPU, start-up (s) | CPU, whole process (s) | wall (s) | RSS while sampling, median (MiB) | peak RSS, VmHWM (MiB) |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of results) console.log(`| ${r.label} | ${r.steadyPct.toFixed(2)} | ${r.steadyS.toFixed(0)} | ${r.startupCpuS.toFixed(2)} | ${r.totalCpuS.toFixed(2)} | ${r.wallS.toFixed(1)} | ${r.rssSteadyMiB.toFixed(0)} | ${r.hwmMiB.toFixed(0)} |`);
const worst = results.reduce((a, r) => ({ cpu: Math.max(a.cpu, r.steadyPct), mem: Math.max(a.mem, r.rssSteadyMiB), peak: Math.max(a.peak, r.hwmMiB) }), { cpu: 0, mem: 0, peak: 0 });
const mb = (mib: number) => (mib * 1.048576).toFixed(0);
console.log(`\ntargets: < 2% of one core → ${worst.cpu < 2 ? 'met' : 'MISSED'} (${worst.cpu.toFixed(2)}%); < 150 MB resident while sampling → ${worst.mem * 1.048576 < 150 ? 'met' : 'MISSED'} (${mb(worst.mem)} MB; peak ${mb(worst.peak)} MB)`);
