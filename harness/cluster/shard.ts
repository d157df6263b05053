// One node's part of a multi-node run: a sampler that runs until told to stop and leaves a *shard* in a shared
// folder — its raw samples (JSONL, streamed as they arrive), the node's facts, and its clock offsets against the
// reference node measured at start and at end. `wattbench merge` turns the shards of a job into one result.
//
// The shared folder (one per job):
//   clock.json                   where the reference node's time server listens {host, port, node}
//   ready-<node>                 a sampler is up (the job script waits for all before the workload starts)
//   shard-<node>.samples.jsonl   samples and gaps, node-local run clock
//   shard-<node>.json            the shard (written last, atomically)
//   events-r<rep>.jsonl          rank 0's workload events, stamped by `wattbench stamp`
//   idle.json                    the idle-baseline window, stamped by `wattbench stamp --idle`
//   stop, stop-<node>            ask every / one sampler to stop
import os from 'node:os';
import { join } from 'node:path';
import { readFile, readdir, writeFile, access, mkdir } from 'node:fs/promises';
import type { Device, Host, Semantics, Source, Gap } from '../../results/types.gen.js';
import { SampleLog, type Sample } from '../../results/samples.js';
import { writeFileAtomic } from '../../results/io.js';
import { badInput, errorMessage } from '../../lib/errors.js';
import { sleepMs } from '../../lib/clock.js';
import { findOnPath, runCommand } from '../../lib/process.js';
import type { Sampler, Scope } from '../../drivers/driver.js';
import { chooseSource } from '../sources.js';
import { hostFacts, toolVersion, gitCommit } from '../inventory.js';
import { nodeNameOf } from './events.js';
import { createWallRunClock, startTimeServer, measureOffset, parseChronyTracking, wallNowMs, type OffsetMeasurement, type ChronyTracking, type TimeServer } from './clock.js';

export const SHARD_FORMAT = 'wattbench-shard-v1';

export type Scheduler = 'slurm' | 'kubernetes' | 'none';

export interface ShardFile {
  format: typeof SHARD_FORMAT;
  node: { index: number; name: string; hostname: string };
  /** This node served the reference clock (its offsets are 0 by definition). */
  reference: boolean;
  job: { scheduler: Scheduler; jobId?: string; jobName?: string; nodeCount?: number };
  host: Host;
  software: Record<string, string>;
  tool: { version: string; gitCommit?: string };
  /** Node-local run clock: t = 0 at anchorWallMs (this node's wall clock). */
  clock: { anchorWallMs: number; startedS: number; stoppedS: number };
  offsets: { start: OffsetMeasurement | null; end: OffsetMeasurement | null; errors: string[] };
  ntp?: ChronyTracking;
  source: { id: string; scope: Scope; semantics: Semantics; deviceIds: string[]; requestedIntervalMs: number; command?: string[]; restarts: number; gaps: Gap[]; note?: string };
  others: Source[];
  devices: Device[];
  samplesFile: string;
  sampleCount: number;
  stoppedBy: 'signal' | 'stop-file' | 'duration';
}

/** Who and where this node is, from the scheduler's environment. */
export function nodeIdentity(env: NodeJS.ProcessEnv, given: { index?: number; name?: string } = {}): { index: number; name: string; scheduler: Scheduler; jobId?: string; jobName?: string; nodeCount?: number } {
  const slurm = env.SLURM_JOB_ID !== undefined;
  const k8s = env.JOB_COMPLETION_INDEX !== undefined;
  const idx = given.index ?? Number(env.SLURM_NODEID ?? env.JOB_COMPLETION_INDEX ?? 0);
  const count = Number(env.SLURM_JOB_NUM_NODES ?? env.SLURM_NNODES ?? env.WATTBENCH_NODES ?? NaN);
  return {
    index: Number.isInteger(idx) && idx >= 0 ? idx : 0,
    name: (given.name ?? nodeNameOf(env)).slice(0, 128),
    scheduler: slurm ? 'slurm' : k8s ? 'kubernetes' : 'none',
    ...(env.SLURM_JOB_ID ? { jobId: env.SLURM_JOB_ID } : env.WATTBENCH_JOB_ID ? { jobId: env.WATTBENCH_JOB_ID } : {}),
    ...(env.SLURM_JOB_NAME ? { jobName: env.SLURM_JOB_NAME } : {}),
    ...(Number.isInteger(count) && count > 0 ? { nodeCount: count } : {}),
  };
}

/** File names are keyed by node index, so two nodes can never write the same file. */
export const shardName = (index: number) => `shard-${index}`;

export interface ShardOptions {
  dir: string;
  sourceId?: string;
  sourceOptions: Record<string, string>;
  intervalMs?: number;
  node?: { index?: number; name?: string };
  nodes?: number;
  /** Serve the reference clock here (default: node 0 does). */
  reference?: boolean;
  /** Address to bind the time server to (default: the address the advertised host resolves to). */
  clockBind?: string;
  clockPort?: number;
  /** Name other nodes use to reach the time server (default: the node name). */
  clockHost?: string;
  /** host:port of the time server, instead of reading clock.json from the shared folder. */
  clockServer?: string;
  durationS?: number;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  log: (line: string) => void;
}

async function exists(p: string): Promise<boolean> {
  try { await access(p); return true; } catch { return false; }
}

async function readClockFile(dir: string, signal: AbortSignal, timeoutMs: number): Promise<{ host: string; port: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const c = JSON.parse(await readFile(join(dir, 'clock.json'), 'utf8')) as { host?: string; port?: number };
      if (typeof c.host === 'string' && typeof c.port === 'number') return { host: c.host, port: c.port };
    } catch { /* not yet */ }
    if (Date.now() > deadline || signal.aborted) throw new Error(`no ${join(dir, 'clock.json')} within ${timeoutMs / 1000} s: the reference node's sampler (node 0) did not start`);
    await sleepMs(200, signal);
  }
}

async function chrony(env: NodeJS.ProcessEnv): Promise<ChronyTracking | undefined> {
  const tool = await findOnPath('chronyc', env.PATH ?? '');
  if (!tool) return undefined;
  const r = await runCommand(tool, ['tracking'], { timeoutMs: 3000 });
  if (r.exitCode !== 0) return undefined;
  const t = parseChronyTracking(r.stdout);
  return t.systemOffsetMs !== undefined ? t : undefined;
}

/** Sample until stopped (signal, stop file, or duration) and write this node's shard. Returns the shard's path. */
export async function runShard(o: ShardOptions): Promise<{ path: string; shard: ShardFile }> {
  await mkdir(o.dir, { recursive: true });
  const id = nodeIdentity(o.env, o.node ?? {});
  const nodeCount = o.nodes ?? id.nodeCount;
  const isRef = o.reference ?? id.index === 0;
  const base = shardName(id.index);
  if (await exists(join(o.dir, `${base}.json`))) throw badInput('SHARD_EXISTS', `${join(o.dir, base + '.json')} already exists: two samplers claim node ${id.index}, or the folder holds an older job`, 'give each job its own --dir (e.g. wattbench-$SLURM_JOB_ID), one sampler per node');

  // the reference clock first, so the other nodes can measure against it while we start sampling
  let server: TimeServer | undefined;
  const offsetErrors: string[] = [];
  let clockAt: { host: string; port: number } | undefined;
  if (isRef) {
    const advertise = o.clockHost ?? id.name;
    // every interface by default: a node name often resolves to a loopback address on its own node (Debian's
    // 127.0.1.1), where the other nodes could not reach it; a one-node job keeps it on loopback
    server = await startTimeServer(o.clockBind ?? (nodeCount === 1 ? '127.0.0.1' : '0.0.0.0'), o.clockPort ?? 0);
    clockAt = { host: advertise, port: server.port };
    await writeFileAtomic(join(o.dir, 'clock.json'), JSON.stringify({ ...clockAt, node: id.index }) + '\n');
    o.log(`node ${id.index}: reference clock on udp ${server.address}:${server.port}`);
  } else if (o.clockServer) {
    const i = o.clockServer.lastIndexOf(':');
    clockAt = { host: o.clockServer.slice(0, i), port: Number(o.clockServer.slice(i + 1)) };
  }

  try {
    return await sampleAndWrite(o, id, nodeCount, isRef, base, clockAt, server, offsetErrors);
  } finally {
    await server?.close();
  }
}

async function sampleAndWrite(
  o: ShardOptions, id: ReturnType<typeof nodeIdentity>, nodeCount: number | undefined, isRef: boolean, base: string,
  clockAt: { host: string; port: number } | undefined, server: TimeServer | undefined, offsetErrors: string[],
): Promise<{ path: string; shard: ShardFile }> {
  const choice = await chooseSource(o.env, o.sourceId, (sid) => (sid === o.sourceId ? o.sourceOptions : {}));
  const { driver, probe } = choice.chosen;
  const intervalMs = Math.max(o.intervalMs ?? driver.meta.defaultIntervalMs, driver.meta.minIntervalMs);
  const [host, version, commit, ntp] = await Promise.all([hostFacts(true), toolVersion(), gitCommit(), chrony(o.env)]);
  const clock = createWallRunClock();
  const log = new SampleLog(join(o.dir, `${base}.samples.jsonl`));
  const gaps: Gap[] = [];
  let restarts = 0, sampleCount = 0;
  const samplerAbort = new AbortController();
  let sampler: Sampler | undefined;
  const measure = async (): Promise<OffsetMeasurement | null> => {
    if (isRef) return { offsetMs: 0, rttMs: 0, atWallMs: wallNowMs(), probes: 0 };
    try {
      clockAt ??= await readClockFile(o.dir, o.signal, 120_000);
      return await measureOffset(clockAt.host, clockAt.port);
    } catch (err) { offsetErrors.push(errorMessage(err)); o.log(`node ${id.index}: clock offset not measured: ${errorMessage(err)}`); return null; }
  };

  let startOffset: OffsetMeasurement | null = null, endOffset: OffsetMeasurement | null = null;
  let stoppedBy: ShardFile['stoppedBy'] = 'signal';
  const startedS = clock.nowS();
  try {
    sampler = await driver.start({
      devices: probe.devices, intervalMs, clock, signal: samplerAbort.signal, options: o.sourceOptions, env: o.env, probe,
      sink: {
        sample: (s: Sample) => { sampleCount++; log.write({ type: 'sample', ...s }); },
        gap: (g) => { const gg = { ...g, reason: g.reason.slice(0, 1000) }; gaps.push(gg); log.write({ type: 'gap', sourceId: driver.meta.id, ...gg }); },
        restarted: (why) => { restarts++; o.log(`node ${id.index}: ${driver.meta.id}: ${why}`); },
        note: (m) => o.log(`node ${id.index}: ${m}`),
      },
    });
    startOffset = await measure();
    await writeFile(join(o.dir, `ready-${id.index}`), `${id.name}\n`);
    o.log(`node ${id.index} (${id.name}): sampling ${driver.meta.id} on ${probe.devices.length} device(s)${startOffset && !isRef ? `, clock ${startOffset.offsetMs.toFixed(1)} ms off the reference (±${(startOffset.rttMs / 2).toFixed(1)})` : ''}`);

    // until a signal, a stop file, or the duration
    const until = o.durationS !== undefined ? Date.now() + o.durationS * 1000 : Infinity;
    for (;;) {
      if (o.signal.aborted) { stoppedBy = 'signal'; break; }
      if (Date.now() >= until) { stoppedBy = 'duration'; break; }
      if (await exists(join(o.dir, 'stop')) || await exists(join(o.dir, `stop-${id.index}`))) { stoppedBy = 'stop-file'; break; }
      await sleepMs(200, o.signal);
    }
    endOffset = await measure();
  } finally {
    samplerAbort.abort();
    await sampler?.stop().catch((err) => o.log(`node ${id.index}: stopping the sampler: ${errorMessage(err)}`));
    await log.close();
  }
  const shard: ShardFile = {
    format: SHARD_FORMAT,
    node: { index: id.index, name: id.name, hostname: os.hostname() },
    reference: isRef,
    job: { scheduler: id.scheduler, ...(id.jobId ? { jobId: id.jobId } : {}), ...(id.jobName ? { jobName: id.jobName } : {}), ...(nodeCount ? { nodeCount } : {}) },
    host, software: { node: process.versions.node, ...(probe.software ?? {}) },
    tool: { version, ...(commit ? { gitCommit: commit } : {}) },
    clock: { anchorWallMs: clock.anchorWallMs, startedS, stoppedS: clock.nowS() },
    offsets: { start: startOffset, end: endOffset, errors: offsetErrors },
    ...(ntp ? { ntp } : {}),
    source: {
      id: driver.meta.id, scope: probe.scope ?? driver.meta.scope, semantics: probe.semantics, deviceIds: probe.devices.map((d) => d.id),
      requestedIntervalMs: intervalMs, ...(sampler?.command ? { command: sampler.command } : {}), restarts, gaps, ...(probe.note ? { note: probe.note } : {}),
    },
    others: choice.others,
    devices: probe.devices,
    samplesFile: `${base}.samples.jsonl`,
    sampleCount,
    stoppedBy,
  };
  const path = join(o.dir, `${base}.json`);
  await writeFileAtomic(path, JSON.stringify(shard, null, 1) + '\n');
  o.log(`node ${id.index}: wrote ${path} (${sampleCount} samples)`);

  // the reference keeps answering until every other node has measured its end offset (and written its shard)
  if (server) {
    const deadline = Date.now() + 60_000;
    const others = nodeCount ? nodeCount - 1 : 0;
    while (Date.now() < deadline && others > 0) {
      const written = (await readdir(o.dir)).filter((f) => /^shard-\d+\.json$/.test(f) && f !== `${base}.json`).length;
      if (written >= others) break;
      await sleepMs(250);
    }
  }
  return { path, shard };
}

/** Wait until `nodes` samplers have said they are up. Exit-2 error on timeout, naming who is missing. */
export async function waitReady(dir: string, nodes: number, timeoutS: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    let ready: string[] = [];
    try { ready = (await readdir(dir)).filter((f) => /^ready-\d+$/.test(f)); } catch { /* folder not there yet */ }
    if (ready.length >= nodes) return;
    if (Date.now() > deadline || signal.aborted) {
      const have = new Set(ready.map((f) => Number(f.slice(6))));
      const missing = Array.from({ length: nodes }, (_, i) => i).filter((i) => !have.has(i));
      throw badInput('SAMPLERS_NOT_READY', `only ${ready.length} of ${nodes} samplers came up in ${dir} within ${timeoutS} s (missing node ${missing.join(', ')})`, 'check the sampler step\'s output (srun --overlap ... wattbench shard); does every node see the shared folder?');
    }
    await sleepMs(250, signal);
  }
}
