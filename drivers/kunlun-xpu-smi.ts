// kunlun-xpu-smi: Kunlunxin (Baidu Kunlun) XPUs — K200, R200, R300, P800 — through Kunlunxin's `xpu_smi`. Not Intel's
// xpu-smi (drivers/xpu-smi.ts): a different tool with a different output, hence a different source id. Polled: no
// loop option and no energy counter are documented.
// The default view (DEVICES / VIDEO / PROCESSES box tables, PaddlePaddle's XPU install guide) has NO power column:
// it gives the devices and their static facts only. Power comes from `xpu_smi -m`, one whitespace-separated line per
// device, read by position as Kunlunxin's users do (swanlab, koordinator, siltide, several sampler scripts):
//   00000000:03:00.0 0 0 02K15K624CV00304 36 0 0 0 86 1450 1450 1450 1450 1450 1450 2 96 90440 98304 0 1.0:2.6:1.39.1.7 "P800 OAM" 0 …
//   0 bus · 2 device id · 3 serial · 4 temperature °C · 8 power · 9–14 clocks MHz · 15/16 L3 used/total MiB ·
//   17/18 memory used/total MiB · 19 use % · 20 firmware · 21 model (quoted, may hold a space)
// The power column's unit is not documented and differs between generations: the P800 line above reads 86 (watts),
// K200 sampler scripts divide by 1000 (milliwatts). A powered XPU draws tens of watts, so a reading of 2 W or more
// expressed in mW is ≥ 2000 while one in W stays far below it; the unit is decided once from the probe's readings
// (or forced with --source-opt power-unit=W|mW) and named in the source's note. Columns Kunlunxin does not fill are
// printed as 0 (5–7 and 22+ above), so a 0 power is no reading, never 0 W.
// Two-die boards (K200: both dies list one PCI address and serial) print the board's power on each die's line;
// it is recorded once, under the first selected die of the board.
// Device selection: XPU_VISIBLE_DEVICES takes the DevIDs (/dev/xpuN) — "export XPU_VISIBLE_DEVICES="0" # Specify
// any card", https://paddlepaddle.github.io/FastDeploy/usage/kunlunxin_xpu_deployment/ (PaddlePaddle FastDeploy).
// P800 installs may name the tool `xpu-smi`, like Intel's; it is not looked up under that name (it could be
// Intel's): point at it with --source-opt path=/usr/local/bin/xpu-smi.
import type { Driver, ProbeContext, ProbeResult } from './driver.js';
import { toolFailure, locateTool, pollTable, type TableRow, probeTool } from './cli-tool.js';
import { isMissing, parseNumber } from './driver.js';
import type { Device } from '../results/types.gen.js';
import type { ProcessResult } from '../lib/process.js';
import { badInput } from '../lib/errors.js';

const ID = 'kunlun-xpu-smi';
const TOOL = 'xpu_smi';

/** The machine-readable view every poll asks for. */
export const KL_M_ARGS = ['-m'];

/** A reading at or above this in the power column can only be milliwatts (2 kW per XPU is beyond any Kunlunxin part). */
export const KL_MW_THRESHOLD = 2000;

export interface KlTableDev {
  index: number;
  busId?: string;
  model?: string;
  serial?: string;
  inode?: string;
  utilizationPct?: number;
  memoryUsedMiB?: number;
  memoryTotalMiB?: number;
}

export interface KlTable { runtimeVersion?: string; driverVersion?: string; devices: KlTableDev[] }

function cellsOf(line: string): string[] | undefined {
  const t = line.replace(/\r$/, '').trim();
  if (!t.startsWith('|') || !t.endsWith('|')) return undefined;
  return t.slice(1, -1).split('|').map((c) => c.trim());
}

/** "0 / 32768 MB" → used, total (the MB here are MiB: 32768 MB is a 32 GiB R300). */
function usedTotal(v: string): { used?: number; total?: number } {
  const m = /^(\S+)\s*\/\s*(\S+)\s*MB$/i.exec(v.trim());
  if (!m) return {};
  const out: { used?: number; total?: number } = {};
  const u = parseNumber(m[1]); if (u !== undefined) out.used = u;
  const t = parseNumber(m[2]); if (t !== undefined) out.total = t;
  return out;
}

/** Parse the default `xpu_smi` view: the version lines and the DEVICES table (VIDEO and PROCESSES are not read). */
export function parseXpuSmiTable(text: string): KlTable {
  const t: KlTable = { devices: [] };
  let head: string[] | undefined;
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const rv = /^\s*Runtime Version:\s*(\S+)/.exec(line); if (rv && !t.runtimeVersion) t.runtimeVersion = rv[1];
    const dv = /^\s*Driver Version:\s*(\S+)/.exec(line); if (dv && !t.driverVersion) t.driverVersion = dv[1];
    const sec = /^\s*([A-Z]+)\s*$/.exec(line); if (sec) { section = sec[1]!; head = undefined; continue; }
    if (section !== 'DEVICES') continue;
    const cells = cellsOf(line);
    if (!cells) continue;
    if (cells[0] === 'DevID') { head = cells; continue; }
    if (!head || !/^\d+$/.test(cells[0] ?? '')) continue;
    const d: KlTableDev = { index: Number(cells[0]) };
    head.forEach((h, i) => {
      const v = cells[i] ?? '';
      if (isMissing(v)) return;
      switch (h) {
        case 'PCI Addr': d.busId = v; break;
        case 'Model': d.model = v; break;
        case 'SN': d.serial = v; break;
        case 'INODE': d.inode = v; break;
        case 'UseRate': { const n = parseNumber(v); if (n !== undefined) d.utilizationPct = n; break; }
        case 'Memory': { const m = usedTotal(v); if (m.used !== undefined) d.memoryUsedMiB = m.used; if (m.total !== undefined) d.memoryTotalMiB = m.total; break; }
      }
    });
    t.devices.push(d);
  }
  return t;
}

export interface KlLine {
  index: number;
  busId: string;
  serial?: string;
  temperatureC?: number;
  /** The power column as printed; its unit is decided by klPowerUnit. Absent when 0 or missing. */
  powerRaw?: number;
  smClockMHz?: number;
  memoryUsedMiB?: number;
  memoryTotalMiB?: number;
  utilizationPct?: number;
  firmwareVersion?: string;
  model?: string;
}

const BUS = /^[0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;

/** Parse `xpu_smi -m`: one positional line per device; lines that do not start with a PCI address are not device lines. */
export function parseXpuSmiM(text: string): KlLine[] {
  const out: KlLine[] = [];
  for (const raw of text.split('\n')) {
    const tok = raw.trim().match(/"[^"]*"|\S+/g) ?? [];
    if (tok.length < 9 || !BUS.test(tok[0]!) || !/^\d+$/.test(tok[2]!)) continue;
    const l: KlLine = { index: Number(tok[2]), busId: tok[0]! };
    const n = (i: number) => parseNumber(tok[i]);
    if (tok[3] && !isMissing(tok[3]) && tok[3] !== '0') l.serial = tok[3];
    const temp = n(4); if (temp !== undefined) l.temperatureC = temp;
    // 0 is what Kunlunxin prints in a column it does not fill; no powered XPU draws it
    const p = n(8); if (p !== undefined && p > 0) l.powerRaw = p;
    const clk = n(9); if (clk !== undefined && clk > 0) l.smClockMHz = clk;
    const used = n(17); if (used !== undefined) l.memoryUsedMiB = used;
    const total = n(18); if (total !== undefined && total > 0) l.memoryTotalMiB = total;
    const util = n(19); if (util !== undefined) l.utilizationPct = util;
    if (tok[20] && !isMissing(tok[20]) && tok[20] !== '0') l.firmwareVersion = tok[20];
    if (tok[21]) { const m = tok[21].replace(/^"|"$/g, '').trim(); if (m && m !== '0') l.model = m; }
    out.push(l);
  }
  return out;
}

export type KlPowerUnit = 'W' | 'mW';

/** The power column's unit: forced by the option, else milliwatts when any reading is at or above KL_MW_THRESHOLD. */
export function klPowerUnit(raws: number[], option?: string): KlPowerUnit | Error {
  if (option !== undefined && option !== 'auto') {
    if (option === 'W' || option === 'mW') return option;
    return badInput('BAD_SOURCE_OPTION', `kunlun-xpu-smi power-unit=${option} is not W, mW or auto`, 'pass --source-opt power-unit=W, mW or auto');
  }
  return raws.some((r) => r >= KL_MW_THRESHOLD) ? 'mW' : 'W';
}

export const klWatts = (raw: number, unit: KlPowerUnit) => (unit === 'mW' ? raw / 1000 : raw);

/**
 * Boards whose dies print one board's power on every die's line: devices that share a PCI address (and serial,
 * where both print one) and read the same power at probe time. Returns index → the indices of its board, in order.
 */
export function klBoards(lines: KlLine[]): Map<number, number[]> {
  const groups = new Map<string, KlLine[]>();
  for (const l of lines) {
    const key = `${l.busId.toLowerCase()}|${l.serial ?? ''}`;
    groups.set(key, [...(groups.get(key) ?? []), l]);
  }
  const out = new Map<number, number[]>();
  for (const g of groups.values()) {
    if (g.length < 2 || new Set(g.map((l) => l.powerRaw)).size !== 1 || g[0]!.powerRaw === undefined) continue;
    const ids = g.map((l) => l.index).sort((a, b) => a - b);
    for (const i of ids) out.set(i, ids);
  }
  return out;
}

/** One poll's readings per device; a board's power goes to the first selected die of the board only. */
export function klRows(lines: KlLine[], unit: KlPowerUnit, boards: Map<number, number[]>, selected: number[]): TableRow[] {
  return lines.map((l) => {
    const row: TableRow = { index: l.index };
    const board = boards.get(l.index);
    const carrier = board ? board.find((i) => selected.includes(i)) : l.index;
    if (l.powerRaw !== undefined && carrier === l.index) row.powerW = klWatts(l.powerRaw, unit);
    for (const k of ['temperatureC', 'smClockMHz', 'utilizationPct', 'memoryUsedMiB'] as const) if (l[k] !== undefined) row[k] = l[k];
    return row;
  });
}

export function klDevice(l: KlLine, t: KlTable, boards: Map<number, number[]>): Device & { index: number } {
  const row = t.devices.find((d) => d.index === l.index);
  const model = l.model ?? row?.model;
  const d: Device & { index: number } = { id: `${ID}:${l.index}`, index: l.index, vendor: 'Kunlunxin', name: model ? `Kunlunxin ${model}` : 'Kunlunxin XPU', kind: 'accelerator' };
  const serial = l.serial ?? row?.serial; if (serial) d.serial = serial;
  d.busId = row?.busId ?? l.busId;
  if (t.driverVersion) d.driverVersion = t.driverVersion;
  if (l.firmwareVersion) d.firmwareVersion = l.firmwareVersion;
  const mem = l.memoryTotalMiB ?? row?.memoryTotalMiB; if (mem !== undefined) d.memoryMiB = mem;
  const board = boards.get(l.index);
  if (board) d.partition = `die ${board.indexOf(l.index)} of a ${board.length}-die board (${l.busId}, XPUs ${board.join(', ')}); the board's power is recorded once, under its first selected die`;
  return d;
}

interface KlPrivate { file: string; unit: KlPowerUnit; boards: Array<[number, number[]]> }

const failure = (r: ProcessResult) => toolFailure(TOOL, r, 'run with access to /dev/xpu* and /dev/xpuctrl, or as root');

const locate = (ctx: ProbeContext) => locateTool(ctx, TOOL, 'xpu_smi is not on PATH or in /usr/local/xpu/bin — install the Kunlunxin XRE driver, or pass --source kunlun-xpu-smi --source-opt path=/full/path/xpu_smi', ['/usr/local/xpu/bin']);

export const kunlunXpuSmi: Driver = {
  meta: {
    id: ID, title: 'Kunlunxin XPU through xpu_smi', vendor: 'Kunlunxin', scope: 'device', priority: 50,
    defaultIntervalMs: 500, minIntervalMs: 100,
    visibilityEnv: ['XPU_VISIBLE_DEVICES'],
    options: {
      path: 'full path to xpu_smi (default: PATH, then /usr/local/xpu/bin); a P800 install may call it xpu-smi',
      'power-unit': 'W, mW or auto (default): the unit of the `xpu_smi -m` power column, which Kunlunxin does not document',
    },
  },
  async probe(ctx): Promise<ProbeResult> {
    const file = await locate(ctx);
    if (typeof file !== 'string') return file;
    const r = await probeTool(ctx, file);
    if (r.exitCode !== 0 || r.spawnError) return failure(r);
    const t = parseXpuSmiTable(r.stdout);
    const m = await probeTool(ctx, file, KL_M_ARGS);
    const lines = m.exitCode === 0 ? parseXpuSmiM(m.stdout) : [];
    if (lines.length === 0 && t.devices.length === 0) return { state: 'unavailable', code: 'no-devices', reason: 'xpu_smi listed no XPUs' };
    const listed = (lines.length ? lines.map((l) => [l.index, l.model]) : t.devices.map((d) => [d.index, d.model])).map(([i, model]) => `XPU ${i}${model ? ` (${model})` : ''}`).join(', ');
    if (lines.every((l) => l.powerRaw === undefined)) {
      const why = m.exitCode !== 0 || m.spawnError ? `\`xpu_smi -m\` failed (${failure(m).reason})` : lines.length === 0 ? '`xpu_smi -m` printed no device lines' : '`xpu_smi -m` printed no power for any XPU';
      return { state: 'unavailable', code: 'no-power-field', reason: `no power sensor through this CLI: ${listed} — the xpu_smi table has no power column and ${why}` };
    }
    const unit = klPowerUnit(lines.flatMap((l) => (l.powerRaw === undefined ? [] : [l.powerRaw])), ctx.options['power-unit']);
    if (unit instanceof Error) return { state: 'unavailable', code: 'not-configured', reason: unit.message };
    const boards = klBoards(lines);
    const measured = lines.filter((l) => l.powerRaw !== undefined);
    const left = lines.filter((l) => l.powerRaw === undefined);
    const shared = [...new Set([...boards.values()].map((b) => b.join('+')))];
    const notes = [
      ...(left.length ? [`left out, no power sensor through this CLI: ${left.map((l) => `XPU ${l.index}`).join(', ')} (power column 0 or missing)`] : []),
      ...(shared.length ? [`two-die board(s) ${shared.join(', ')}: each die prints the board's power; it is recorded once, under the first selected die`] : []),
    ];
    return {
      state: 'ok',
      devices: measured.map((l) => klDevice(l, t, boards)),
      semantics: { kind: 'instantaneous', field: 'xpu_smi -m power (column 9)', note: `xpu_smi -m power column, read as ${unit === 'mW' ? 'milliwatts' : 'watts'} (${ctx.options['power-unit'] && ctx.options['power-unit'] !== 'auto' ? 'set by power-unit' : 'inferred from its magnitude; Kunlunxin documents no unit'}), polled; no averaging window is documented, so readings are integrated as instantaneous` },
      software: { ...(t.runtimeVersion ? { 'Kunlunxin runtime': t.runtimeVersion } : {}), ...(t.driverVersion ? { 'Kunlunxin driver': t.driverVersion } : {}) },
      ...(notes.length ? { note: notes.join('; ') } : {}),
      private: { file, unit, boards: [...boards] } satisfies KlPrivate,
    };
  },
  async start(opts) {
    const p = opts.probe.private as KlPrivate;
    const boards = new Map(p.boards);
    const selected = opts.devices.map((d) => d.index ?? -1);
    return pollTable(opts, ID, p.file, (stdout) => klRows(parseXpuSmiM(stdout), p.unit, boards, selected), KL_M_ARGS);
  },
};
