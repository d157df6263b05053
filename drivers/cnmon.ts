// cnmon: Cambricon MLU cards. cnmon has no loop option usable from a pipe and no energy counter, so the
// default table is polled. The table is nvidia-smi-like, two rows per card in three boxed columns, and its
// column set changes between releases: v5 prints "Bus-Id" and "SR-IOV Compute-Mode", v4 prints
// "Inited Driver" and "vMemory-Usage", v6 adds a mode column. Cells are therefore located through the two
// header rows and read by the shape of their content ("106 W/ 250 W", "32C", "0 MiB/ 23374 MiB"), never by
// fixed character positions.
import type { Driver, ProbeContext, ProbeResult } from './driver.js';
import { toolFailure, locateTool, pollTable, probeTool } from './cli-tool.js';
import { parseNumber } from './driver.js';
import type { Device } from '../results/types.gen.js';
import type { ProcessResult } from '../lib/process.js';

const ID = 'cnmon';

export interface CnmonCard {
  index: number;
  vf?: string;
  name?: string;
  firmwareVersion?: string;
  busId?: string;
  driverVersion?: string;
  utilizationPct?: number;
  temperatureC?: number;
  powerW?: number;
  powerCapW?: number;
  memoryUsedMiB?: number;
  memoryTotalMiB?: number;
}

export interface CnmonTable { cnmonVersion?: string; driverVersion?: string; cards: CnmonCard[] }

/** The cells of one boxed row ("| a | b | c |"), trimmed; undefined for rules and text outside the box. */
function boxCells(line: string): string[] | undefined {
  const t = line.replace(/\r$/, '').trimEnd();
  if (!t.startsWith('|') || !t.endsWith('|') || /^\|[=\-+|]+\|$/.test(t)) return undefined;
  return t.slice(1, -1).split('|').map((c) => c.trim());
}

/** "106 W/ 250 W", "N/A / N/A", "30 W/ 150 W" → usage and cap; a missing spelling stays undefined. */
export function usageCap(text: string): { usage?: number; cap?: number } | undefined {
  const m = /(N\/A|[\d.]+)\s*W?\s*\/\s*(N\/A|[\d.]+)\s*W?\s*$/.exec(text.trim());
  if (!m) return undefined;
  const out: { usage?: number; cap?: number } = {};
  const u = parseNumber(m[1]); if (u !== undefined) out.usage = u;
  const c = parseNumber(m[2]); if (c !== undefined) out.cap = c;
  return out;
}

/** Parse the default `cnmon` table. */
export function parseCnmon(text: string): CnmonTable {
  const table: CnmonTable = { cards: [] };
  const lines = text.split('\n');
  let head1: string[] | undefined, head2: string[] | undefined;
  let pending: string[] | undefined; // first row of a card, waiting for its second row
  for (const line of lines) {
    const ver = /CNMON\s+v(\S+)/.exec(line);
    if (ver && !table.cnmonVersion) table.cnmonVersion = ver[1];
    const drv = /Driver\s+v(\S+)/.exec(line);
    if (drv && !table.driverVersion && !head1) table.driverVersion = drv[1];
    if (/^\s*\|\s*Processes:/.test(line)) break;
    const cells = boxCells(line);
    if (!cells) { continue; }
    if (!head1 && /^Card\b/.test(cells[0] ?? '')) { head1 = cells; continue; }
    if (head1 && !head2) { head2 = cells; continue; }
    if (!head1 || !head2 || cells.length !== head1.length) continue;
    if (!pending) {
      if (/^\d+\b/.test(cells[0] ?? '')) pending = cells;
      continue;
    }
    table.cards.push(readCard(head1, head2, pending, cells));
    pending = undefined;
  }
  return table;
}

function readCard(h1: string[], h2: string[], r1: string[], r2: string[]): CnmonCard {
  const card: CnmonCard = { index: Number(/^\d+/.exec(r1[0]!)![0]) };
  h1.forEach((h, i) => {
    const v = r1[i] ?? '';
    if (/^Card\b/.test(h)) {
      const tok = v.split(/\s+/);
      let rest = tok.slice(1);
      if (/\bVF\b/.test(h)) { card.vf = rest[0]; rest = rest.slice(1); }
      if (/Firmware\s*$/.test(h) && rest.length > 1 && /^v?\d/.test(rest[rest.length - 1]!)) card.firmwareVersion = rest.pop()!.replace(/^v/, '');
      if (rest.length) card.name = rest.join(' ');
    } else if (/Bus-Id/i.test(h)) {
      const m = /[0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-9a-fA-F]/.exec(v);
      if (m) card.busId = m[0];
    } else if (/Driver/.test(h)) {
      const m = /v(\d\S*)/.exec(v);
      if (m) card.driverVersion = m[1];
    }
    if (/^Util\b/.test(h)) {
      const m = /^(\d+(?:\.\d+)?)\s*%/.exec(v);
      if (m) card.utilizationPct = Number(m[1]);
    }
  });
  h2.forEach((h, i) => {
    const v = r2[i] ?? '';
    if (/Pwr/.test(h)) {
      const t = /(-?\d+(?:\.\d+)?)\s*C\b/.exec(v);
      if (t) card.temperatureC = Number(t[1]);
      const p = usageCap(v);
      if (p?.usage !== undefined) card.powerW = p.usage;
      if (p?.cap !== undefined) card.powerCapW = p.cap;
    } else if (/^Memory-Usage/.test(h)) {
      const m = /(\d+(?:\.\d+)?)\s*MiB\s*\/\s*(\d+(?:\.\d+)?)\s*MiB/.exec(v);
      if (m) { card.memoryUsedMiB = Number(m[1]); card.memoryTotalMiB = Number(m[2]); }
    }
  });
  return card;
}

export function cnmonDevice(c: CnmonCard, t: CnmonTable): Device & { index: number } {
  const d: Device & { index: number } = { id: `${ID}:${c.index}`, index: c.index, vendor: 'Cambricon', name: c.name ?? 'MLU', kind: 'accelerator' };
  if (c.busId) d.busId = c.busId;
  const drv = c.driverVersion ?? t.driverVersion;
  if (drv) d.driverVersion = drv;
  if (c.firmwareVersion) d.firmwareVersion = c.firmwareVersion;
  if (c.memoryTotalMiB !== undefined) d.memoryMiB = c.memoryTotalMiB;
  if (c.powerCapW !== undefined) d.powerLimitW = c.powerCapW;
  if (c.vf && c.vf !== '/') d.partition = `virtual function ${c.vf}`;
  return d;
}

interface CnmonPrivate { file: string }

const failure = (r: ProcessResult) => toolFailure('cnmon', r, 'run with access to /dev/cambricon_dev*, or as root');

const locate = (ctx: ProbeContext) => locateTool(ctx, ID, 'cnmon is not on PATH — install the Cambricon driver (cnmon ships with it; in containers mount /usr/bin/cnmon), or pass --source cnmon --source-opt path=/full/path/cnmon');

export const cnmon: Driver = {
  meta: {
    id: ID, title: 'Cambricon MLU through cnmon', vendor: 'Cambricon', scope: 'device', priority: 50,
    defaultIntervalMs: 500, minIntervalMs: 100,
    visibilityEnv: ['MLU_VISIBLE_DEVICES'],
    options: { path: 'full path to cnmon (default: found on PATH)' },
  },
  async probe(ctx): Promise<ProbeResult> {
    const file = await locate(ctx);
    if (typeof file !== 'string') return file;
    const r = await probeTool(ctx, file);
    if (r.exitCode !== 0 || r.spawnError) return failure(r);
    const t = parseCnmon(r.stdout);
    if (t.cards.length === 0) return { state: 'unavailable', code: 'no-devices', reason: 'cnmon listed no MLU cards' };
    if (t.cards.every((c) => c.powerW === undefined)) return { state: 'unavailable', code: 'no-power-field', reason: 'no power sensor through this CLI' };
    return {
      state: 'ok',
      devices: t.cards.map((c) => cnmonDevice(c, t)),
      semantics: { kind: 'instantaneous', field: 'Pwr:Usage', note: 'cnmon table "Pwr:Usage/Cap", whole watts, polled; Cambricon documents no averaging window, so readings are integrated as instantaneous' },
      software: { ...(t.cnmonVersion ? { cnmon: t.cnmonVersion } : {}), ...(t.driverVersion ? { 'Cambricon driver': t.driverVersion } : {}) },
      private: { file } satisfies CnmonPrivate,
    };
  },
  async start(opts) {
    return pollTable(opts, ID, (opts.probe.private as CnmonPrivate).file, (stdout) => parseCnmon(stdout).cards);
  },
};
