// ixsmi: Iluvatar CoreX GPUs (BI-V100, BI-V150, MR-V100). ixsmi clones nvidia-smi's default table, which is
// polled here (no documented loop, no energy counter). On BI-V150 boards, which carry two GPU dies, every
// other entry prints "N/A / N/A" for power while its neighbour prints the board's watts: the card's power is
// reported on one die only. Such a die keeps its samples (temperature, memory, utilization) without a power
// reading, never 0 W, and its device record names the entry that carries the board power; sum per board.
import type { Driver, ProbeContext, ProbeResult } from './driver.js';
import { toolFailure, locateTool, pollTable, probeTool } from './cli-tool.js';
import { parseNumber } from './driver.js';
import type { Device } from '../results/types.gen.js';
import type { ProcessResult } from '../lib/process.js';

const ID = 'ixsmi';

export interface IxGpu {
  index: number;
  name?: string;
  busId?: string;
  smClockMHz?: number;
  memClockMHz?: number;
  temperatureC?: number;
  perf?: string;
  powerW?: number;
  powerCapW?: number;
  memoryUsedMiB?: number;
  memoryTotalMiB?: number;
  utilizationPct?: number;
}

export interface IxTable { ixmlVersion?: string; driverVersion?: string; cudaVersion?: string; gpus: IxGpu[] }

function boxCells(line: string): string[] | undefined {
  const t = line.replace(/\r$/, '').trimEnd();
  if (!t.startsWith('|') || !t.endsWith('|') || /^\|[=\-+|]+\|$/.test(t)) return undefined;
  return t.slice(1, -1).split('|').map((c) => c.trim());
}

/** Parse the default `ixsmi` table. */
export function parseIxsmi(text: string): IxTable {
  const t: IxTable = { gpus: [] };
  let head1: string[] | undefined, head2: string[] | undefined;
  let pending: string[] | undefined;
  for (const line of text.split('\n')) {
    const v = /IX-ML:\s*(\S+)/.exec(line); if (v && !t.ixmlVersion) t.ixmlVersion = v[1];
    const d = /Driver Version:\s*(\S+)/.exec(line); if (d && !t.driverVersion) t.driverVersion = d[1];
    const c = /CUDA Version:\s*(\S+)/.exec(line); if (c && !t.cudaVersion) t.cudaVersion = c[1];
    if (/^\s*\|\s*Processes:/.test(line)) break;
    const cells = boxCells(line);
    if (!cells) continue;
    if (!head1 && /^GPU\s+Name/.test(cells[0] ?? '')) { head1 = cells; continue; }
    if (head1 && !head2) { head2 = cells; continue; }
    if (!head1 || !head2 || cells.length !== head1.length) continue;
    if (!pending) { if (/^\d+\s/.test(cells[0] ?? '')) pending = cells; continue; }
    t.gpus.push(readGpu(head1, head2, pending, cells));
    pending = undefined;
  }
  return t;
}

function readGpu(h1: string[], h2: string[], r1: string[], r2: string[]): IxGpu {
  const m0 = /^(\d+)\s+(.*)$/.exec(r1[0]!)!;
  const g: IxGpu = { index: Number(m0[1]) };
  if (m0[2]!.trim()) g.name = m0[2]!.trim();
  h1.forEach((h, i) => {
    const v = r1[i] ?? '';
    if (/Bus-Id/i.test(h)) { const b = v.split(/\s+/)[0]; if (b && b.includes(':')) g.busId = b; }
    else if (/Clock-SM/i.test(h)) {
      const m = /^(\d+)\s*MHz(?:\s+(\d+)\s*MHz)?/.exec(v);
      if (m) { g.smClockMHz = Number(m[1]); if (m[2]) g.memClockMHz = Number(m[2]); }
    }
  });
  h2.forEach((h, i) => {
    const v = r2[i] ?? '';
    if (/Pwr:Usage\/Cap/.test(h)) {
      const temp = /(-?\d+(?:\.\d+)?)C\b/.exec(v);
      if (temp) g.temperatureC = Number(temp[1]);
      const perf = /\b(P\d+)\b/.exec(v);
      if (perf) g.perf = perf[1];
      const p = /(N\/A|[\d.]+)\s*W?\s*\/\s*(N\/A|[\d.]+)\s*W?\s*$/.exec(v);
      if (p) {
        const u = parseNumber(p[1]); if (u !== undefined) g.powerW = u;
        const c = parseNumber(p[2]); if (c !== undefined) g.powerCapW = c;
      }
    } else if (/Memory-Usage/i.test(h)) {
      const m = /(\d+(?:\.\d+)?)\s*MiB\s*\/\s*(\d+(?:\.\d+)?)\s*MiB/.exec(v);
      if (m) { g.memoryUsedMiB = Number(m[1]); g.memoryTotalMiB = Number(m[2]); }
    } else if (/GPU-Util/i.test(h)) {
      const m = /^(\d+(?:\.\d+)?)\s*%/.exec(v);
      if (m) g.utilizationPct = Number(m[1]);
    }
  });
  return g;
}

/**
 * Entries without a power reading whose next entry has one: on dual-die boards the board power is printed
 * on one die only. Returns die index → index of the entry that carries the board's power.
 */
export function powerPartners(gpus: IxGpu[]): Map<number, number> {
  const out = new Map<number, number>();
  const sorted = [...gpus].sort((a, b) => a.index - b.index);
  for (let i = 0; i + 1 < sorted.length; i += 2) {
    const a = sorted[i]!, b = sorted[i + 1]!;
    if (a.powerW === undefined && b.powerW !== undefined && b.index === a.index + 1) out.set(a.index, b.index);
  }
  return out;
}

export function ixDevice(g: IxGpu, t: IxTable, partner?: number): Device & { index: number } {
  const d: Device & { index: number } = { id: `${ID}:${g.index}`, index: g.index, vendor: 'Iluvatar', name: g.name ?? 'Iluvatar GPU', kind: 'accelerator' };
  if (g.busId) d.busId = g.busId;
  if (t.driverVersion) d.driverVersion = t.driverVersion;
  if (g.memoryTotalMiB !== undefined) d.memoryMiB = g.memoryTotalMiB;
  if (g.powerCapW !== undefined) d.powerLimitW = g.powerCapW;
  if (partner !== undefined) d.partition = `die without a power reading; its board's power is reported on ${ID}:${partner}`;
  return d;
}

interface IxPrivate { file: string }

const failure = (r: ProcessResult) => toolFailure('ixsmi', r, 'run with access to /dev/iluvatar*, or as root');

const locate = (ctx: ProbeContext) => locateTool(ctx, ID, 'ixsmi is not on PATH or in /usr/local/corex/bin — install Iluvatar CoreX, or pass --source ixsmi --source-opt path=/full/path/ixsmi', ['/usr/local/corex/bin']);

export const ixsmi: Driver = {
  meta: {
    id: ID, title: 'Iluvatar GPU through ixsmi', vendor: 'Iluvatar', scope: 'device', priority: 50,
    defaultIntervalMs: 500, minIntervalMs: 100,
    visibilityEnv: ['CUDA_VISIBLE_DEVICES'],
    options: { path: 'full path to ixsmi (default: PATH, then /usr/local/corex/bin)' },
  },
  async probe(ctx): Promise<ProbeResult> {
    const file = await locate(ctx);
    if (typeof file !== 'string') return file;
    const r = await probeTool(ctx, file);
    if (r.exitCode !== 0 || r.spawnError) return failure(r);
    const t = parseIxsmi(r.stdout);
    if (t.gpus.length === 0) return { state: 'unavailable', code: 'no-devices', reason: 'ixsmi listed no GPUs' };
    if (t.gpus.every((g) => g.powerW === undefined)) return { state: 'unavailable', code: 'no-power-field', reason: 'no power sensor through this CLI' };
    const partners = powerPartners(t.gpus);
    return {
      state: 'ok',
      devices: t.gpus.map((g) => ixDevice(g, t, partners.get(g.index))),
      semantics: { kind: 'instantaneous', field: 'Pwr:Usage', note: 'ixsmi table "Pwr:Usage/Cap", whole watts, polled; Iluvatar documents no averaging window, so readings are integrated as instantaneous' },
      software: { ...(t.ixmlVersion ? { 'IX-ML': t.ixmlVersion } : {}), ...(t.driverVersion ? { 'Iluvatar driver': t.driverVersion } : {}) },
      ...(partners.size ? { note: `${partners.size} dual-die board(s): power is reported on one die of each board (${[...partners].map(([a, b]) => `${a}→${b}`).join(', ')}); select both dies of a board to measure it` } : {}),
      private: { file } satisfies IxPrivate,
    };
  },
  async start(opts) {
    return pollTable(opts, ID, (opts.probe.private as IxPrivate).file, (stdout) => parseIxsmi(stdout).gpus);
  },
};
