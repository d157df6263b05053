// Shared by the fault suite (tests/faults/): run the real CLI as a child process while watching its memory, make
// fake tools and fake workloads in temp folders, check that processes are really gone, count the results that
// survived, and record every injected fault in a ledger that bench/faults.ts turns into the README table.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadResult } from '../../results/io.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'wattbench.js');
export const NODE = process.execPath;

export async function tempDir(prefix = 'wb-fault-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

// ───────────────────────────── the ledger ─────────────────────────────

export interface FaultRecord {
  row: string;
  fault: string;
  survived: boolean;
  /** Result files the run(s) should have left (0 where the right outcome is a refusal before anything ran). */
  resultsExpected: number;
  /** Of those, how many exist and pass the schema. */
  resultsFound: number;
  note?: string;
}

export const LEDGER = process.env.WATTBENCH_FAULTS_LEDGER ?? join(tmpdir(), 'wattbench-faults-ledger.jsonl');

/**
 * Inject one fault: runs `body`, which asserts the outcome and returns how many results were expected and found.
 * Whatever happens, one ledger line is written; a failed assertion counts as not survived (and fails the test).
 */
export async function fault(row: string, name: string, body: () => Promise<{ expected: number; found: number; note?: string } | void>): Promise<void> {
  let rec: FaultRecord = { row, fault: name, survived: false, resultsExpected: 0, resultsFound: 0 };
  try {
    const r = await body();
    rec = { ...rec, survived: true, resultsExpected: r?.expected ?? 0, resultsFound: r?.found ?? 0, ...(r?.note ? { note: r.note } : {}) };
  } catch (err) {
    rec.note = String((err as Error).message ?? err).split('\n')[0]!.slice(0, 200);
    throw err;
  } finally {
    appendFileSync(LEDGER, JSON.stringify(rec) + '\n');
  }
}

// ───────────────────────────── the CLI as a process ─────────────────────────────

export interface WbRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Peak resident set of the wattbench process (VmHWM), KiB, sampled from /proc while it ran. */
  peakRssKiB: number;
  durationMs: number;
  /** The harness had to be killed by the test's own time limit. */
  hung: boolean;
}

export interface WbHandle {
  pid: number;
  done: Promise<WbRun>;
  /** Resolves when a stderr line matches (progress is on stderr). */
  waitForStderr(re: RegExp, timeoutMs?: number): Promise<string>;
  kill(sig: NodeJS.Signals): void;
}

function readHwmKiB(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch { return undefined; }
}

/** The environment every harness child gets: ours, without anything that looks like a credential. */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/KEY|TOKEN|SECRET|PASSWORD/i.test(k)) env[k] = v;
  return { ...env, CI: '1', ...extra };
}

/** Start `wattbench ARGS` (the real launcher) and watch it. Keeps at most 1 MiB of each stream. */
export function startWb(args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number; wrap?: string[] } = {}): WbHandle {
  const started = Date.now();
  const cmd = opts.wrap ? [...opts.wrap, NODE, BIN, ...args] : [NODE, BIN, ...args];
  const child = spawn(cmd[0]!, cmd.slice(1), { cwd: opts.cwd ?? ROOT, env: opts.env ?? baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  let errLine = '';
  child.stdout.on('data', (c: Buffer) => { if (stdout.length < 1 << 20) stdout += c.toString('utf8'); });
  child.stderr.on('data', (c: Buffer) => {
    const s = c.toString('utf8');
    if (stderr.length < 1 << 20) stderr += s;
    errLine += s;
    const lines = errLine.split('\n');
    errLine = lines.pop()!;
    for (const l of lines) for (const w of [...waiters]) if (w.re.test(l)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(l); }
  });
  let peak = 0;
  // the harness is the node process itself (tsx registers in-process); with a wrapper it is the wrapper's child
  const target = () => (opts.wrap ? childPidOf(child.pid!) : child.pid);
  const rss = setInterval(() => { const p = target(); if (p) peak = Math.max(peak, readHwmKiB(p) ?? 0); }, 25);
  let hung = false;
  const limit = setTimeout(() => { hung = true; child.kill('SIGKILL'); }, opts.timeoutMs ?? 90_000);
  const done = new Promise<WbRun>((resolve) => {
    child.on('close', (code, signal) => {
      clearInterval(rss);
      clearTimeout(limit);
      resolve({ code, signal, stdout, stderr, peakRssKiB: peak, durationMs: Date.now() - started, hung });
    });
  });
  return {
    pid: child.pid!,
    done,
    kill: (sig) => { const p = target(); if (p) process.kill(p, sig); },
    waitForStderr: (re, timeoutMs = 60_000) => new Promise<string>((resolve, reject) => {
      const existing = stderr.split('\n').find((l) => re.test(l));
      if (existing) return resolve(existing);
      const t = setTimeout(() => reject(new Error(`no stderr line matching ${re} within ${timeoutMs} ms; stderr so far:\n${stderr.slice(-2000)}`)), timeoutMs);
      waiters.push({ re, resolve: (l) => { clearTimeout(t); resolve(l); } });
    }),
  };
}

function childPidOf(pid: number): number | undefined {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return kids[0] ?? pid;
  } catch { return pid; }
}

export async function wb(args: string[], opts: Parameters<typeof startWb>[1] = {}): Promise<WbRun> {
  return startWb(args, opts).done;
}

/** What a crash of the harness itself looks like: a stack trace or the internal-error banner. */
export function looksLikeCrash(text: string): boolean {
  return /internal error|\n\s+at [^\n]*\(?(file:|node:|\/)[^\n]*:\d+:\d+\)?|Unhandled|TypeError|RangeError|ReferenceError|FATAL ERROR|heap out of memory/.test(text);
}

// ───────────────────────────── processes ─────────────────────────────

/** True while the process exists and is not a zombie (PID 1 here does not reap orphans, so kill -0 alone lies). */
export function isAlive(pid: number): boolean {
  if (existsSync('/proc')) {
    try {
      const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3) !== 'Z';
    } catch { return false; }
  }
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** Pids a fake wrote (one file may hold several, space or newline separated). */
export function pidsIn(file: string): number[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split(/\s+/).filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

export { waitFor } from '../helpers/wait.js';

/** Wait (briefly) for processes to be gone; returns those still running. */
export async function survivors(pids: number[], graceMs = 3000): Promise<number[]> {
  const end = Date.now() + graceMs;
  let alive = pids.filter(isAlive);
  while (alive.length && Date.now() < end) { await new Promise((r) => setTimeout(r, 50)); alive = alive.filter(isAlive); }
  for (const p of alive) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } } // never leak into other tests
  return alive;
}

// ───────────────────────────── files ─────────────────────────────

export async function writeExecutable(path: string, text: string, mode = 0o755): Promise<string> {
  await writeFile(path, text);
  await chmod(path, mode);
  return path;
}

/** A fake workload in CommonJS with small helpers in scope: emit(obj), sleep(ms), forkChild(pidFile). */
export async function workloadScript(dir: string, name: string, body: string): Promise<string> {
  const p = join(dir, name.endsWith('.cjs') ? name : `${name}.cjs`);
  await writeFile(p, `'use strict';
const fs = require('fs');
const { spawn } = require('child_process');
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// a grandchild in the same process group, as a PyTorch data-loader worker would be; both pids go to pidFile
function forkChild(pidFile) {
  const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  fs.writeFileSync(pidFile, process.pid + ' ' + c.pid + '\\n');
  return c;
}
(async () => {
${body}
})();
`);
  return p;
}

/** Every plain file under a folder, recursively. */
export async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try { entries = await readdir(dir, { withFileTypes: true }); } catch { return out; }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await allFiles(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Result files (not raw samples) in a folder, and how many of them load and validate. */
export async function countResults(dir: string): Promise<{ files: string[]; valid: string[] }> {
  let names: string[] = [];
  try { names = (await readdir(dir)).filter((f) => f.endsWith('.json') && !f.startsWith('.')).sort(); } catch { /* none */ }
  const files = names.map((n) => join(dir, n));
  const valid: string[] = [];
  for (const f of files) if ((await loadResult(f)).state === 'ok') valid.push(f);
  return { files, valid };
}

/** Leftover temp files of an atomic write (".<name>.<hex>.tmp"). */
export async function tempLeftovers(dir: string): Promise<string[]> {
  try { return (await readdir(dir)).filter((f) => f.endsWith('.tmp')); } catch { return []; }
}

export async function nonEmpty(path: string): Promise<boolean> {
  try { return (await stat(path)).size > 0; } catch { return false; }
}

/** A constant-power CSV trace for the replay source: exact, no hardware. */
export async function constantTrace(dir: string, powerW = 100, seconds = 10, stepS = 0.05): Promise<string> {
  const lines = ['t_s,power_w'];
  for (let i = 0; i * stepS < seconds; i++) lines.push(`${(i * stepS).toFixed(3)},${powerW}`);
  const p = join(dir, `trace-${powerW}w.csv`);
  await writeFile(p, lines.join('\n') + '\n');
  return p;
}

/** Flags shared by the CLI fault runs: replayed power, no idle, no cooldown, one repetition, plain progress. */
export function quickRunFlags(trace: string, out: string): string[] {
  return ['--source', 'replay', '--source-opt', `file=${trace}`, '--idle', '0', '--cooldown', '0', '--repetitions', '1', '--out', out, '--progress', 'plain'];
}

export async function ensureDir(p: string): Promise<string> {
  await mkdir(p, { recursive: true });
  return p;
}
