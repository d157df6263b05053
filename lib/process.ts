// The one process helper: every child process of wattbench (vendor CLIs, workloads, python) goes through here.
// Why a wrapper: the same result shape every time, no shell ever, bounded memory on floods, and whole process
// groups stopped (a PyTorch workload forks workers; killing only the parent would leave them drawing power).
import { execa, type ResultPromise } from 'execa';
import { StringDecoder } from 'node:string_decoder';
import { MAX_TIMER_MS } from './clock.js';

export interface ProcessResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** True when we stopped it (abort signal or stop()). */
  stopped: boolean;
  /** Spawn failure (ENOENT, EACCES) — the program never ran. */
  spawnError?: { code: string; message: string };
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  /** Replace the environment instead of extending process.env. */
  extendEnv?: boolean;
  timeoutMs?: number;
  signal?: AbortSignal;
  cwd?: string;
  /** Cap on captured stdout/stderr characters (the tail is kept). */
  maxCaptureChars?: number;
}

const live = new Set<number>(); // process-group ids we started and have not yet seen exit

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try { process.kill(-pid, sig); } catch { try { process.kill(pid, sig); } catch { /* already gone */ } }
}

/** Kill every process group we started. Called on harness exit and on SIGINT/SIGTERM. */
export function killAllChildren(sig: NodeJS.Signals = 'SIGKILL'): void {
  for (const pid of live) killGroup(pid, sig);
}
process.once('exit', () => killAllChildren('SIGKILL'));

class TailBuffer {
  private parts: string[] = [];
  private size = 0;
  constructor(private readonly max: number) {}
  push(s: string) {
    this.parts.push(s);
    this.size += s.length;
    while (this.size > this.max && this.parts.length > 1) this.size -= this.parts.shift()!.length;
    if (this.size > this.max) { const only = this.parts[0]!; this.parts[0] = only.slice(only.length - this.max); this.size = this.max; }
  }
  toString() { return this.parts.join(''); }
}

/** Splits a byte stream into lines; lines longer than maxLineChars are cut and flagged, so a flood cannot grow memory. */
export class LineSplitter {
  private decoder = new StringDecoder('utf8');
  private pending = '';
  private overflowing = false;
  constructor(private readonly onLine: (line: string, truncated: boolean) => void, private readonly maxLineChars = 1 << 20) {}
  push(chunk: Buffer | string): void {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let start = 0;
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', start)) {
      this.emit(text.slice(start, i));
      start = i + 1;
    }
    const rest = text.slice(start);
    if (this.overflowing) return;
    this.pending += rest;
    if (this.pending.length > this.maxLineChars) {
      this.onLine(this.pending.slice(0, this.maxLineChars), true);
      this.pending = '';
      this.overflowing = true; // drop the rest of this line
    }
  }
  private emit(tail: string) {
    if (this.overflowing) { this.overflowing = false; this.pending = ''; return; }
    let line = this.pending + tail;
    this.pending = '';
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.length > this.maxLineChars) this.onLine(line.slice(0, this.maxLineChars), true);
    else this.onLine(line, false);
  }
  /** Flush a final line with no newline (a truncated last line). */
  end(): void {
    const rest = this.pending + this.decoder.end();
    this.pending = '';
    if (rest.length && !this.overflowing) this.onLine(rest.endsWith('\r') ? rest.slice(0, -1) : rest, false);
    this.overflowing = false;
  }
}

function envFor(opts: { env?: Record<string, string | undefined>; extendEnv?: boolean }): Record<string, string | undefined> {
  return opts.extendEnv === false ? { ...(opts.env ?? {}) } : { ...process.env, ...(opts.env ?? {}) };
}

/** Run a program to completion (probes, one-shot queries). Never throws for the program's own failure. */
export async function runCommand(file: string, args: readonly string[], opts: RunOptions = {}): Promise<ProcessResult> {
  const handle = spawnStreaming(file, args, { ...opts, captureTail: opts.maxCaptureChars ?? 4 << 20 });
  return handle.done;
}

export interface StreamingOptions extends RunOptions {
  onStdoutLine?: (line: string, truncated: boolean) => void;
  onStderrLine?: (line: string, truncated: boolean) => void;
  maxLineChars?: number;
  /** Keep the last N characters of stdout/stderr in the result (default 64 KiB each). */
  captureTail?: number;
  /** Delay between SIGTERM and SIGKILL when stopping, ms. */
  killGraceMs?: number;
}

export interface StreamingHandle {
  readonly pid: number | undefined;
  readonly done: Promise<ProcessResult>;
  /** SIGTERM to the whole process group, SIGKILL after the grace period. */
  stop(): Promise<ProcessResult>;
}

/** Start a long-lived program and receive its output line by line (samplers, workloads). */
export function spawnStreaming(file: string, args: readonly string[], opts: StreamingOptions = {}): StreamingHandle {
  const started = Date.now();
  const grace = opts.killGraceMs ?? 2000;
  const outTail = new TailBuffer(opts.captureTail ?? 64 * 1024);
  const errTail = new TailBuffer(opts.captureTail ?? 64 * 1024);
  let stopped = false;
  let timedOut = false;
  let child: ResultPromise | undefined;
  let spawnError: ProcessResult['spawnError'];
  try {
    child = execa(file, args as string[], {
      env: envFor(opts),
      extendEnv: false,
      cwd: opts.cwd,
      stdin: 'ignore',
      buffer: false,
      reject: false,
      detached: true, // own process group, so stop() reaches grandchildren
      cleanup: false, // we track and kill groups ourselves (execa skips cleanup for detached children anyway)
      shell: false,
    });
  } catch (err) {
    spawnError = { code: (err as NodeJS.ErrnoException).code ?? 'SPAWN_FAILED', message: (err as Error).message };
  }
  const pid = child?.pid;
  if (pid) live.add(pid);
  // A grandchild that inherited our pipes must not keep us waiting once the program itself has exited (execa
  // resolves only when stdout/stderr close): stop the program's group at once, and stop reading pipes that are
  // still held open after the grace period (by a process that left the group).
  let pipeTimer: NodeJS.Timeout | undefined;
  child?.once('exit', () => {
    if (pid) killGroup(pid, 'SIGKILL');
    pipeTimer = setTimeout(() => { child?.stdout?.destroy(); child?.stderr?.destroy(); }, grace);
  });

  const outSplit = new LineSplitter((l, t) => { opts.onStdoutLine?.(l, t); }, opts.maxLineChars);
  const errSplit = new LineSplitter((l, t) => { opts.onStderrLine?.(l, t); }, opts.maxLineChars);
  child?.stdout?.on('data', (c: Buffer) => { outTail.push(c.toString('utf8')); if (opts.onStdoutLine) outSplit.push(c); });
  child?.stderr?.on('data', (c: Buffer) => { errTail.push(c.toString('utf8')); if (opts.onStderrLine) errSplit.push(c); });

  let killTimer: NodeJS.Timeout | undefined;
  const terminate = () => {
    if (!pid || !live.has(pid)) return;
    killGroup(pid, 'SIGTERM');
    killTimer = setTimeout(() => { if (live.has(pid)) killGroup(pid, 'SIGKILL'); }, grace);
  };
  const onAbort = () => { stopped = true; terminate(); };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  // timers run before an exit already waiting to be delivered: after the harness itself was starved, let that exit
  // through first (setImmediate runs after the I/O it is waiting behind) before calling the program timed out
  let exited = false;
  child?.once('exit', () => { exited = true; });
  const timeout = opts.timeoutMs ? setTimeout(() => setImmediate(() => { if (!exited) { timedOut = true; terminate(); } }), Math.min(opts.timeoutMs, MAX_TIMER_MS)) : undefined;

  const done: Promise<ProcessResult> = (async () => {
    if (!child) {
      return { exitCode: null, signal: null, timedOut: false, stopped: false, spawnError, stdout: '', stderr: '', durationMs: 0 };
    }
    const r = await child;
    if (pid) {
      live.delete(pid);
      // the leader is gone; make sure nothing it forked stays behind
      killGroup(pid, 'SIGKILL');
    }
    if (timeout) clearTimeout(timeout);
    if (killTimer) clearTimeout(killTimer);
    if (pipeTimer) clearTimeout(pipeTimer);
    opts.signal?.removeEventListener('abort', onAbort);
    outSplit.end();
    errSplit.end();
    const code = (r as { code?: string }).code;
    const failedToSpawn = r.failed && r.exitCode === undefined && !r.signal && code && /^E[A-Z]+$/.test(code);
    return {
      exitCode: r.exitCode ?? null,
      signal: r.signal ?? null,
      timedOut,
      stopped,
      spawnError: failedToSpawn ? { code: code!, message: r.shortMessage ?? r.message ?? code! } : undefined,
      stdout: outTail.toString(),
      stderr: errTail.toString(),
      durationMs: Date.now() - started,
    };
  })();

  return {
    pid,
    done,
    stop: async () => { stopped = true; terminate(); return done; },
  };
}

/** Find an executable on PATH (no shell, no `which`). Returns undefined when absent. */
export async function findOnPath(name: string, envPath = process.env.PATH ?? ''): Promise<string | undefined> {
  const { access, constants } = await import('node:fs/promises');
  const path = await import('node:path');
  if (name.includes('/')) {
    try { await access(name, constants.X_OK); return name; } catch { return undefined; }
  }
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    const full = path.join(dir, name);
    try { await access(full, constants.X_OK); return full; } catch { /* next */ }
  }
  return undefined;
}
