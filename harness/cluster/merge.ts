// `wattbench merge`: the shards of one job → one validated result. Every node's samples and rank 0's events are put
// on the reference node's clock through the offsets each sampler measured at start and end (linear in between);
// the figures come from analyse(), the same definitions as a single-node run, over all nodes' devices — so the
// energy of a window is the sum over every device of every node. A job whose clocks disagree by more than the
// allowed skew is refused: its windows could not be placed on the samples.
import { readFile, readdir, stat, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Device, Gap, WattbenchResult, Source } from '../../results/types.gen.js';
import { readSampleLog, SampleLog, type Sample } from '../../results/samples.js';
import { checkOutputFile, writeResult } from '../../results/io.js';
import { SCHEMA_VERSION } from '../../results/validate.js';
import { badInput } from '../../lib/errors.js';
import { analyse, type RepetitionRaw, type SourceRun } from '../analyse.js';
import { makeRunId } from '../run.js';
import { offsetAt } from './clock.js';
import { SHARD_FORMAT, type ShardFile } from './shard.js';
import { readEvents, repetitionFromEvents, type EventRecord, type IdleRecord } from './events.js';

export const DEFAULT_MAX_SKEW_MS = 400;

export interface LoadedShard { path: string; shard: ShardFile; samples: Sample[]; gaps: Gap[] }

export interface ShardSet {
  shards: LoadedShard[];
  /** Events per repetition index, from rank 0. */
  events: Map<number, EventRecord[]>;
  idle: IdleRecord | null;
}

function checkShard(x: unknown, path: string): ShardFile {
  const s = x as Partial<ShardFile>;
  const missing = ['node', 'clock', 'offsets', 'source', 'devices', 'samplesFile', 'host'].filter((k) => (s as Record<string, unknown>)[k] === undefined);
  if (s?.format !== SHARD_FORMAT) throw badInput('NOT_A_SHARD', `${path} is not a wattbench shard (format ${JSON.stringify(s?.format)})`, 'pass the shard-N.json files (or their folder) that `wattbench shard` wrote');
  if (missing.length) throw badInput('BAD_SHARD', `${path} lacks ${missing.join(', ')}`, 'the sampler was cut off before it finished; run the job again');
  return s as ShardFile;
}

/** Load shards from files and/or folders; events and the idle window from the folder of the shards. */
export async function loadShardSet(args: string[], eventsDir?: string): Promise<ShardSet> {
  const files: string[] = [];
  for (const a of args) {
    let st;
    try { st = await stat(a); } catch { throw badInput('NO_SUCH_FILE', `${a} does not exist`, 'pass shard files or the shared folder of the job'); }
    if (st.isDirectory()) files.push(...(await readdir(a)).filter((f) => /^shard-\d+\.json$/.test(f)).sort((x, y) => Number(x.slice(6, -5)) - Number(y.slice(6, -5))).map((f) => join(a, f)));
    else files.push(a);
  }
  if (!files.length) throw badInput('NO_SHARDS', `no shard-N.json in ${args.join(', ')}`, 'did the samplers run (srun --overlap ... wattbench shard) and stop cleanly (touch DIR/stop)?');
  const shards: LoadedShard[] = [];
  for (const path of files) {
    let raw: unknown;
    try { raw = JSON.parse(await readFile(path, 'utf8')); } catch (err) { throw badInput('BAD_SHARD', `${path}: ${(err as Error).message}`, 'the shard file is damaged; run the job again'); }
    const shard = checkShard(raw, path);
    const recs = await readSampleLog(join(dirname(path), shard.samplesFile)).catch(() => { throw badInput('BAD_SHARD', `${path}: its samples ${shard.samplesFile} are missing`, 'keep the shard-N.samples.jsonl files beside the shard files'); });
    const samples: Sample[] = [], gaps: Gap[] = [];
    for (const r of recs) {
      if (r.type === 'sample') { const { type: _t, ...s } = r; samples.push(s); }
      else if (r.type === 'gap') gaps.push({ startS: r.startS, endS: r.endS, reason: r.reason, ...(r.deviceId ? { deviceId: r.deviceId } : {}) });
    }
    shards.push({ path, shard, samples, gaps });
  }
  const dir = eventsDir ?? dirname(files[0]!);
  const events = new Map<number, EventRecord[]>();
  for (const f of await readdir(dir)) {
    const m = /^events-r(\d+)\.jsonl$/.exec(f);
    if (m) events.set(Number(m[1]), await readEvents(join(dir, f)));
  }
  let idle: IdleRecord | null = null;
  try { idle = JSON.parse(await readFile(join(dir, 'idle.json'), 'utf8')) as IdleRecord; } catch { /* no idle baseline */ }
  return { shards, events, idle };
}

export interface MergeOptions {
  maxSkewMs: number;
  /** Treat nodes whose offsets could not be measured as in sync (recorded as a warning). */
  allowUnmeasuredClock?: boolean;
  recordHostname: boolean;
  runId?: string;
  samplesFileName: string;
  tool: { version: string; gitCommit?: string };
}

export interface MergeOutput {
  result: WattbenchResult; samples: Sample[]; gaps: Array<Gap & { sourceId: string }>; phases: Array<{ tS: number; phase: string; repetition?: number }>;
  /** Rank 0's events on the merged clock, for the raw samples file. */
  events: Array<{ tS: number; repetition: number; event: string; data?: Record<string, unknown> }>;
}

const nodeLabel = (i: number) => `node${i}`;

/** Put the shards on one clock and analyse. Pure apart from reading the clock for createdAt. */
export function mergeShards(set: ShardSet, o: MergeOptions): MergeOutput {
  const shards = [...set.shards].sort((a, b) => a.shard.node.index - b.shard.node.index);
  // one node, one shard
  const seen = new Map<number, string>();
  for (const s of shards) {
    const prev = seen.get(s.shard.node.index);
    if (prev) throw badInput('DUPLICATE_SHARD', `${prev} and ${s.path} are both node ${s.shard.node.index}`, 'merge the shards of one job only');
    seen.set(s.shard.node.index, s.path);
  }
  const jobIds = new Set(shards.map((s) => s.shard.job.jobId ?? ''));
  if (jobIds.size > 1) throw badInput('MIXED_JOBS', `the shards come from different jobs (${[...jobIds].join(', ')})`, 'merge the shards of one job only');
  const expected = Math.max(...shards.map((s) => s.shard.job.nodeCount ?? 0));
  if (expected > shards.length) {
    const missing = Array.from({ length: expected }, (_, i) => i).filter((i) => !seen.has(i));
    throw badInput('MISSING_SHARDS', `the job ran on ${expected} nodes but only ${shards.length} left a shard (missing node ${missing.join(', ')}); its energy would be undercounted`, 'look at that node\'s sampler output, and run the job again');
  }
  const ref = shards.filter((s) => s.shard.reference);
  if (ref.length !== 1) throw badInput('NO_REFERENCE_CLOCK', ref.length ? `${ref.length} shards claim to be the reference clock` : 'no shard served the reference clock', 'run exactly one sampler with the reference clock (node 0 does by default)');
  const src = shards[0]!.shard.source;
  const mixed = shards.filter((s) => s.shard.source.id !== src.id || s.shard.source.semantics.kind !== src.semantics.kind);
  if (mixed.length) throw badInput('MIXED_SOURCES', `nodes used different power sources: node ${shards[0]!.shard.node.index} ${src.id} (${src.semantics.kind}), node ${mixed[0]!.shard.node.index} ${mixed[0]!.shard.source.id} (${mixed[0]!.shard.source.semantics.kind})`, 'force the same source on every node with --source');

  // clock offsets: measured, and within the allowed skew
  const warnings: WattbenchResult['warnings'] = [];
  let skewMs = 0;
  for (const s of shards) {
    const { start, end, errors } = s.shard.offsets;
    if (!start && !end) {
      if (!o.allowUnmeasuredClock) throw badInput('CLOCK_UNMEASURED', `node ${s.shard.node.index} (${s.shard.node.name}) could not measure its clock offset: ${errors[0] ?? 'no measurement'}`, 'let the nodes reach the reference node over UDP (the port in clock.json), or pass --allow-unmeasured-clock if their clocks are known to be in sync');
      warnings.push({ code: 'CLOCK_SKEW', message: `Node ${s.shard.node.index}'s clock offset could not be measured; it was assumed to be in sync (--allow-unmeasured-clock).` });
      continue;
    }
    for (const [when, m] of [['start', start], ['end', end]] as const) {
      if (!m) continue;
      skewMs = Math.max(skewMs, Math.abs(m.offsetMs));
      if (Math.abs(m.offsetMs) > o.maxSkewMs) {
        throw badInput('CLOCK_SKEW', `node ${s.shard.node.index} (${s.shard.node.name})'s clock was ${m.offsetMs.toFixed(0)} ms off the reference node's at the ${when} of the job, more than the allowed ${o.maxSkewMs} ms: its samples cannot be placed on rank 0's window`, 'synchronize the nodes\' clocks (chrony or NTP) and run the job again, or raise --max-skew-ms if you accept the error');
      }
    }
  }

  // one time line: the reference's wall clock, t = 0 at the earliest sampler start
  const toRefWall = (s: ShardFile, localWallMs: number) => localWallMs + offsetAt(s.offsets.start, s.offsets.end, localWallMs);
  const anchorMs = Math.min(...shards.map((s) => toRefWall(s.shard, s.shard.clock.anchorWallMs + s.shard.clock.startedS * 1000)));
  const mapS = (s: ShardFile, tS: number) => (toRefWall(s, s.clock.anchorWallMs + tS * 1000) - anchorMs) / 1000;

  const devices: Device[] = [];
  const samples: Sample[] = [];
  const gaps: Array<Gap & { sourceId: string }> = [];
  let restarts = 0, globalIndex = 0;
  for (const { shard: s, samples: ss, gaps: gg } of shards) {
    const pre = nodeLabel(s.node.index);
    for (const d of s.devices) devices.push({ ...d, id: `${pre}/${d.id}`.slice(0, 128), index: globalIndex++, ...(d.name ? { name: `${d.name}`.slice(0, 256) } : {}) });
    for (const x of ss) samples.push({ ...x, tS: mapS(s, x.tS), deviceId: `${pre}/${x.deviceId}` });
    for (const g of [...s.source.gaps, ...gg]) {
      const m = { ...g, startS: mapS(s, g.startS), endS: mapS(s, g.endS), ...(g.deviceId ? { deviceId: `${pre}/${g.deviceId}` } : {}), reason: `${pre}: ${g.reason}`.slice(0, 1000) };
      if (!gaps.some((x) => x.startS === m.startS && x.endS === m.endS && x.deviceId === m.deviceId)) gaps.push({ ...m, sourceId: s.source.id });
    }
    restarts += s.source.restarts;
  }
  samples.sort((a, b) => a.tS - b.tS);

  // rank 0's events: mapped through the offsets of the sampler on rank 0's node
  const shardOn = (nodeName: string, hostname: string) => shards.find((s) => s.shard.node.name === nodeName) ?? shards.find((s) => s.shard.node.hostname === hostname);
  const repetitions: RepetitionRaw[] = [];
  const events: MergeOutput['events'] = [];
  let eventsNode: number | undefined, command: string[] | undefined, kind: 'train' | 'infer' | 'serve' | 'other' = 'other', name: string | undefined;
  const reps = [...set.events.keys()].sort((a, b) => a - b);
  if (!reps.length) throw badInput('NO_EVENTS', 'no events-rN.jsonl from rank 0 in the shared folder: the workload window is unknown', 'launch the workload through `wattbench stamp --dir DIR -- CMD` (inside your srun line), and check that it printed window_start/window_end');
  for (const rep of reps) {
    const recs = set.events.get(rep)!;
    const header = recs.find((r): r is Extract<EventRecord, { type: 'header' }> => r.type === 'header');
    if (!header) throw badInput('BAD_EVENTS', `events-r${rep}.jsonl has no header`, 'the stamp process was cut off; run the job again');
    const on = shardOn(header.nodeName, header.hostname);
    if (!on) throw badInput('EVENTS_NODE_UNSAMPLED', `rank 0 ran on ${header.nodeName}, where no sampler left a shard`, 'run one sampler on every node of the job (srun --overlap --ntasks-per-node=1 ... wattbench shard)');
    eventsNode ??= on.shard.node.index;
    command ??= header.command; kind = header.kind; name ??= header.name;
    const toS = (wallMs: number) => (toRefWall(on.shard, wallMs) - anchorMs) / 1000;
    repetitions.push(repetitionFromEvents(rep, recs, toS));
    for (const r of recs) {
      if (r.type !== 'event' || r.e.event === 'info') continue;
      const { event, ...data } = r.e as { event: string };
      events.push({ tS: toS(r.wallMs), repetition: rep, event, ...(Object.keys(data).length ? { data } : {}) });
    }
  }
  let idle: { startS: number; endS: number } | null = null;
  if (set.idle) {
    const on = shardOn(set.idle.nodeName, set.idle.hostname);
    if (on) idle = { startS: (toRefWall(on.shard, set.idle.startWallMs) - anchorMs) / 1000, endS: (toRefWall(on.shard, set.idle.endWallMs) - anchorMs) / 1000 };
  }

  const refShard = ref[0]!.shard;
  const srcRun: SourceRun = {
    id: src.id, scope: src.scope, semantics: src.semantics, deviceIds: devices.map((d) => d.id), requestedIntervalMs: src.requestedIntervalMs,
    ...(src.command ? { command: src.command } : {}), restarts, gaps,
    note: `merged from ${shards.length} node(s)${src.note ? `; ${src.note}` : ''}`.slice(0, 2048),
  };
  const a = analyse({ source: srcRun, devices, samples, idle, repetitions, interrupted: false, repetitionsRequested: repetitions.length });

  // per node: its share of each repetition's energy, for the report
  const perNode = new Map<number, number[]>(shards.map((s) => [s.shard.node.index, a.repetitions.map((r) => r.devices.filter((d) => d.deviceId.startsWith(`${nodeLabel(s.shard.node.index)}/`)).reduce((x, d) => x + d.energyJ, 0))]));
  const host = { ...refShard.host };
  if (!o.recordHostname) delete host.hostname;
  const job = refShard.job;
  const result: WattbenchResult = {
    schemaVersion: SCHEMA_VERSION,
    runId: o.runId ?? makeRunId(`${job.scheduler}-${job.jobId ?? 'job'}`),
    status: a.status,
    createdAt: new Date().toISOString(),
    tool: { name: 'wattbench', version: o.tool.version, ...(o.tool.gitCommit ? { gitCommit: o.tool.gitCommit } : {}) },
    clock: { anchorWallTime: new Date(anchorMs).toISOString(), source: 'process.hrtime' },
    host,
    software: { ...refShard.software },
    devices,
    workload: { id: 'command', name: (name ?? command?.join(' ') ?? 'workload').slice(0, 256), kind, config: { command: command ?? [], launcher: job.scheduler } },
    settings: {
      repetitions: repetitions.length, idleS: idle ? idle.endS - idle.startS : 0, cooldownS: 0, intervalMs: src.requestedIntervalMs, sourceRequested: src.id,
    },
    sources: [a.source, ...(refShard.others as Source[])],
    idle: a.idle,
    repetitions: a.repetitions,
    summary: a.summary,
    warnings: [...warnings, ...a.warnings],
    errors: [],
    rawSamples: { file: o.samplesFileName, format: 'wattbench-samples-jsonl-v1' },
    fidelity: a.fidelity,
    cluster: {
      scheduler: job.scheduler,
      ...(job.jobId ? { jobId: job.jobId } : {}),
      ...(job.jobName ? { jobName: job.jobName } : {}),
      nodeCount: shards.length,
      referenceNode: refShard.node.index,
      ...(eventsNode !== undefined ? { eventsNode } : {}),
      maxSkewMs: o.maxSkewMs,
      skewMs,
      nodes: shards.map(({ shard: s }) => ({
        index: s.node.index,
        name: o.recordHostname ? s.node.name : nodeLabel(s.node.index),
        sourceId: s.source.id,
        scope: s.source.scope,
        deviceIds: s.devices.map((d) => `${nodeLabel(s.node.index)}/${d.id}`.slice(0, 128)),
        sampleCount: s.sampleCount,
        repetitionEnergyJ: perNode.get(s.node.index)!,
        clock: {
          offsetStartMs: s.offsets.start?.offsetMs ?? null, offsetEndMs: s.offsets.end?.offsetMs ?? null,
          rttStartMs: s.offsets.start?.rttMs ?? null, rttEndMs: s.offsets.end?.rttMs ?? null,
        },
        ...(s.ntp?.systemOffsetMs !== undefined ? { ntpOffsetMs: s.ntp.systemOffsetMs } : {}),
        cpuModel: s.host.cpuModel,
      })),
    },
  };
  const phases = [
    ...(idle ? [{ tS: idle.startS, phase: 'idle' }] : []),
    ...a.repetitions.flatMap((r) => r.phases.map((p) => ({ tS: p.startS, phase: p.phase === 'done' ? 'cooldown' : p.phase === 'start' ? 'warmup' : p.phase, repetition: r.index }))),
  ];
  return { result, samples, gaps, phases, events };
}

/** Merge and write the result (validated, atomic) and its raw samples beside it. */
export async function mergeToFile(args: string[], out: string, o: Omit<MergeOptions, 'samplesFileName'>, eventsDir?: string): Promise<{ result: WattbenchResult; resultPath: string; samplesPath: string }> {
  const resultPath = resolve(out);
  const samplesPath = resultPath.replace(/\.json$/i, '') + '.samples.jsonl';
  // both files are checked before anything is written, so a bad --out leaves no orphan samples file
  await checkOutputFile(resultPath);
  await checkOutputFile(samplesPath, '--out (its samples file)');
  const set = await loadShardSet(args, eventsDir);
  const m = mergeShards(set, { ...o, samplesFileName: basename(samplesPath) });
  await rm(samplesPath, { force: true }); // the log appends; a re-merge must not double the samples
  const log = new SampleLog(samplesPath);
  for (const p of m.phases) log.write({ type: 'phase', ...p });
  for (const e of m.events) log.write({ type: 'event', ...e });
  for (const s of m.samples) log.write({ type: 'sample', ...s });
  for (const g of m.gaps) log.write({ type: 'gap', ...g });
  await log.close();
  await writeResult(resultPath, m.result);
  return { result: m.result, resultPath, samplesPath };
}
