// Shared steps of the drivers that read a vendor CLI: find the tool, and turn a failed probe call into the
// reason `wattbench devices` shows. Not a driver itself, so drivers may import it (GUIDE: never another driver).
import { findOnPath, runCommand, type ProcessResult } from '../lib/process.js';
import type { ProbeContext, ProbeResult, Sampler, StartOptions } from './driver.js';
import { supervisePoll } from '../lib/supervise.js';

/**
 * One run of a vendor tool while probing: only the environment the harness was given (nothing inherited on top),
 * stopped with the probe, and never longer than timeoutMs (a tool that hangs on a wedged device must not hang
 * `wattbench devices`).
 */
export function probeTool(ctx: Pick<ProbeContext, 'env' | 'signal'>, file: string, args: readonly string[] = [], timeoutMs = 15_000): Promise<ProcessResult> {
  return runCommand(file, [...args], { env: ctx.env as Record<string, string>, extendEnv: false, timeoutMs, signal: ctx.signal });
}

export type Unavailable = Extract<ProbeResult, { state: 'unavailable' }>;

/** Locate `tool` on PATH (then in extraDirs), or at --source-opt path=…; say how to install it when absent. */
export async function locateTool(ctx: ProbeContext, tool: string, installHint: string, extraDirs: string[] = []): Promise<string | Unavailable> {
  const search = [ctx.env.PATH ?? '', ...(ctx.options.path ? [] : extraDirs)].filter(Boolean).join(':');
  const file = await findOnPath(ctx.options.path ?? tool, search);
  if (file) return file;
  return { state: 'unavailable', code: 'not-installed', reason: ctx.options.path ? `${ctx.options.path} is not an executable file` : installHint };
}

/** Why a probe call of `tool` failed: permission denied (with how to get access), not startable, timed out, or its exit. */
export function toolFailure(tool: string, r: ProcessResult, accessHint: string): Unavailable {
  const text = `${r.stderr}\n${r.stdout}`;
  if (r.spawnError?.code === 'EACCES' || /permission denied|not permitted/i.test(text)) {
    return { state: 'unavailable', code: 'permission-denied', reason: `${tool} was denied access (${text.trim().split('\n').pop()?.slice(0, 160) ?? ''}) — ${accessHint}` };
  }
  if (r.spawnError) return { state: 'unavailable', code: 'not-installed', reason: `${tool} could not start (${r.spawnError.code})` };
  if (r.timedOut) return { state: 'unavailable', code: 'error', reason: `${tool} did not answer within the probe timeout` };
  const last = (r.stderr.trim() || r.stdout.trim()).split('\n').pop()?.slice(0, 200) ?? '';
  return { state: 'unavailable', code: 'error', reason: `${tool} exited with code ${r.exitCode ?? r.signal}${last ? `: ${last}` : ''}` };
}

/** One device's row of a vendor tool's status table; absent readings stay absent (never 0). */
export interface TableRow {
  index: number;
  powerW?: number;
  temperatureC?: number;
  smClockMHz?: number;
  memClockMHz?: number;
  utilizationPct?: number;
  memoryUsedMiB?: number;
}

const READINGS = ['powerW', 'temperatureC', 'smClockMHz', 'memClockMHz', 'utilizationPct', 'memoryUsedMiB'] as const;

/**
 * Sample a tool that prints one status table per call (cnmon, efsmi, hy-smi, mx-smi, ixsmi; with `args`, the
 * report views of mthreads-gmi, xpu_smi and tt-smi): call it every interval, and turn each selected device's row
 * into a sample with whichever readings the row has.
 */
export function pollTable(opts: StartOptions, sourceId: string, file: string, rows: (stdout: string) => readonly TableRow[], args: string[] = []): Sampler {
  const wanted = new Map(opts.devices.map((d) => [d.index ?? -1, d.id]));
  return supervisePoll({
    file, args, env: opts.env, clock: opts.clock, signal: opts.signal, sink: opts.sink,
    intervalMs: opts.intervalMs,
    // a full table on a many-card host can take a second or more; only a much longer silence is a hang
    timeoutMs: Math.max(10_000, 5 * opts.intervalMs),
    onOutput: (stdout, tS) => {
      let n = 0;
      for (const row of rows(stdout)) {
        const deviceId = wanted.get(row.index);
        if (!deviceId) continue;
        n++;
        const sample: Parameters<StartOptions['sink']['sample']>[0] = { tS, sourceId, deviceId };
        for (const k of READINGS) if (row[k] !== undefined) sample[k] = row[k];
        opts.sink.sample(sample);
      }
      return n;
    },
  });
}
