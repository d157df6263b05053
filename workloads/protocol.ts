// Parsing of the workload event protocol (see PROTOCOL.md) and the runner for programs that speak it.
import { spawnStreaming } from '../lib/process.js';
import { makeRedactor } from '../lib/redact.js';
import type { WorkloadContext, WorkloadEvent, WorkloadOutcome } from './workload.js';

export type ParsedLine = { kind: 'event'; event: WorkloadEvent } | { kind: 'log' } | { kind: 'error'; why: string };

// a count above 2^53 is not a count (and two of 1e308 would sum to Infinity, which JSON writes as null)
const isCount = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= Number.MAX_SAFE_INTEGER;

/** A line that starts with '{' and holds an "event" key is protocol; anything else is the program's own output. */
export function parseProtocolLine(line: string): ParsedLine {
  const s = line.trim();
  if (!s.startsWith('{')) return { kind: 'log' };
  let o: unknown;
  try { o = JSON.parse(s); } catch { return s.includes('"event"') ? { kind: 'error', why: 'not valid JSON' } : { kind: 'log' }; }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return { kind: 'log' };
  const r = o as Record<string, unknown>;
  if (!('event' in r)) return { kind: 'log' };
  switch (r.event) {
    case 'start':
      return { kind: 'event', event: { event: 'start', info: typeof r.info === 'object' && r.info !== null ? (r.info as Record<string, unknown>) : undefined } };
    case 'warmup_start': case 'window_start': case 'window_end':
      return { kind: 'event', event: { event: r.event } };
    case 'tokens': {
      if (!isCount(r.tokens)) return { kind: 'error', why: '"tokens" needs a non-negative number field "tokens"' };
      if (r.input !== undefined && !isCount(r.input)) return { kind: 'error', why: '"input" must be a non-negative number' };
      if (r.output !== undefined && !isCount(r.output)) return { kind: 'error', why: '"output" must be a non-negative number' };
      return { kind: 'event', event: { event: 'tokens', tokens: r.tokens as number, ...(r.input !== undefined ? { input: r.input as number } : {}), ...(r.output !== undefined ? { output: r.output as number } : {}) } };
    }
    case 'metric': {
      if (typeof r.name !== 'string' || !r.name || r.name.length > 128) return { kind: 'error', why: '"metric" needs a string "name"' };
      if (r.value !== null && (typeof r.value !== 'number' || !Number.isFinite(r.value))) return { kind: 'error', why: '"metric" needs a finite number "value" (or null)' };
      return { kind: 'event', event: { event: 'metric', name: r.name, value: r.value as number | null, unit: typeof r.unit === 'string' ? r.unit.slice(0, 32) : '' } };
    }
    case 'info':
      return { kind: 'event', event: { ...(r as Record<string, unknown>), event: 'info' } };
    default:
      return { kind: 'error', why: `unknown event ${JSON.stringify(r.event).slice(0, 40)}` };
  }
}

export interface ProtocolProcessOptions {
  file: string;
  args: string[];
  cwd?: string;
  timeoutS?: number;
  /** Extra environment on top of ctx.env. */
  env?: Record<string, string>;
}

/** Keeps the last N lines (the stderr tail shown when a workload fails). */
export class LineTail {
  private lines: string[] = [];
  constructor(private readonly max = 40) {}
  push(l: string) { this.lines.push(l.length > 2000 ? l.slice(0, 2000) + '…' : l); if (this.lines.length > this.max) this.lines.shift(); }
  toString() { return this.lines.join('\n'); }
}

/** Run a program that speaks the protocol; resolve when it exits. Never throws for the program's own failure. */
export async function runProtocolProcess(o: ProtocolProcessOptions, ctx: WorkloadContext): Promise<WorkloadOutcome> {
  const errTail = new LineTail();
  const env = { ...ctx.env, ...(o.env ?? {}) } as Record<string, string>;
  // the program's output may quote its own secrets (a traceback with the API key): scrub every line before anything
  // keeps it — the stderr tail in the result, protocol error notes, event fields
  const redact = makeRedactor(env);
  const handle = spawnStreaming(o.file, o.args, {
    env,
    extendEnv: false,
    cwd: o.cwd,
    signal: ctx.signal,
    timeoutMs: o.timeoutS ? o.timeoutS * 1000 : undefined,
    captureTail: 8 * 1024,
    maxLineChars: 64 * 1024,
    onStdoutLine: (raw, truncated) => {
      const tS = ctx.clock.nowS();
      const line = redact(raw);
      if (truncated) { ctx.onProtocolError(line.slice(0, 200), 'line longer than 64 KiB, cut'); return; }
      const p = parseProtocolLine(line);
      if (p.kind === 'event') ctx.onEvent({ tS, e: p.event });
      else if (p.kind === 'error') ctx.onProtocolError(line.slice(0, 500), p.why);
      else ctx.onLog(line, 'stdout');
    },
    onStderrLine: (raw) => { const line = redact(raw); errTail.push(line); ctx.onLog(line, 'stderr'); },
  });
  const r = await handle.done;
  if (r.spawnError) return { state: 'failed', reason: `could not start ${o.file}: ${r.spawnError.code}`, exitCode: null, signal: null, stderrTail: r.spawnError.message };
  if (r.timedOut) return { state: 'timed-out', reason: `still running after its ${o.timeoutS} s timeout; stopped`, stderrTail: errTail.toString() };
  if (r.stopped || ctx.signal.aborted) return { state: 'stopped' };
  if (r.exitCode !== 0) return { state: 'failed', reason: r.signal ? `killed by ${r.signal}` : `exited with code ${r.exitCode}`, exitCode: r.exitCode, signal: r.signal, stderrTail: errTail.toString() };
  return { state: 'completed', exitCode: r.exitCode, signal: r.signal };
}
