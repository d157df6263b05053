// tt-smi: Tenstorrent Wormhole and Blackhole boards (n150, n300, p100a, p150, p300, ...). tt-smi has no loop option
// and no energy counter; its snapshot, `tt-smi -s --snapshot_no_tty`, prints one JSON document to stdout and is
// polled (each call opens every device again, so a poll takes a while: the default interval is a second).
// The document: {"host_info": {...}, "host_sw_vers": {"tt_smi", ...}, "device_info": [{"board_info": {"board_type",
// "bus_id", "board_id", "coords"}, "telemetry": {"voltage", "current", "power", "aiclk", "asic_temperature", ...},
// "smbus_telem": {"TDP": "0x10", "BOARD_POWER_LIMIT": "0x226", ...}, "firmwares": {...}, "limits": {...}}]}.
// Telemetry numbers are strings padded with spaces (" 16.0"); smbus_telem values are hex strings or null.
// telemetry.power is the low 16 bits of the TDP telemetry tag (whole watts) — tt-smi's backend prints 0 when the
// firmware gives no TDP (and likewise 0 for a missing temperature or clock), so a null smbus tag means no reading,
// and a 0 W power is never taken as one. Whether a chip's TDP reading covers the chip or its whole board on
// two-chip boards (n300, p300) is not documented.
// Device selection: tt-umd (PCIDevice::enumerate_devices, tenstorrent/tt-umd) reads TT_VISIBLE_DEVICES as a comma
// list of /dev/tenstorrent ids or PCI addresses. tt-smi numbers chips in its own (cluster) order, so the workload is
// given the selected chips' PCI addresses, which mean the same thing to both.
import type { Driver, ProbeContext, ProbeResult, WorkloadVisibility } from './driver.js';
import { toolFailure, locateTool, pollTable, type TableRow, probeTool } from './cli-tool.js';
import { isMissing, parseNumber } from './driver.js';
import type { Device } from '../results/types.gen.js';
import type { ProcessResult } from '../lib/process.js';
import { badInput, type WattbenchError } from '../lib/errors.js';

const ID = 'tt-smi';

/** The snapshot every poll asks for: JSON on stdout, no progress bar. */
export const TT_SNAPSHOT_ARGS = ['-s', '--snapshot_no_tty'];

export interface TtChip {
  /** Position in device_info: tt-smi's chip number. */
  index: number;
  boardType?: string;
  boardId?: string;
  busId?: string;
  powerW?: number;
  temperatureC?: number;
  aiclkMHz?: number;
  powerLimitW?: number;
  firmwareVersion?: string;
}

export interface TtSnapshot { ttSmiVersion?: string; kmdVersion?: string; chips: TtChip[] }

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && !isMissing(v) ? v.trim() : typeof v === 'number' ? String(v) : undefined);

/** "0x226" → 550; null, "N/A", garbage → undefined. */
export function hexTag(v: unknown): number | undefined {
  if (typeof v !== 'string' || !/^\s*0x[0-9a-fA-F]+\s*$/.test(v)) return undefined;
  const n = Number.parseInt(v.trim(), 16);
  return Number.isFinite(n) ? n : undefined;
}

/** A telemetry reading, unless the smbus tag it is computed from is present and null (tt-smi then prints 0). */
function reading(telemetry: Obj | undefined, key: string, smbus: Obj | undefined, tag: string): number | undefined {
  if (smbus && tag in smbus && smbus[tag] === null) return undefined;
  return parseNumber(str(telemetry?.[key]));
}

/** tt-tools-common hex_to_semver_m3_fw: 0x13076300 → "19.7.99.0"; 0 and 0xffffffff are unset. */
function semverM3(v: number | undefined): string | undefined {
  if (v === undefined || v === 0 || v === 0xffffffff) return undefined;
  return [24, 16, 8, 0].map((s) => (v >>> s) & 0xff).join('.');
}

/** The 64-bit board id from BOARD_ID_HIGH/LOW, as 16 hex digits (what `tt-smi -ls` calls the board number). */
function boardIdOf(smbus: Obj | undefined): string | undefined {
  const hi = hexTag(smbus?.BOARD_ID_HIGH), lo = hexTag(smbus?.BOARD_ID_LOW);
  if (hi === undefined || lo === undefined) return undefined;
  return ((BigInt(hi) << 32n) | BigInt(lo)).toString(16).padStart(16, '0');
}

/** Parse a `tt-smi -s` snapshot; undefined when the text holds no such document. */
export function parseTtSmiSnapshot(text: string): TtSnapshot | undefined {
  const start = text.indexOf('{');
  if (start < 0) return undefined;
  let doc: unknown;
  try { doc = JSON.parse(text.slice(start)); } catch { return undefined; }
  const list = obj(doc)?.device_info;
  if (!Array.isArray(list)) return undefined;
  const snap: TtSnapshot = { chips: [] };
  const v = str(obj(obj(doc)?.host_sw_vers)?.tt_smi); if (v) snap.ttSmiVersion = v;
  const kmd = str(obj(obj(doc)?.host_info)?.Driver); if (kmd) snap.kmdVersion = kmd;
  list.forEach((entry, index) => {
    const e = obj(entry);
    const board = obj(e?.board_info), tele = obj(e?.telemetry), smbus = obj(e?.smbus_telem), fw = obj(e?.firmwares), limits = obj(e?.limits);
    const c: TtChip = { index };
    const bt = str(board?.board_type); if (bt) c.boardType = bt;
    const bid = str(board?.board_id) ?? boardIdOf(smbus); if (bid) c.boardId = bid;
    const bus = str(board?.bus_id); if (bus) c.busId = bus;
    const p = reading(tele, 'power', smbus, 'TDP'); if (p !== undefined && p > 0) c.powerW = p;
    const temp = reading(tele, 'asic_temperature', smbus, 'ASIC_TEMPERATURE'); if (temp !== undefined) c.temperatureC = temp;
    const clk = reading(tele, 'aiclk', smbus, 'AICLK'); if (clk !== undefined && clk > 0) c.aiclkMHz = clk;
    // BOARD_POWER_LIMIT where the firmware has it (Blackhole), else the TDP limit tt-smi reports (high 16 bits of TDP)
    const tdp = hexTag(smbus?.TDP);
    const cap = [hexTag(smbus?.BOARD_POWER_LIMIT), parseNumber(str(limits?.tdp_limit)), tdp === undefined ? undefined : tdp >>> 16].find((x) => x !== undefined && x > 0);
    if (cap !== undefined) c.powerLimitW = cap;
    const fwv = str(fw?.fw_bundle_version) ?? semverM3(hexTag(smbus?.FLASH_BUNDLE_VERSION) ?? hexTag(smbus?.FW_BUNDLE_VERSION)); if (fwv) c.firmwareVersion = fwv;
    snap.chips.push(c);
  });
  return snap;
}

export function ttRows(s: TtSnapshot | undefined): TableRow[] {
  return (s?.chips ?? []).map((c) => {
    const row: TableRow = { index: c.index };
    if (c.powerW !== undefined) row.powerW = c.powerW;
    if (c.temperatureC !== undefined) row.temperatureC = c.temperatureC;
    if (c.aiclkMHz !== undefined) row.smClockMHz = c.aiclkMHz;
    return row;
  });
}

export function ttDevice(c: TtChip, s: TtSnapshot): Device & { index: number } {
  const d: Device & { index: number } = { id: `${ID}:${c.index}`, index: c.index, vendor: 'Tenstorrent', name: c.boardType ? `Tenstorrent ${c.boardType}` : 'Tenstorrent chip', kind: 'accelerator' };
  if (c.boardId) d.serial = c.boardId;
  if (c.busId) d.busId = c.busId;
  if (s.kmdVersion) d.driverVersion = s.kmdVersion;
  if (c.firmwareVersion) d.firmwareVersion = c.firmwareVersion;
  if (c.powerLimitW !== undefined) d.powerLimitW = c.powerLimitW;
  // a remote chip (the second chip of an n300, reached through the first) has no PCI address of its own
  if (!c.busId) d.partition = 'chip without its own PCI address (reached through another chip of its board)';
  return d;
}

/**
 * TT_VISIBLE_DEVICES for the selected chips: their PCI addresses. A chip without one is reached through the chip of
 * its board that has one (same board id); with no such chip it cannot be selected.
 */
export function ttVisibility(devices: Device[], all: Device[]): WorkloadVisibility | WattbenchError {
  const addrs: string[] = [];
  for (const d of devices) {
    const bus = d.busId ?? all.find((o) => o.busId && o.serial && o.serial === d.serial)?.busId;
    if (!bus) return badInput('TT_NO_PCI_ADDRESS', `${d.id} (${d.name}) has no PCI address, and no chip of its board has one`, 'select a chip that `wattbench devices` lists with a bus id');
    if (!addrs.includes(bus)) addrs.push(bus);
  }
  return { env: { TT_VISIBLE_DEVICES: addrs.join(',') } };
}

interface TtPrivate { file: string }

const failure = (r: ProcessResult) => toolFailure('tt-smi', r, 'load the tt-kmd driver and give the user read/write access to /dev/tenstorrent/*');

const locate = (ctx: ProbeContext) => locateTool(ctx, ID, 'tt-smi is not on PATH — install it (pip install tt-smi, in the environment that has tt-kmd access), or pass --source tt-smi --source-opt path=/full/path/tt-smi');

export const ttSmi: Driver = {
  meta: {
    id: ID, title: 'Tenstorrent chips through tt-smi', vendor: 'Tenstorrent', scope: 'device', priority: 50,
    // every snapshot re-opens the devices and starts Python: well under a second is not reachable
    defaultIntervalMs: 1000, minIntervalMs: 500,
    visibilityEnv: ['TT_VISIBLE_DEVICES'],
    options: { path: 'full path to tt-smi (default: found on PATH)' },
  },
  async probe(ctx): Promise<ProbeResult> {
    const file = await locate(ctx);
    if (typeof file !== 'string') return file;
    const r = await probeTool(ctx, file, TT_SNAPSHOT_ARGS, 60_000);
    if (r.exitCode !== 0 || r.spawnError) {
      const f = failure(r);
      if (/unrecognized arguments?:.*snapshot_no_tty/.test(r.stderr)) return { ...f, reason: `${f.reason} — this tt-smi is too old to print a snapshot to stdout; install a newer one (pip install -U tt-smi)` };
      return f;
    }
    const s = parseTtSmiSnapshot(r.stdout);
    if (!s) return { state: 'unavailable', code: 'error', reason: `tt-smi ${TT_SNAPSHOT_ARGS.join(' ')} printed no snapshot JSON` };
    if (s.chips.length === 0) return { state: 'unavailable', code: 'no-devices', reason: 'tt-smi listed no Tenstorrent chips' };
    const named = (c: TtChip) => `chip ${c.index} (${ttDevice(c, s).name})`;
    const measured = s.chips.filter((c) => c.powerW !== undefined);
    const left = s.chips.filter((c) => c.powerW === undefined);
    if (measured.length === 0) return { state: 'unavailable', code: 'no-power-field', reason: `no power sensor through this CLI: ${left.map(named).join(', ')} — the firmware gave no TDP telemetry` };
    return {
      state: 'ok',
      devices: measured.map((c) => ttDevice(c, s)),
      semantics: { kind: 'instantaneous', field: 'telemetry.power', note: 'tt-smi snapshot power: the TDP telemetry tag of the chip\'s ARC firmware, whole watts, polled; Tenstorrent documents no averaging window or update period, so readings are integrated as instantaneous' },
      software: { ...(s.ttSmiVersion ? { 'tt-smi': s.ttSmiVersion } : {}), ...(s.kmdVersion ? { 'tt-kmd': s.kmdVersion } : {}) },
      ...(left.length ? { note: `left out, no power sensor through this CLI: ${left.map(named).join(', ')} (no TDP telemetry)` } : {}),
      private: { file } satisfies TtPrivate,
    };
  },
  workloadVisibility(devices, probe) {
    return ttVisibility(devices, probe.devices);
  },
  async start(opts) {
    return pollTable(opts, ID, (opts.probe.private as TtPrivate).file, (stdout) => ttRows(parseTtSmiSnapshot(stdout)), TT_SNAPSHOT_ARGS);
  },
};
