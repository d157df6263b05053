// Multi-node results in `wattbench report`: a result merged from per-node shards (the real merge, over synthetic
// shards with known clock offsets) shows its nodes, their devices and clock offsets in the run details, the
// largest offset and how closely the clocks were aligned in the methodology, and cluster columns in results.csv.
// Node names come from the scheduler (--record-hostname) and carry HTML/Markdown payloads: they must stay text.
import { describe, it, expect, beforeAll } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mergeShards, DEFAULT_MAX_SKEW_MS, type ShardSet } from '../../harness/cluster/merge.js';
import { SHARD_FORMAT, type ShardFile } from '../../harness/cluster/shard.js';
import type { EventRecord } from '../../harness/cluster/events.js';
import type { Sample } from '../../results/samples.js';
import { validateResult } from '../../results/validate.js';
import type { WattbenchResult } from '../../results/types.gen.js';
import { buildReport } from '../../reports/index.js';
import { fmtMs, fmtNum, mdEscape } from '../../reports/format.js';
import { tempDir } from '../helpers/cli.js';
import { parseCsv } from '../helpers/csv.js';

const T0 = Date.UTC(2026, 0, 1, 12);
const esc = (x: string) => x.replace(/[&<>"'`=]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;', '`': '&#x60;', '=': '&#x3D;' })[c]!);

interface NodeSpec { name: string; offsetMs: number | null; rttMs: number; devices: string[]; ntpMs?: number }
// node 1 runs 300 ms behind the reference, node 2 120 ms ahead; node 0 is the reference (offset 0)
const NODES: NodeSpec[] = [
  // the reference's offset is 0 by definition, with no probe (as harness/cluster/shard.ts records it)
  { name: 'gpu-a<script>x</script>', offsetMs: 0, rttMs: 0, devices: ['Accel A', 'Accel A'] },
  { name: 'gpu-b|*_x', offsetMs: 300, rttMs: 1.2, devices: ['Accel A', 'Accel A'], ntpMs: 0.25 },
  { name: 'gpu-c', offsetMs: -120, rttMs: 0.8, devices: ['Accel A', 'Accel A'] },
];

/** One node's shard: 200 W per device every 100 ms for 20 s of reference time, stamped on the node's own clock. */
function shardOf(index: number, n: NodeSpec, nodeCount: number): { shard: ShardFile; samples: Sample[] } {
  const off = n.offsetMs ?? 0;
  const anchorWallMs = T0 - off;
  const deviceIds = n.devices.map((_, k) => `replay:${k}`);
  const samples: Sample[] = [];
  for (let i = 0; i <= 200; i++) for (const d of deviceIds) samples.push({ tS: i * 0.1, sourceId: 'replay', deviceId: d, powerW: 200 + 20 * index });
  const m = (at: number) => (n.offsetMs === null ? null : { offsetMs: n.offsetMs, rttMs: n.rttMs, atWallMs: anchorWallMs + at, probes: 12 });
  return {
    samples,
    shard: {
      format: SHARD_FORMAT,
      node: { index, name: n.name, hostname: n.name },
      reference: index === 0,
      job: { scheduler: 'slurm', jobId: '4242', jobName: 'llm-train', nodeCount },
      host: { cpuModel: `CPU ${index}`, cpuCores: 2, cpuThreads: 2, memoryMiB: 1024, os: 'Debian', kernel: '6.1', arch: 'x64', hostname: n.name },
      software: { node: process.versions.node },
      tool: { version: '0.1.0' },
      clock: { anchorWallMs, startedS: 0, stoppedS: 20 },
      offsets: { start: m(0), end: m(20_000), errors: n.offsetMs === null ? ['no answer from the reference'] : [] },
      ...(n.ntpMs !== undefined ? { ntp: { systemOffsetMs: n.ntpMs } } : {}),
      source: { id: 'replay', scope: 'device', semantics: { kind: 'instantaneous', updatePeriodMs: 100 }, deviceIds, requestedIntervalMs: 100, restarts: 0, gaps: [] },
      others: [],
      devices: n.devices.map((name, k) => ({ id: deviceIds[k]!, index: k, vendor: 'replay', name, kind: 'accelerator' as const })),
      samplesFile: `shard-${index}.samples.jsonl`,
      sampleCount: samples.length,
      stoppedBy: 'stop-file',
    },
  };
}

/** Rank 0's events on node 0: two repetitions, windows [3, 8] s and [11, 16] s of reference time. */
function events(rep: number): EventRecord[] {
  const w = (s: number) => T0 + s * 1000;
  const [a, b] = rep === 0 ? [3, 8] : [11, 16];
  return [
    { type: 'header', wallMs: w(a - 0.5), nodeName: NODES[0]!.name, hostname: NODES[0]!.name, rank: 0, repetition: rep, command: ['python', 'train.py'], kind: 'train' },
    { type: 'event', wallMs: w(a), e: { event: 'window_start' } },
    { type: 'event', wallMs: w(a + 2), e: { event: 'tokens', tokens: 5000 } },
    { type: 'event', wallMs: w(b), e: { event: 'window_end' } },
    { type: 'exit', wallMs: w(b + 0.2), exitCode: 0, signal: null },
  ];
}

function merged(nodes: NodeSpec[], allowUnmeasuredClock = false): WattbenchResult {
  const made = nodes.map((n, i) => shardOf(i, n, nodes.length));
  const set: ShardSet = { shards: made.map((m) => ({ path: `/x/shard-${m.shard.node.index}.json`, shard: m.shard, samples: m.samples, gaps: [] })), events: new Map([[0, events(0)], [1, events(1)]]), idle: null };
  const { result } = mergeShards(set, { maxSkewMs: DEFAULT_MAX_SKEW_MS, recordHostname: true, allowUnmeasuredClock, samplesFileName: 'cluster.samples.jsonl', tool: { version: '0.1.0' } });
  const v = validateResult(result);
  expect(v.ok, JSON.stringify(!v.ok && v.problems)).toBe(true);
  return result;
}

async function report(results: WattbenchResult[]) {
  const dir = await tempDir('wb-cluster-report-');
  const loaded = await Promise.all(results.map(async (result, i) => {
    const path = join(dir, `r${i}.json`);
    await writeFile(path, JSON.stringify(result));
    return { path, result };
  }));
  return buildReport(loaded, [], { currency: '$', generatedAt: '2026-01-01T00:00:00Z' });
}


const offsetText = (offsetMs: number, rttMs: number) => `${offsetMs > 0 ? '+' : ''}${fmtMs(offsetMs)}${rttMs ? ` ± ${fmtNum(rttMs / 2, 2)}` : ''}`;

describe('report: multi-node (cluster) results', () => {
  let result: WattbenchResult;
  let html: string, md: string, csv: string[][];
  beforeAll(async () => {
    result = merged(NODES);
    const r = await report([result]);
    html = r.html; md = r.md; csv = parseCsv(r.csv);
  });

  it('the merge recorded what the report is to show (the inputs of this test)', () => {
    const c = result.cluster!;
    expect(c.nodeCount).toBe(3);
    expect(c.skewMs).toBe(300);
    expect(c.nodes.map((n) => n.name)).toEqual(NODES.map((n) => n.name));
  });

  it('methodology: "N nodes, clocks aligned to within X ms", with the largest offset and the skew limit', () => {
    // every offset is good to ± half its probe's round trip; the worst node sets the alignment
    const alignMs = Math.max(...NODES.map((n) => n.rttMs / 2));
    const line = `3 nodes (slurm job 4242, llm-train), clocks aligned to within ${fmtMs(alignMs)}`;
    expect(html).toContain('<h3 id="multi-node">Multi-node runs</h3>');
    expect(html).toContain(esc(line));
    expect(html).toContain(esc(`largest offset measured and corrected ${fmtMs(300)} (the merge refuses more than ${fmtMs(DEFAULT_MAX_SKEW_MS)})`));
    // the reference node is named, escaped
    expect(html).toContain(esc(`put on the clock of ${NODES[0]!.name} (node 0)`));
    expect(md).toContain('### Multi-node runs');
    expect(md).toContain(`- ${mdEscape(result.runId)}: ${mdEscape(line)}`);
  });

  it('run details: one row per node with its name, devices, clock offsets and energy share, names escaped', () => {
    const i = html.indexOf('<table class="data cluster-nodes">');
    expect(i).toBeGreaterThan(0);
    const table = html.slice(i, html.indexOf('</table>', i));
    const rows = table.split('<tr>').slice(2).map((r) => [...r.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((m) => m[1]!));
    expect(rows).toHaveLength(3);
    for (const [k, n] of NODES.entries()) {
      const cells = rows[k]!;
      expect(cells[0]).toBe(String(k));
      expect(cells[1]).toBe(esc(n.name));
      expect(cells[3]).toBe('replay (device)');
      expect(cells[4]).toBe(esc(`Accel A ×${n.devices.length}`));
      expect(cells[8]).toBe(esc(offsetText(n.offsetMs!, n.rttMs)));
      expect(cells[9]).toBe(esc(offsetText(n.offsetMs!, n.rttMs)));
      expect(cells[10]).toBe(n.ntpMs !== undefined ? esc(fmtMs(n.ntpMs)) : '–');
    }
    expect(rows[0]![2]).toBe('reference clock, rank 0');
    // the energy shares follow the nodes' power (200, 220, 240 W per device) and sum to 100%
    const shares = rows.map((c) => Number(c[7]!.replace('%', '')));
    expect(shares[0]!).toBeLessThan(shares[1]!);
    expect(shares[1]!).toBeLessThan(shares[2]!);
    expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(100, 0);
    // the job facts
    expect(html).toContain(`<tr><th>largest clock offset</th><td>${esc(fmtMs(300))}</td></tr>`);
    expect(html).toContain(`<tr><th>clock alignment</th><td>within ${esc(fmtMs(Math.max(...NODES.map((n) => n.rttMs / 2))))}</td></tr>`);
    expect(html).toContain(`<tr><th>rank 0 (window events) on</th><td>${esc(`${NODES[0]!.name} (node 0)`)}</td></tr>`);
    // never as markup
    expect(html).not.toContain('<script>x</script>');

    const mdLines = md.split('\n');
    const mdHead = mdLines.findIndex((l) => l.startsWith('| node | name |'));
    expect(mdHead).toBeGreaterThan(0);
    const mdRows = mdLines.slice(mdHead + 2, mdLines.findIndex((l, k) => k > mdHead && !l.startsWith('|')));
    expect(mdRows).toHaveLength(3);
    for (const [k, n] of NODES.entries()) {
      const cells = mdRows[k]!.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
      expect(cells[1]).toBe(mdEscape(n.name));
      expect(cells[8]).toBe(offsetText(n.offsetMs!, n.rttMs));
    }
    expect(md).toContain(`- Cluster: scheduler slurm; job id 4242; job name llm-train; nodes 3; reference clock ${mdEscape(`${NODES[0]!.name} (node 0)`)}`);
  });

  it('results.csv: node count, largest offset and alignment', () => {
    const [head, row] = [csv[0]!, csv[1]!];
    const col = (n: string) => row[head.indexOf(n)];
    expect(col('clusterNodes')).toBe('3');
    expect(Number(col('clusterSkewMs'))).toBe(300);
    expect(Number(col('clusterAlignmentMs'))).toBe(Math.max(...NODES.map((n) => n.rttMs / 2)));
  });

  it('a node whose offset was not measured is named as assumed in sync, and no alignment figure is claimed', async () => {
    const partly = merged([NODES[0]!, NODES[1]!, { ...NODES[2]!, offsetMs: null }], true);
    const r = await report([partly]);
    expect(r.html).toContain(esc("3 nodes (slurm job 4242, llm-train), clock alignment not known (a node's offset was not measured)"));
    expect(r.html).toContain(esc(`offset not measured, assumed in sync: ${NODES[2]!.name}`));
    expect(r.html).not.toContain('clocks aligned to within');
    expect(r.html).toContain('<td class="num">not measured</td>');
    expect(r.html).toContain(`<tr><th>clock alignment</th><td>${esc("not known: a node's offset was not measured")}</td></tr>`);
    const [head, row] = parseCsv(r.csv);
    expect(row![head!.indexOf('clusterAlignmentMs')]).toBe('');
    expect(Number(row![head!.indexOf('clusterSkewMs')])).toBe(NODES[1]!.offsetMs);
  });

  it('a single-node result has no cluster section and empty cluster columns', async () => {
    const single = structuredClone(result);
    delete single.cluster;
    const r = await report([single]);
    expect(r.html).not.toContain('Multi-node runs');
    expect(r.html).not.toContain('<table class="data cluster-nodes">');
    expect(r.md).not.toContain('Cluster:');
    const [head, row] = parseCsv(r.csv);
    expect(row![head!.indexOf('clusterNodes')]).toBe('');
  });
});
