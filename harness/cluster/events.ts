// Rank 0's workload events in a multi-node run. `wattbench stamp -- CMD` runs the user's program (inside the user's
// own srun or torchrun line), passes its output through untouched, and — on rank 0 only — writes each protocol event
// with this node's wall time to the shared folder. The merge maps those times onto the reference clock through the
// offsets the sampler on the same node measured, and folds them into repetitions exactly as a local run does.
import os from 'node:os';
import { join } from 'node:path';
import { appendFile, readFile, mkdir, stat } from 'node:fs/promises';
import { badInput } from '../../lib/errors.js';
import { spawnStreaming } from '../../lib/process.js';
import { parseProtocolLine } from '../../workloads/protocol.js';
import type { WorkloadEvent } from '../../workloads/workload.js';
import type { RepetitionRaw } from '../analyse.js';
import { writeFileAtomic } from '../../results/io.js';
import { sleepMs } from '../../lib/clock.js';
import { wallNowMs } from './clock.js';
import { RepetitionEvents } from '../repetition-events.js';

export type EventRecord =
  | { type: 'header'; wallMs: number; nodeName: string; hostname: string; rank: number; repetition: number; command: string[]; name?: string; kind: 'train' | 'infer' | 'serve' | 'other' }
  | { type: 'event'; wallMs: number; e: WorkloadEvent }
  | { type: 'protocol-error'; wallMs: number; why: string }
  | { type: 'exit'; wallMs: number; exitCode: number | null; signal: string | null; spawnError?: string };

export interface IdleRecord { nodeName: string; hostname: string; startWallMs: number; endWallMs: number }

export const eventsFile = (rep: number) => `events-r${rep}.jsonl`;

/** Which rank this process is: --rank, else the scheduler's task rank (Slurm), else the launcher's, else the pod index. */
export function rankOf(env: NodeJS.ProcessEnv, given?: number): number {
  const v = given ?? Number(env.SLURM_PROCID ?? env.RANK ?? env.JOB_COMPLETION_INDEX ?? 0);
  return Number.isInteger(v) && v >= 0 ? v : 0;
}

/** This node's name as the scheduler knows it: Slurm's node name; in a Kubernetes pod, the pod's host name. */
export function nodeNameOf(env: NodeJS.ProcessEnv): string {
  const k8s = env.JOB_COMPLETION_INDEX !== undefined && env.SLURM_JOB_ID === undefined;
  return (env.SLURMD_NODENAME ?? (k8s && env.HOSTNAME ? env.HOSTNAME : os.hostname())).slice(0, 128);
}

export interface StampOptions {
  dir: string;
  command: string[];
  repetition: number;
  rank: number;
  kind: 'train' | 'infer' | 'serve' | 'other';
  name?: string;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Run the command; on rank 0 record its events. Resolves with the exit code to pass on. */
export async function stampCommand(o: StampOptions): Promise<number> {
  const record = o.rank === 0;
  const file = join(o.dir, eventsFile(o.repetition));
  let queue = Promise.resolve();
  const write = (r: EventRecord) => { if (record) queue = queue.then(() => appendFile(file, JSON.stringify(r) + '\n')); };
  if (record) {
    await mkdir(o.dir, { recursive: true });
    // appending to an older run's events would mix two workloads into one window
    if (await stat(file).then(() => true, () => false)) throw badInput('EVENTS_EXIST', `${file} already exists (--repetition ${o.repetition} was stamped before)`, 'give each job its own --dir, and each repetition its own --repetition N');
  }
  write({ type: 'header', wallMs: wallNowMs(), nodeName: nodeNameOf(o.env), hostname: os.hostname(), rank: o.rank, repetition: o.repetition, command: o.command, kind: o.kind, ...(o.name ? { name: o.name } : {}) });
  const h = spawnStreaming(o.command[0]!, o.command.slice(1), {
    env: o.env as Record<string, string>, extendEnv: false, signal: o.signal, captureTail: 16 * 1024, maxLineChars: 1 << 20,
    onStdoutLine: (line) => {
      const wallMs = wallNowMs();
      o.stdout.write(line + '\n');
      if (!record) return;
      const p = parseProtocolLine(line);
      if (p.kind === 'event') write({ type: 'event', wallMs, e: p.event });
      else if (p.kind === 'error') write({ type: 'protocol-error', wallMs, why: p.why });
    },
    onStderrLine: (line) => { o.stderr.write(line + '\n'); },
  });
  const r = await h.done;
  write({ type: 'exit', wallMs: wallNowMs(), exitCode: r.exitCode, signal: r.signal, ...(r.spawnError ? { spawnError: `${r.spawnError.code}: ${r.spawnError.message}`.slice(0, 500) } : {}) });
  await queue;
  if (r.spawnError) { o.stderr.write(`STAMP_SPAWN: could not start ${o.command[0]}: ${r.spawnError.code}\n`); return 127; }
  return r.exitCode ?? (r.signal ? 128 + 15 : 1);
}

/** The idle baseline: wait, and record the window (from the node that runs the job script). */
export async function stampIdle(dir: string, seconds: number, env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<IdleRecord> {
  await mkdir(dir, { recursive: true });
  const startWallMs = wallNowMs();
  await sleepMs(seconds * 1000, signal);
  const rec: IdleRecord = { nodeName: nodeNameOf(env), hostname: os.hostname(), startWallMs, endWallMs: wallNowMs() };
  await writeFileAtomic(join(dir, 'idle.json'), JSON.stringify(rec) + '\n');
  return rec;
}

export async function readEvents(path: string): Promise<EventRecord[]> {
  const out: EventRecord[] = [];
  for (const line of (await readFile(path, 'utf8')).split('\n')) {
    if (!line.trim()) continue;
    try { out.push(JSON.parse(line) as EventRecord); } catch { /* a line cut by a crash */ }
  }
  return out;
}

/**
 * Fold one repetition's stamped events into the shape analyse() takes, with the same rules as a local run:
 * the window opens at the first window_start and closes at the first window_end after it; tokens count only
 * inside it; the last value of each metric is kept. `toS` maps a wall time on rank 0's node to the merged clock.
 */
export function repetitionFromEvents(index: number, recs: EventRecord[], toS: (wallMs: number) => number): RepetitionRaw {
  const header = recs.find((r) => r.type === 'header');
  const exit = recs.find((r): r is Extract<EventRecord, { type: 'exit' }> => r.type === 'exit');
  const startS = toS(header?.wallMs ?? recs[0]?.wallMs ?? 0);
  const ev = new RepetitionEvents(startS);
  let protocolErrors = 0;
  for (const r of recs) {
    if (r.type === 'protocol-error') { protocolErrors++; continue; }
    if (r.type === 'event') ev.apply(toS(r.wallMs), r.e);
  }
  const endS = exit ? toS(exit.wallMs) : Math.max(...ev.phases.map((p) => p.endS ?? p.startS));
  ev.close(endS);
  const base = { index, phases: ev.phases, metrics: ev.metrics(), protocolErrors, truncatedLines: 0, ...(exit ? { exit: { exitCode: exit.exitCode, signal: exit.signal } } : {}) };
  const tok = ev.tokens();
  const ws = ev.windowStart, we = ev.windowEnd;
  if (!exit) return { ...base, status: 'failed', window: null, tokens: null, error: { code: 'WORKLOAD_LOST', message: 'rank 0 left no exit record (killed, or its node failed)' } };
  if (exit.spawnError || exit.exitCode !== 0) {
    return { ...base, status: 'failed', window: null, tokens: null, error: { code: 'WORKLOAD_FAILED', message: exit.spawnError ? `could not start: ${exit.spawnError}` : exit.signal ? `rank 0 was killed by ${exit.signal}` : `rank 0 exited with code ${exit.exitCode}` } };
  }
  if (ws === undefined || we === undefined) {
    return { ...base, status: 'failed', window: null, tokens: null, error: { code: 'NO_WINDOW', message: ws === undefined ? 'rank 0 exited without signalling window_start' : 'rank 0 exited without signalling window_end' } };
  }
  return { ...base, status: 'ok', window: { startS: ws, endS: we }, tokens: tok };
}
