// efsmi: Enflame GCU cards (S60, L300, ...). No loop option is documented and no energy counter, so the
// default table is polled. A banner of dashes comes first, then a boxed table with two rows per card. The
// power cell changed between releases: V1.2 prints "105W  300W" (no slash), 1.7 prints "68W / 300W", and
// an SR-IOV host prints a bare "N/A"; the temperature is "39 C" or "35℃". Cells are read by content.
import type { Driver, ProbeContext, ProbeResult } from './driver.js';
import { toolFailure, locateTool, pollTable, probeTool } from './cli-tool.js';
import { parseNumber } from './driver.js';
import type { Device } from '../results/types.gen.js';
import type { ProcessResult } from '../lib/process.js';

const ID = 'efsmi';

export interface EfsmiCard {
  index: number;
  name?: string;
  firmwareVersion?: string;
  busId?: string;
  ecc?: string;
  temperatureC?: number;
  /** Power-management state ("Sleep", "Active", "LP0", ...). */
  powerState?: string;
  powerW?: number;
  powerCapW?: number;
  memoryTotalMiB?: number;
  virtualization?: string;
  utilizationPct?: number;
  serial?: string;
}

export interface EfsmiTable { efsmiVersion?: string; driverVersion?: string; cards: EfsmiCard[] }

function boxCells(line: string): string[] | undefined {
  const t = line.replace(/\r$/, '').trimEnd();
  if (!t.startsWith('|') || !t.endsWith('|') || /^\|[=\-+|]+\|$/.test(t)) return undefined;
  return t.slice(1, -1).split('|').map((c) => c.trim());
}

/** "105W  300W", "68W / 300W", "N/A", "120W / N/A" → usage and cap (undefined where missing). */
export function efsmiPower(text: string): { usage?: number; cap?: number } {
  const m = /^(N\/A|[\d.]+)\s*W?\s*(?:\/?\s*(N\/A|[\d.]+)\s*W?)?\s*$/.exec(text.trim());
  if (!m) return {};
  const out: { usage?: number; cap?: number } = {};
  const u = parseNumber(m[1]); if (u !== undefined) out.usage = u;
  const c = parseNumber(m[2]); if (c !== undefined) out.cap = c;
  return out;
}

/** Parse the default `efsmi` table. */
export function parseEfsmi(text: string): EfsmiTable {
  const table: EfsmiTable = { cards: [] };
  let head1: string[] | undefined, head2: string[] | undefined;
  let pending: string[] | undefined;
  for (const line of text.split('\n')) {
    const v = /EFSMI:?\s+V?(\d[\w.]*)/.exec(line);
    if (v && !table.efsmiVersion) table.efsmiVersion = v[1];
    const d = /Driver Ver:\s*(\S+)/.exec(line);
    if (d && !table.driverVersion) table.driverVersion = d[1];
    const cells = boxCells(line);
    if (!cells) continue;
    if (!head1 && /^DEV\b/.test(cells[0] ?? '')) { head1 = cells; continue; }
    if (head1 && !head2) { head2 = cells; continue; }
    if (!head1 || !head2 || cells.length !== head1.length) continue;
    if (!pending) { if (/^\d+\s/.test(cells[0] ?? '')) pending = cells; continue; }
    table.cards.push(readCard(head1, head2, pending, cells));
    pending = undefined;
  }
  return table;
}

function readCard(h1: string[], h2: string[], r1: string[], r2: string[]): EfsmiCard {
  const m0 = /^(\d+)\s+(.*)$/.exec(r1[0]!)!;
  const card: EfsmiCard = { index: Number(m0[1]) };
  if (m0[2]!.trim()) card.name = m0[2]!.trim();
  h1.forEach((h, i) => {
    const v = r1[i] ?? '';
    if (/FW VER/i.test(h)) { const t = v.split(/\s+/)[0]; if (t && t !== 'N/A') card.firmwareVersion = t; }
    else if (/BUS-ID/i.test(h)) {
      const [bus, ecc] = v.split(/\s+/);
      if (bus && /:/.test(bus)) card.busId = bus;
      if (ecc) card.ecc = ecc;
    }
  });
  h2.forEach((h, i) => {
    const v = r2[i] ?? '';
    if (/Pwr/.test(h)) {
      const m = /^(-?\d+(?:\.\d+)?)\s*(?:°C|℃|C)\s+(\S+)\s*(.*)$/.exec(v);
      if (m) {
        card.temperatureC = Number(m[1]);
        card.powerState = m[2];
        const p = efsmiPower(m[3]!);
        if (p.usage !== undefined) card.powerW = p.usage;
        if (p.cap !== undefined) card.powerCapW = p.cap;
      }
    } else if (/^Mem\b/.test(h)) {
      const m = /^(\d+(?:\.\d+)?)\s*MiB\s*(\S+)?/.exec(v);
      if (m) { card.memoryTotalMiB = Number(m[1]); if (m[2]) card.virtualization = m[2]; }
    } else if (/DUsed/.test(h)) {
      const m = /^(\d+(?:\.\d+)?)\s*%\s*(\S+)?/.exec(v);
      if (m) { card.utilizationPct = Number(m[1]); if (m[2] && m[2] !== 'N/A') card.serial = m[2]; }
    }
  });
  return card;
}

export function efsmiDevice(c: EfsmiCard, t: EfsmiTable): Device & { index: number } {
  const d: Device & { index: number } = { id: `${ID}:${c.index}`, index: c.index, vendor: 'Enflame', name: c.name ?? 'GCU', kind: 'accelerator' };
  if (c.serial) d.serial = c.serial;
  if (c.busId) d.busId = c.busId;
  if (t.driverVersion) d.driverVersion = t.driverVersion;
  if (c.firmwareVersion) d.firmwareVersion = c.firmwareVersion;
  if (c.memoryTotalMiB !== undefined) d.memoryMiB = c.memoryTotalMiB;
  if (c.powerCapW !== undefined) d.powerLimitW = c.powerCapW;
  return d;
}

interface EfsmiPrivate { file: string }

const failure = (r: ProcessResult) => toolFailure('efsmi', r, 'run with access to the Enflame devices, or as root');

const locate = (ctx: ProbeContext) => locateTool(ctx, ID, 'efsmi is not on PATH — install the Enflame driver (TopsRider --driver), or pass --source efsmi --source-opt path=/full/path/efsmi');

export const efsmi: Driver = {
  meta: {
    id: ID, title: 'Enflame GCU through efsmi', vendor: 'Enflame', scope: 'device', priority: 50,
    defaultIntervalMs: 500, minIntervalMs: 100,
    visibilityEnv: ['TOPS_VISIBLE_DEVICES'],
    options: { path: 'full path to efsmi (default: found on PATH)' },
  },
  async probe(ctx): Promise<ProbeResult> {
    const file = await locate(ctx);
    if (typeof file !== 'string') return file;
    const r = await probeTool(ctx, file);
    if (r.exitCode !== 0 || r.spawnError) return failure(r);
    const t = parseEfsmi(r.stdout);
    if (t.cards.length === 0) return { state: 'unavailable', code: 'no-devices', reason: 'efsmi listed no GCU cards' };
    if (t.cards.every((c) => c.powerW === undefined)) return { state: 'unavailable', code: 'no-power-field', reason: 'no power sensor through this CLI' };
    return {
      state: 'ok',
      devices: t.cards.map((c) => efsmiDevice(c, t)),
      semantics: { kind: 'instantaneous', field: 'Pwr(Usage/Cap)', note: 'efsmi table power usage, whole watts, polled; Enflame documents no averaging window, so readings are integrated as instantaneous' },
      software: { ...(t.efsmiVersion ? { efsmi: t.efsmiVersion } : {}), ...(t.driverVersion ? { 'Enflame driver': t.driverVersion } : {}) },
      private: { file } satisfies EfsmiPrivate,
    };
  },
  async start(opts) {
    return pollTable(opts, ID, (opts.probe.private as EfsmiPrivate).file, (stdout) => parseEfsmi(stdout).cards);
  },
};
