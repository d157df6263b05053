// The merge over synthetic shards with known clocks and power: offsets are applied (a node whose clock runs behind
// must still have its step in power land on rank 0's window), energy sums over nodes, skew beyond the limit and
// every other inconsistency is refused with a clear exit-2 error; plus the clock pieces (UDP probe, chrony).
import { describe, it, expect } from 'vitest';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { mergeShards, loadShardSet, DEFAULT_MAX_SKEW_MS, type ShardSet } from '../../harness/cluster/merge.js';
import { SHARD_FORMAT, type ShardFile } from '../../harness/cluster/shard.js';
import { repetitionFromEvents, type EventRecord } from '../../harness/cluster/events.js';
import { startTimeServer, measureOffset, parseChronyTracking, offsetAt } from '../../harness/cluster/clock.js';
import { validateResult } from '../../results/validate.js';
import type { Sample } from '../../results/samples.js';
import { WattbenchError } from '../../lib/errors.js';
import { runCli, tempDir, FIXTURES, HAVE_FIXTURES } from '../helpers/cli.js';

const T0 = Date.UTC(2026, 0, 1, 12); // reference wall time of the job's start, ms

/**
 * A node whose clock is `offsetMs` behind the reference (reference − local = offsetMs), sampling `power(refS)` W every
 * 100 ms for 20 s of reference time. Its samples are stamped on its own clock, as a real sampler would.
 */
function node(index: number, offsetMs: number, power: (refS: number) => number, extra: Partial<ShardFile> = {}): { shard: ShardFile; samples: Sample[] } {
  const anchorWallMs = T0 - offsetMs; // its local wall clock when the reference reads T0
  const samples: Sample[] = [];
  for (let i = 0; i <= 200; i++) {
    const refS = i * 0.1;
    samples.push({ tS: refS, sourceId: 'replay', deviceId: 'replay:0', powerW: power(refS) });
  }
  const m = (at: number) => ({ offsetMs, rttMs: 0.4, atWallMs: anchorWallMs + at, probes: 12 });
  const shard: ShardFile = {
    format: SHARD_FORMAT,
    node: { index, name: `n${index + 1}`, hostname: `host${index + 1}` },
    reference: index === 0,
    job: { scheduler: 'slurm', jobId: '42', nodeCount: 2 },
    host: { cpuModel: 'Test CPU', cpuCores: 2, cpuThreads: 2, memoryMiB: 1024, os: 'Debian', kernel: '6.1', arch: 'x64', hostname: `host${index + 1}` },
    software: { node: process.versions.node },
    tool: { version: '0.1.0' },
    clock: { anchorWallMs, startedS: 0, stoppedS: 20 },
    offsets: { start: m(0), end: m(20000), errors: [] },
    source: { id: 'replay', scope: 'device', semantics: { kind: 'instantaneous', updatePeriodMs: 100 }, deviceIds: ['replay:0'], requestedIntervalMs: 100, restarts: 0, gaps: [] },
    others: [],
    devices: [{ id: 'replay:0', index: 0, vendor: 'replay', name: 'replayed device', kind: 'accelerator' }],
    samplesFile: `shard-${index}.samples.jsonl`,
    sampleCount: samples.length,
    stoppedBy: 'stop-file',
    ...extra,
  };
  return { shard, samples };
}

/** Rank 0's events on node 0 (the reference): window [5 s, 15 s] of reference time, 1000 tokens. */
function events(nodeName = 'n1', rank0OffsetMs = 0, windowS: [number, number] = [5, 15], exitCode = 0): EventRecord[] {
  const w = (s: number) => T0 - rank0OffsetMs + s * 1000;
  return [
    { type: 'header', wallMs: w(4), nodeName, hostname: 'hostX', rank: 0, repetition: 0, command: ['python', 'train.py'], kind: 'train' },
    { type: 'event', wallMs: w(4.5), e: { event: 'warmup_start' } },
    { type: 'event', wallMs: w(windowS[0]), e: { event: 'window_start' } },
    { type: 'event', wallMs: w(10), e: { event: 'tokens', tokens: 1000 } },
    { type: 'event', wallMs: w(windowS[1]), e: { event: 'window_end' } },
    { type: 'event', wallMs: w(15.5), e: { event: 'tokens', tokens: 500 } }, // after the window: not counted
    { type: 'exit', wallMs: w(16), exitCode, signal: null },
  ];
}

function set(nodes: Array<{ shard: ShardFile; samples: Sample[] }>, ev: EventRecord[] = events(), idle: ShardSet['idle'] = null): ShardSet {
  return { shards: nodes.map((n) => ({ path: `/x/shard-${n.shard.node.index}.json`, shard: n.shard, samples: n.samples, gaps: [] })), events: new Map([[0, ev]]), idle };
}

const opts = { maxSkewMs: DEFAULT_MAX_SKEW_MS, recordHostname: false, samplesFileName: 'r.samples.jsonl', tool: { version: '0.1.0' } };
const step = (atS: number, lo: number, hi: number) => (s: number) => (s < atS ? lo : hi);

function refused(fn: () => unknown): WattbenchError {
  try { fn(); } catch (err) { if (err instanceof WattbenchError) return err; throw err; }
  throw new Error('expected a refusal');
}

describe('merge', () => {
  it('sums the energy of every node over rank 0\'s window, with each node\'s clock offset taken out', () => {
    // node 1's clock is 300 ms behind; its power steps from 100 W to 300 W at 10 s of *reference* time
    const m = mergeShards(set([node(0, 0, () => 200), node(1, 300, step(10, 100, 300))]), opts);
    const rep = m.result.repetitions[0]!;
    expect(rep.status).toBe('ok');
    expect(rep.window!.durationS).toBeCloseTo(10, 6);
    expect(rep.tokens!.total).toBe(1000);
    // node 0: 200 W × 10 s = 2000 J; node 1: 100 W × 4.9 s + the trapezoid over the 9.9 → 10.0 s step (20 J) + 300 W × 5 s
    // = 2010 J. Had node 1's 300 ms not been taken out, its step would fall at 10.3 s: 3950 J in all.
    expect(rep.figures!.energyJ).toBeCloseTo(2000 + 2010, 6);
    expect(m.result.cluster!.nodes.map((n) => n.repetitionEnergyJ[0])).toEqual([expect.closeTo(2000, 6), expect.closeTo(2010, 6)]);
    expect(m.result.cluster).toMatchObject({ scheduler: 'slurm', jobId: '42', nodeCount: 2, referenceNode: 0, eventsNode: 0, skewMs: 300, maxSkewMs: 400 });
    expect(m.result.cluster!.nodes[1]!.clock).toEqual({ offsetStartMs: 300, offsetEndMs: 300, rttStartMs: 0.4, rttEndMs: 0.4 });
    const v = validateResult(m.result);
    expect(v.ok, JSON.stringify(!v.ok && v.problems)).toBe(true);
  });

  it('without the offset correction the same data would be wrong: a window just after the step sees the difference', () => {
    // a window [10.1, 10.3] s right after node 1's step: corrected, node 1 is at 300 W throughout
    const ev = events('n1', 0, [10.1, 10.3]);
    const m = mergeShards(set([node(0, 0, () => 0), node(1, 300, step(10, 100, 300))], ev), opts);
    expect(m.result.repetitions[0]!.figures!.meanPowerW).toBeCloseTo(300, 6);
  });

  it('rank 0 on a node whose clock is off: its events are mapped through that node\'s offset', () => {
    const ev = events('n2', 250);
    const m = mergeShards(set([node(0, 0, () => 100), node(1, 250, () => 100)], ev), opts);
    expect(m.result.repetitions[0]!.window!.startS).toBeCloseTo(5, 6);
    expect(m.result.cluster!.eventsNode).toBe(1);
  });

  it('refuses a node more than the allowed skew off the reference (exit 2, names the node and the fix)', () => {
    const err = refused(() => mergeShards(set([node(0, 0, () => 100), node(1, 812, () => 100)]), opts));
    expect(err.code).toBe('CLOCK_SKEW');
    expect(err.exit).toBe(2);
    expect(err.describe()).toMatch(/node 1 \(n2\)'s clock was 812 ms off .* more than the allowed 400 ms.*chrony or NTP.*--max-skew-ms/);
    expect(() => mergeShards(set([node(0, 0, () => 100), node(1, 812, () => 100)]), { ...opts, maxSkewMs: 1000 })).not.toThrow();
    // skew at the end only (a clock that drifted or stepped during the job) is refused too
    const drift = node(1, 0, () => 100);
    drift.shard.offsets.end = { ...drift.shard.offsets.end!, offsetMs: -450 };
    expect(refused(() => mergeShards(set([node(0, 0, () => 100), drift]), opts)).describe()).toMatch(/-450 ms off the reference node's at the end/);
  });

  it('unmeasured offsets are refused, or accepted as in sync with a CLOCK_SKEW warning when asked', () => {
    const lost = node(1, 0, () => 100);
    lost.shard.offsets = { start: null, end: null, errors: ['no answer from the time server at n1:40000 (UDP) to 12 probes'] };
    const err = refused(() => mergeShards(set([node(0, 0, () => 100), lost]), opts));
    expect(err.code).toBe('CLOCK_UNMEASURED');
    expect(err.message).toMatch(/no answer from the time server/);
    const m = mergeShards(set([node(0, 0, () => 100), lost]), { ...opts, allowUnmeasuredClock: true });
    expect(m.result.warnings.map((w) => w.code)).toContain('CLOCK_SKEW');
  });

  it('refuses missing nodes, mixed sources, duplicate nodes, no reference and no events', () => {
    expect(refused(() => mergeShards(set([node(0, 0, () => 1, { job: { scheduler: 'slurm', jobId: '42', nodeCount: 3 } }), node(1, 0, () => 1)]), opts)).code).toBe('MISSING_SHARDS');
    const rapl = node(1, 0, () => 1);
    rapl.shard.source = { ...rapl.shard.source, id: 'rapl', semantics: { kind: 'energy-counter' } };
    expect(refused(() => mergeShards(set([node(0, 0, () => 1), rapl]), opts)).describe()).toMatch(/MIXED_SOURCES.*replay.*rapl.*--source/);
    expect(refused(() => mergeShards(set([node(0, 0, () => 1), node(0, 0, () => 1)]), opts)).code).toBe('DUPLICATE_SHARD');
    const notRef = node(0, 0, () => 1, { reference: false });
    expect(refused(() => mergeShards(set([notRef, node(1, 0, () => 1)]), opts)).code).toBe('NO_REFERENCE_CLOCK');
    const noEv: ShardSet = { ...set([node(0, 0, () => 1), node(1, 0, () => 1)]), events: new Map() };
    expect(refused(() => mergeShards(noEv, opts)).describe()).toMatch(/NO_EVENTS.*wattbench stamp/);
    expect(refused(() => mergeShards(set([node(0, 0, () => 1), node(1, 0, () => 1)], events('elsewhere')), opts)).code).toBe('EVENTS_NODE_UNSAMPLED');
  });

  it('the idle window comes from idle.json; host names only with --record-hostname', () => {
    const idle = { nodeName: 'n1', hostname: 'host1', startWallMs: T0 + 1000, endWallMs: T0 + 3000 };
    const m = mergeShards(set([node(0, 0, () => 100), node(1, 0, () => 50)], events(), idle), opts);
    expect(m.result.idle).toMatchObject({ durationS: expect.closeTo(2, 6), powerW: expect.closeTo(150, 6) });
    expect(m.result.host.hostname).toBeUndefined();
    expect(JSON.stringify(m.result)).not.toMatch(/host1|"n2"/);
    const named = mergeShards(set([node(0, 0, () => 100), node(1, 0, () => 50)], events(), idle), { ...opts, recordHostname: true });
    expect(named.result.cluster!.nodes.map((n) => n.name)).toEqual(['n1', 'n2']);
  });

  it('a failed rank 0 makes a failed repetition, recorded rather than dropped', () => {
    const m = mergeShards(set([node(0, 0, () => 100), node(1, 0, () => 100)], events('n1', 0, [5, 15], 3)), opts);
    expect(m.result.status).toBe('failed');
    expect(m.result.repetitions[0]).toMatchObject({ status: 'failed', error: { code: 'WORKLOAD_FAILED', message: 'rank 0 exited with code 3' } });
  });
});

describe('events → repetition', () => {
  it('counts tokens only inside the window and records the phases in order', () => {
    const r = repetitionFromEvents(0, events(), (w) => (w - T0) / 1000);
    expect(r).toMatchObject({ status: 'ok', window: { startS: 5, endS: 15 }, tokens: { total: 1000 } });
    expect(r.phases.map((p) => p.phase)).toEqual(['start', 'warmup', 'window', 'done']);
  });
  it('no window_end → NO_WINDOW; no exit record → WORKLOAD_LOST', () => {
    const noEnd = events().filter((e) => !(e.type === 'event' && e.e.event === 'window_end'));
    expect(repetitionFromEvents(0, noEnd, (w) => w / 1000).error?.code).toBe('NO_WINDOW');
    expect(repetitionFromEvents(0, events().filter((e) => e.type !== 'exit'), (w) => w / 1000).error?.code).toBe('WORKLOAD_LOST');
  });
});

describe('merge from files through the CLI', () => {
  async function writeSet(dir: string, nodes: Array<{ shard: ShardFile; samples: Sample[] }>) {
    await mkdir(dir, { recursive: true });
    for (const n of nodes) {
      await writeFile(join(dir, `shard-${n.shard.node.index}.json`), JSON.stringify(n.shard));
      await writeFile(join(dir, n.shard.samplesFile), n.samples.map((s) => JSON.stringify({ type: 'sample', ...s })).join('\n') + '\n');
    }
    await writeFile(join(dir, 'events-r0.jsonl'), events().map((e) => JSON.stringify(e)).join('\n') + '\n');
  }
  it('writes a validated result and its samples; a skewed job exits 2 with the message', async () => {
    const dir = await tempDir('wb-merge-');
    await writeSet(join(dir, 'ok'), [node(0, 0, () => 100), node(1, 120, () => 100)]);
    const r = await runCli(['merge', join(dir, 'ok'), '--out', join(dir, 'ok', 'result.json')]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/2 node\(s\), largest clock offset 120\.0 ms/);
    const v = await runCli(['validate', join(dir, 'ok', 'result.json')]);
    expect(v.exitCode, v.stdout + v.stderr).toBe(0);
    const set2 = await loadShardSet([join(dir, 'ok')]);
    expect(set2.shards.map((s) => s.samples.length)).toEqual([201, 201]);
    expect((await readFile(join(dir, 'ok', 'result.samples.jsonl'), 'utf8')).split('\n').filter((l) => l.includes('"sample"')).length).toBe(402);

    await writeSet(join(dir, 'skew'), [node(0, 0, () => 100), node(1, 900, () => 100)]);
    const bad = await runCli(['merge', join(dir, 'skew'), '--out', join(dir, 'skew', 'result.json')]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/^CLOCK_SKEW: node 1 \(n2\)'s clock was 900 ms off the reference node's at the start of the job, more than the allowed 400 ms/m);
    const notShard = await runCli(['merge', join(dir, 'ok', 'events-r0.jsonl'), '--out', join(dir, 'x.json')]);
    expect(notShard.exitCode).toBe(2);
    expect(notShard.stderr).toMatch(/NOT_A_SHARD|BAD_SHARD/);
  });
});

describe('clocks', () => {
  it('the UDP time server and probe agree with ourselves to within the round trip', async () => {
    const srv = await startTimeServer('127.0.0.1');
    try {
      const m = await measureOffset('127.0.0.1', srv.port, { probes: 8 });
      expect(m.probes).toBe(8);
      expect(Math.abs(m.offsetMs)).toBeLessThanOrEqual(m.rttMs / 2 + 1);
      expect(m.rttMs).toBeLessThan(200);
    } finally { await srv.close(); }
    await expect(measureOffset('127.0.0.1', srv.port, { probes: 2, timeoutMs: 100 })).rejects.toThrow(/no answer/);
  });
  it('offsets in between the start and end measurements are interpolated, and held outside', () => {
    const a = { offsetMs: 10, rttMs: 1, atWallMs: 1000, probes: 1 }, b = { offsetMs: 30, rttMs: 1, atWallMs: 3000, probes: 1 };
    expect(offsetAt(a, b, 2000)).toBe(20);
    expect(offsetAt(a, b, 0)).toBe(10);
    expect(offsetAt(a, b, 9000)).toBe(30);
    expect(offsetAt(null, b, 0)).toBe(30);
    expect(offsetAt(null, null, 0)).toBe(0);
  });
  it.skipIf(!HAVE_FIXTURES)('parses chronyc tracking (real capture)', async () => {
    const t = parseChronyTracking(await readFile(join(FIXTURES, 'datacenter', 'chronyc-tracking__aws-time-sync__2021-capture.txt'), 'utf8'));
    expect(t).toEqual({ reference: 'A9FEA97B (169.254.169.123)', stratum: 4, systemOffsetMs: expect.closeTo(0.00099, 9), rmsOffsetMs: expect.closeTo(0.00125, 9), leapStatus: 'Normal' });
  });
  it('parses chronyc tracking: a slow clock is a negative offset', () => {
    const t = parseChronyTracking('Reference ID    : C0A80001 (ntp.lan)\nStratum         : 3\nSystem time     : 0.012500000 seconds slow of NTP time\nRMS offset      : 0.000300000 seconds\nLeap status     : Normal\n');
    expect(t.systemOffsetMs).toBeCloseTo(-12.5, 9);
  });
});
