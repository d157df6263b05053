// mthreads-gmi: Moore Threads GPUs (MTT S80, S4000, S5000, ...). Polled: no loop option and no energy counter are
// documented. The default view is a three-line-per-GPU table with NO power column (S80 with mthreads-gmi 1.14.0,
// S5000: FORMATS.md), so it only lists the GPUs and their static facts. Power comes from the query report as JSON,
// `mthreads-gmi -q --json`, the interface musatop, swanlab and AIMA read: {"Driver Version", "GPU": [{"Index",
// "Product Name", "GPU UUID", "Serial Number", "MTBios Version", "PCI": {"Bus ID"}, "FB Memory Usage": {"Total",
// "Used"}, "Utilization": {"Gpu"}, "Temperature": {"GPU Current Temp"}, "Power Readings": {"Power Draw ",
// "Current Power Limit"}, "Clocks": {"Graphics", "Memory"}}]}. Keys can carry a trailing space ("Power Draw "),
// so every key is matched trimmed; values carry their units ("96.66W", "81920MiB", "27C", "0%"); "N/A" is missing.
// The torch_musa runtime selects devices through MUSA_VISIBLE_DEVICES, by the same index mthreads-gmi prints.
import type { Driver, ProbeContext, ProbeResult } from './driver.js';
import { toolFailure, locateTool, pollTable, type TableRow, probeTool } from './cli-tool.js';
import { isMissing, parseNumber } from './driver.js';
import type { Device } from '../results/types.gen.js';
import type { ProcessResult } from '../lib/process.js';

const ID = 'mthreads-gmi';

/** The query report every poll asks for. */
export const MT_QUERY_ARGS = ['-q', '--json'];

export interface MtTableGpu {
  index: number;
  name?: string;
  busId?: string;
  utilizationPct?: number;
  memoryUsedMiB?: number;
  memoryTotalMiB?: number;
  temperatureC?: number;
}

export interface MtTable { gmiVersion?: string; driverVersion?: string; gpus: MtTableGpu[] }

const BUS_ID = /^[0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;

/**
 * Parse the default `mthreads-gmi` view. Each GPU is a block of lines split by "|" into the columns the header
 * names ("ID Name | PCIe | %GPU Mem", then "Device Type | Pcie Lane Width | Temp MPC Capable", ...); the values are
 * told apart by their spelling ("0%", "2MiB(16384MiB)", "49C", a PCI address), which keeps a column moved between
 * releases from being misread.
 */
export function parseMthreadsGmi(text: string): MtTable {
  const t: MtTable = { gpus: [] };
  let inBody = false;
  let cur: MtTableGpu | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '').trimEnd();
    const v = /mthreads-gmi:\s*(\S+)/.exec(line); if (v && !t.gmiVersion) t.gmiVersion = v[1];
    const d = /Driver Version:\s*(\S+)/.exec(line); if (d && !t.driverVersion) t.driverVersion = d[1];
    if (/^\s*Processes:/.test(line)) break;
    if (/^\+-+\+$/.test(line.trim())) { inBody = true; continue; }
    if (!inBody || /^-+$/.test(line.trim()) || !line.includes('|')) continue;
    const cells = line.split('|').map((c) => c.trim());
    const first = /^(\d+)\s+(.+)$/.exec(cells[0]!);
    if (first && /^\S/.test(line)) {
      cur = { index: Number(first[1]), name: first[2]!.trim() };
      t.gpus.push(cur);
    }
    if (!cur) continue;
    for (const cell of cells.slice(1)) {
      for (const tok of cell.split(/\s+/)) {
        if (BUS_ID.test(tok)) { cur.busId ??= tok; continue; }
        const u = /^(\d+(?:\.\d+)?)%$/.exec(tok); if (u) { cur.utilizationPct ??= Number(u[1]); continue; }
        const m = /^(\d+(?:\.\d+)?)MiB\((\d+(?:\.\d+)?)MiB\)$/.exec(tok); if (m) { cur.memoryUsedMiB ??= Number(m[1]); cur.memoryTotalMiB ??= Number(m[2]); continue; }
        const c = /^(-?\d+(?:\.\d+)?)C$/.exec(tok); if (c) cur.temperatureC ??= Number(c[1]);
      }
    }
  }
  return t;
}

export interface MtQueryGpu {
  index: number;
  name?: string;
  uuid?: string;
  serial?: string;
  firmwareVersion?: string;
  busId?: string;
  memoryTotalMiB?: number;
  memoryUsedMiB?: number;
  utilizationPct?: number;
  temperatureC?: number;
  powerW?: number;
  powerLimitW?: number;
  smClockMHz?: number;
  memClockMHz?: number;
}

export interface MtQuery { driverVersion?: string; gpus: MtQueryGpu[] }

type Obj = Record<string, unknown>;

/** obj[key] matched trimmed and case-insensitively ("Power Draw " is "power draw"). */
function get(obj: unknown, ...path: string[]): unknown {
  let cur = obj;
  for (const key of path) {
    if (!cur || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    const want = key.trim().toLowerCase();
    const hit = Object.entries(cur as Obj).find(([k]) => k.trim().toLowerCase() === want);
    cur = hit?.[1];
  }
  return cur;
}

function text(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string' || isMissing(v)) return undefined;
  return v.trim();
}

function num(v: unknown): number | undefined {
  return parseNumber(text(v));
}

/** "81920MiB", "80GiB", "81920" (MiB) → MiB. */
function mib(v: unknown): number | undefined {
  const s = text(v);
  const n = parseNumber(s);
  if (n === undefined) return undefined;
  return /GiB\s*$/i.test(s!) ? n * 1024 : n;
}

/**
 * Parse `mthreads-gmi -q --json`. undefined when the text is not that report (an older mthreads-gmi without
 * --json prints its usage instead). A GPU whose Index is not a whole number is skipped: nothing could select it.
 */
export function parseMthreadsQuery(stdout: string): MtQuery | undefined {
  const start = stdout.indexOf('{');
  if (start < 0) return undefined;
  let doc: unknown;
  try { doc = JSON.parse(stdout.slice(start)); } catch { return undefined; }
  const list = get(doc, 'GPU');
  if (!Array.isArray(list)) return undefined;
  const q: MtQuery = { gpus: [] };
  const drv = text(get(doc, 'Driver Version')); if (drv) q.driverVersion = drv;
  for (const g of list) {
    const index = num(get(g, 'Index'));
    if (index === undefined || !Number.isInteger(index) || index < 0) continue;
    const out: MtQueryGpu = { index };
    const set = <K extends keyof MtQueryGpu>(k: K, v: MtQueryGpu[K] | undefined) => { if (v !== undefined) out[k] = v; };
    set('name', text(get(g, 'Product Name')));
    set('uuid', text(get(g, 'GPU UUID')));
    set('serial', text(get(g, 'Serial Number')));
    set('firmwareVersion', text(get(g, 'MTBios Version')));
    set('busId', text(get(g, 'PCI', 'Bus ID')));
    set('memoryTotalMiB', mib(get(g, 'FB Memory Usage', 'Total')));
    set('memoryUsedMiB', mib(get(g, 'FB Memory Usage', 'Used')));
    set('utilizationPct', num(get(g, 'Utilization', 'Gpu')));
    set('temperatureC', num(get(g, 'Temperature', 'GPU Current Temp')));
    set('powerW', num(get(g, 'Power Readings', 'Power Draw')));
    // a limit the driver cannot read is printed as N/A or 0 W (musatop's notes on driver 3.3.7): neither is a limit
    const cap = num(get(g, 'Power Readings', 'Current Power Limit'));
    if (cap !== undefined && cap > 0) out.powerLimitW = cap;
    set('smClockMHz', num(get(g, 'Clocks', 'Graphics')));
    set('memClockMHz', num(get(g, 'Clocks', 'Memory')));
    q.gpus.push(out);
  }
  return q;
}

/** The readings one poll gives for each GPU. */
export function mtRows(q: MtQuery | undefined): TableRow[] {
  return (q?.gpus ?? []).map((g) => {
    const row: TableRow = { index: g.index };
    for (const k of ['powerW', 'temperatureC', 'smClockMHz', 'memClockMHz', 'utilizationPct', 'memoryUsedMiB'] as const) if (g[k] !== undefined) row[k] = g[k];
    return row;
  });
}

export function mtDevice(index: number, t: MtTable, q: MtQuery | undefined): Device & { index: number } {
  const row = t.gpus.find((g) => g.index === index);
  const g = q?.gpus.find((x) => x.index === index);
  const d: Device & { index: number } = { id: `${ID}:${index}`, index, vendor: 'Moore Threads', name: g?.name ?? row?.name ?? 'Moore Threads GPU', kind: 'accelerator' };
  if (g?.uuid) d.uuid = g.uuid;
  if (g?.serial) d.serial = g.serial;
  const bus = g?.busId ?? row?.busId; if (bus) d.busId = bus;
  const drv = q?.driverVersion ?? t.driverVersion; if (drv) d.driverVersion = drv;
  if (g?.firmwareVersion) d.firmwareVersion = g.firmwareVersion;
  const mem = g?.memoryTotalMiB ?? row?.memoryTotalMiB; if (mem !== undefined) d.memoryMiB = mem;
  if (g?.powerLimitW !== undefined) d.powerLimitW = g.powerLimitW;
  return d;
}

interface MtPrivate { file: string }

const failure = (r: ProcessResult) => toolFailure('mthreads-gmi', r, 'run with access to the /dev/mtgpu.* and /dev/dri devices (the render/video group), or as root');

const locate = (ctx: ProbeContext) => locateTool(ctx, ID, 'mthreads-gmi is not on PATH — install the Moore Threads driver (MUSA driver / DDK), or pass --source mthreads-gmi --source-opt path=/full/path/mthreads-gmi');

/** Why the query report gave no power, for the probe's "no power sensor" reason. */
function whyNoPower(r: ProcessResult, q: MtQuery | undefined): string {
  if (r.spawnError || r.timedOut || r.exitCode !== 0) return `\`mthreads-gmi ${MT_QUERY_ARGS.join(' ')}\` failed (${toolFailure('mthreads-gmi', r, '').reason})`;
  if (!q) return `\`mthreads-gmi ${MT_QUERY_ARGS.join(' ')}\` printed no JSON report`;
  return `\`mthreads-gmi ${MT_QUERY_ARGS.join(' ')}\` printed no Power Draw for any GPU`;
}

export const mthreadsGmi: Driver = {
  meta: {
    id: ID, title: 'Moore Threads GPU through mthreads-gmi', vendor: 'Moore Threads', scope: 'device', priority: 50,
    // the full query report is one process start and a walk over every GPU per poll
    defaultIntervalMs: 1000, minIntervalMs: 200,
    visibilityEnv: ['MUSA_VISIBLE_DEVICES'],
    options: { path: 'full path to mthreads-gmi (default: found on PATH)' },
  },
  async probe(ctx): Promise<ProbeResult> {
    const file = await locate(ctx);
    if (typeof file !== 'string') return file;
    const r = await probeTool(ctx, file);
    if (r.exitCode !== 0 || r.spawnError) return failure(r);
    const t = parseMthreadsGmi(r.stdout);
    const qr = await probeTool(ctx, file, MT_QUERY_ARGS);
    const q = qr.exitCode === 0 ? parseMthreadsQuery(qr.stdout) : undefined;
    const indices = [...new Set([...t.gpus.map((g) => g.index), ...(q?.gpus ?? []).map((g) => g.index)])].sort((a, b) => a - b);
    if (indices.length === 0) return { state: 'unavailable', code: 'no-devices', reason: 'mthreads-gmi listed no GPUs' };
    const named = (i: number) => `GPU ${i} (${mtDevice(i, t, q).name})`;
    const measured = indices.filter((i) => q?.gpus.find((g) => g.index === i)?.powerW !== undefined);
    if (measured.length === 0) {
      return { state: 'unavailable', code: 'no-power-field', reason: `no power sensor through this CLI: ${indices.map(named).join(', ')} — the mthreads-gmi table has no power column and ${whyNoPower(qr, q)}` };
    }
    const left = indices.filter((i) => !measured.includes(i));
    const drv = q?.driverVersion ?? t.driverVersion;
    return {
      state: 'ok',
      devices: measured.map((i) => mtDevice(i, t, q)),
      semantics: { kind: 'instantaneous', field: 'Power Readings.Power Draw', note: 'mthreads-gmi -q --json "Power Draw", polled; Moore Threads documents no averaging window or update period, so readings are integrated as instantaneous' },
      software: { ...(t.gmiVersion ? { 'mthreads-gmi': t.gmiVersion } : {}), ...(drv ? { 'Moore Threads driver': drv } : {}) },
      ...(left.length ? { note: `left out, no power sensor through this CLI: ${left.map(named).join(', ')} (Power Draw N/A)` } : {}),
      private: { file } satisfies MtPrivate,
    };
  },
  async start(opts) {
    return pollTable(opts, ID, (opts.probe.private as MtPrivate).file, (stdout) => mtRows(parseMthreadsQuery(stdout)), MT_QUERY_ARGS);
  },
};
