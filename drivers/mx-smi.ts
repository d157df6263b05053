// mx-smi: MetaX GPUs (C500, C550, ...). Polled: no loop option and no energy counter are documented.
// The default view is a boxed table with two rows per GPU after a "mx-smi  version:" banner and a log
// header. 2.1.x prints one "Power" column ("44W"); 2.2.x prints "Pwr:Usage/Cap" ("48W / 350W") and adds
// "GPU-State". Memory is "810/65536 MiB" (no space around the slash). `mx-smi -L` adds UUIDs.
// MetaX's runtime selects devices through MACA_VISIBLE_DEVICES (MetaX docs and vLLM/FlagScale platform
// tables); CUDA_VISIBLE_DEVICES is not set on top, because a second filter over already-renumbered
// devices would hide the wrong ones.
import type { Driver, ProbeContext, ProbeResult } from './driver.js';
import { toolFailure, locateTool, pollTable, probeTool } from './cli-tool.js';
import { parseNumber } from './driver.js';
import type { Device } from '../results/types.gen.js';
import type { ProcessResult } from '../lib/process.js';

const ID = 'mx-smi';

export interface MxGpu {
  index: number;
  name?: string;
  busId?: string;
  utilizationPct?: number;
  temperatureC?: number;
  powerW?: number;
  powerCapW?: number;
  memoryUsedMiB?: number;
  memoryTotalMiB?: number;
  state?: string;
}

export interface MxTable { mxSmiVersion?: string; driverVersion?: string; macaVersion?: string; biosVersion?: string; gpus: MxGpu[] }

function boxCells(line: string): string[] | undefined {
  const t = line.replace(/\r$/, '').trimEnd();
  if (!t.startsWith('|') || !t.endsWith('|') || /^\|[=\-+|]+\|$/.test(t)) return undefined;
  return t.slice(1, -1).split('|').map((c) => c.trim());
}

/** "44W", "48W / 350W", "N/A", "N/A / 350W" → usage and cap. */
export function mxPower(text: string): { usage?: number; cap?: number } {
  const m = /^(N\/A|[\d.]+)\s*W?\s*(?:\/\s*(N\/A|[\d.]+)\s*W?)?\s*$/.exec(text.trim());
  if (!m) return {};
  const out: { usage?: number; cap?: number } = {};
  const u = parseNumber(m[1]); if (u !== undefined) out.usage = u;
  const c = parseNumber(m[2]); if (c !== undefined) out.cap = c;
  return out;
}

/** Parse the default `mx-smi` view. */
export function parseMxSmi(text: string): MxTable {
  const t: MxTable = { gpus: [] };
  let head1: string[] | undefined, head2: string[] | undefined;
  let pending: string[] | undefined;
  for (const line of text.split('\n')) {
    const v = /mx-smi\s+version:\s*(\S+)/.exec(line); if (v && !t.mxSmiVersion) t.mxSmiVersion = v[1];
    const k = /Kernel Mode Driver Version:\s*(\S+)/.exec(line); if (k && !t.driverVersion) t.driverVersion = k[1];
    const maca = /MACA Version:\s*(\S+)/.exec(line); if (maca && !t.macaVersion) t.macaVersion = maca[1];
    const bios = /BIOS Version:\s*(\S+)/.exec(line); if (bios && !t.biosVersion) t.biosVersion = bios[1];
    if (/^\s*\|\s*Process/.test(line)) break;
    const cells = boxCells(line);
    if (!cells) continue;
    if (!head1 && /^GPU\b/.test(cells[0] ?? '') && /NAME/i.test(cells[0] ?? '')) { head1 = cells; continue; }
    if (head1 && !head2) { head2 = cells; continue; }
    if (!head1 || !head2 || cells.length !== head1.length) continue;
    if (!pending) { if (/^\d+\s/.test(cells[0] ?? '')) pending = cells; continue; }
    t.gpus.push(readGpu(head1, head2, pending, cells));
    pending = undefined;
  }
  return t;
}

function readGpu(h1: string[], h2: string[], r1: string[], r2: string[]): MxGpu {
  const m0 = /^(\d+)\s+(.*)$/.exec(r1[0]!)!;
  const g: MxGpu = { index: Number(m0[1]) };
  if (m0[2]!.trim()) g.name = m0[2]!.trim();
  h1.forEach((h, i) => {
    const v = r1[i] ?? '';
    if (/Bus-id/i.test(h)) { const b = v.split(/\s+/)[0]; if (b && b.includes(':')) g.busId = b; }
    else if (/GPU-Util/i.test(h)) { const u = /^(\d+(?:\.\d+)?)\s*%/.exec(v); if (u) g.utilizationPct = Number(u[1]); }
  });
  h2.forEach((h, i) => {
    const v = r2[i] ?? '';
    if (/^Temp\b/.test(h)) {
      const m = /^(-?\d+(?:\.\d+)?)\s*C\s*(.*)$/.exec(v);
      if (m) {
        g.temperatureC = Number(m[1]);
        const p = mxPower(m[2]!);
        if (p.usage !== undefined) g.powerW = p.usage;
        if (p.cap !== undefined) g.powerCapW = p.cap;
      } else {
        const p = mxPower(v.replace(/^\S+\s+/, ''));
        if (p.usage !== undefined) g.powerW = p.usage;
        if (p.cap !== undefined) g.powerCapW = p.cap;
      }
    } else if (/Memory-Usage/i.test(h)) {
      const m = /(\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)\s*MiB/.exec(v);
      if (m) { g.memoryUsedMiB = Number(m[1]); g.memoryTotalMiB = Number(m[2]); }
    } else if (/GPU-State/i.test(h) && v) g.state = v;
  });
  return g;
}

/** `mx-smi -L`: "GPU#0    MXC500      0000:08:00.0   Available (UUID: GPU-e702...)" → index → uuid. */
export function parseMxSmiList(text: string): Map<number, { name: string; busId: string; uuid?: string }> {
  const out = new Map<number, { name: string; busId: string; uuid?: string }>();
  for (const line of text.split('\n')) {
    const m = /^GPU#(\d+)\s+(.+?)\s+([0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-9a-fA-F])\b.*?(?:UUID:\s*([^)\s]+))?\)?\s*$/.exec(line.trim());
    if (m) out.set(Number(m[1]), { name: m[2]!, busId: m[3]!, ...(m[4] ? { uuid: m[4] } : {}) });
  }
  return out;
}

export function mxDevice(g: MxGpu, t: MxTable, uuid?: string): Device & { index: number } {
  const d: Device & { index: number } = { id: `${ID}:${g.index}`, index: g.index, vendor: 'MetaX', name: g.name ?? 'MetaX GPU', kind: 'accelerator' };
  if (uuid) d.uuid = uuid;
  if (g.busId) d.busId = g.busId;
  if (t.driverVersion) d.driverVersion = t.driverVersion;
  if (t.biosVersion) d.firmwareVersion = t.biosVersion;
  if (g.memoryTotalMiB !== undefined) d.memoryMiB = g.memoryTotalMiB;
  if (g.powerCapW !== undefined) d.powerLimitW = g.powerCapW;
  return d;
}

interface MxPrivate { file: string }

const failure = (r: ProcessResult) => toolFailure('mx-smi', r, 'run with access to /dev/mxcd and /dev/dri, or as root');

const locate = (ctx: ProbeContext) => locateTool(ctx, ID, 'mx-smi is not on PATH or in /opt/mxdriver/bin — install the MetaX driver, or pass --source mx-smi --source-opt path=/full/path/mx-smi', ['/opt/mxdriver/bin']);

export const mxSmi: Driver = {
  meta: {
    id: ID, title: 'MetaX GPU through mx-smi', vendor: 'MetaX', scope: 'device', priority: 50,
    defaultIntervalMs: 500, minIntervalMs: 100,
    visibilityEnv: ['MACA_VISIBLE_DEVICES'],
    options: { path: 'full path to mx-smi (default: PATH, then /opt/mxdriver/bin)' },
  },
  async probe(ctx): Promise<ProbeResult> {
    const file = await locate(ctx);
    if (typeof file !== 'string') return file;
    const r = await probeTool(ctx, file);
    if (r.exitCode !== 0 || r.spawnError) return failure(r);
    const t = parseMxSmi(r.stdout);
    if (t.gpus.length === 0) return { state: 'unavailable', code: 'no-devices', reason: 'mx-smi listed no GPUs' };
    if (t.gpus.every((g) => g.powerW === undefined)) return { state: 'unavailable', code: 'no-power-field', reason: 'no power sensor through this CLI' };
    const l = await probeTool(ctx, file, ['-L']);
    const list = l.exitCode === 0 ? parseMxSmiList(l.stdout) : new Map<number, { uuid?: string }>();
    return {
      state: 'ok',
      devices: t.gpus.map((g) => mxDevice(g, t, list.get(g.index)?.uuid)),
      semantics: { kind: 'instantaneous', field: t.gpus.some((g) => g.powerCapW !== undefined) ? 'Pwr:Usage' : 'Power', note: 'mx-smi table power, whole watts, polled; MetaX documents no averaging window, so readings are integrated as instantaneous' },
      software: { ...(t.mxSmiVersion ? { 'mx-smi': t.mxSmiVersion } : {}), ...(t.driverVersion ? { 'MetaX kernel driver': t.driverVersion } : {}), ...(t.macaVersion ? { MACA: t.macaVersion } : {}) },
      private: { file } satisfies MxPrivate,
    };
  },
  async start(opts) {
    return pollTable(opts, ID, (opts.probe.private as MxPrivate).file, (stdout) => parseMxSmi(stdout).gpus);
  },
};
