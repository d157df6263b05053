// Test helpers: run the real CLI as a process, make temp dirs, find the shared fixtures.
import { execa } from 'execa';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'wattbench.js');
export const FIXTURES = join(ROOT, '..', 'shared', 'fixtures');
export const HAVE_FIXTURES = existsSync(FIXTURES);
if (!HAVE_FIXTURES) console.log(`note: ${FIXTURES} is absent (a fresh clone); tests over the real-capture corpus are skipped`);

export async function tempDir(prefix = 'wb-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export interface CliResult { exitCode: number; stdout: string; stderr: string }

export async function runCli(args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const r = await execa(process.execPath, [BIN, ...args], { env: { ...opts.env, CI: '1' }, cwd: opts.cwd ?? ROOT, reject: false, timeout: opts.timeoutMs ?? 120_000 });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** The result files (not raw samples) in a folder. */
export async function resultFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.json')).map((f) => join(dir, f)).sort();
}

export async function readJson<T = any>(p: string): Promise<T> {
  return JSON.parse(await readFile(p, 'utf8')) as T;
}

/** A constant-power CSV trace for the replay source. */
export async function writeConstantTrace(dir: string, powerW: number, seconds = 5, stepS = 0.05, devices = ['0']): Promise<string> {
  const lines = ['t_s,power_w,device'];
  for (let t = 0; t < seconds; t += stepS) for (const d of devices) lines.push(`${t.toFixed(3)},${powerW},${d}`);
  const p = join(dir, `trace-${powerW}w.csv`);
  await writeFile(p, lines.join('\n') + '\n');
  return p;
}

/** A node script that speaks the event protocol; `body` runs between the protocol steps it asks for. */
export async function writeScript(dir: string, name: string, source: string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, source);
  return p;
}

/**
 * A workload (for `--workload command`) that writes the named environment variables it was given to a JSON file
 * ({VAR: value or null}), then measures one short window: to check what a driver shows the workload.
 */
/** A protocol workload: one window of windowMs, then `tokens` tokens; its argv for `--set command=…`. */
export async function writeWindowWorkload(dir: string, windowMs: number, tokens: number): Promise<string> {
  const script = await writeScript(dir, 'window.mjs', `const e = (x) => console.log(JSON.stringify(x));
    e({ event: 'window_start' }); await new Promise((r) => setTimeout(r, ${windowMs})); e({ event: 'tokens', tokens: ${tokens} }); e({ event: 'window_end' });`);
  return `command=${JSON.stringify([process.execPath, script])}`;
}

export async function writeEnvWorkload(dir: string, vars: string[], windowMs = 600): Promise<{ script: string; seen: string }> {
  const seen = join(dir, 'seen-env.json');
  const script = await writeScript(dir, 'show-env.mjs', `
    import { writeFileSync } from 'node:fs';
    const vars = ${JSON.stringify(vars)};
    writeFileSync(${JSON.stringify(seen)}, JSON.stringify(Object.fromEntries(vars.map((v) => [v, process.env[v] ?? null]))));
    const emit = (e) => console.log(JSON.stringify(e));
    emit({ event: 'window_start' });
    await new Promise((r) => setTimeout(r, ${windowMs}));
    emit({ event: 'tokens', tokens: 1000 });
    emit({ event: 'window_end' });
  `);
  return { script, seen };
}
