// nvidia-smi: NVIDIA GPUs through the driver's own CLI. One long-lived
//   nvidia-smi --query-gpu=timestamp,index,<power field>,... --format=csv,noheader,nounits -lms N -i <ids>
// process streams one row per GPU per iteration; lib/supervise.ts restarts it when it dies, hangs or prints garbage.
// The parsers below are pure functions of text (CSV with or without header/units, `-L`, `-q` text, `-q -x` XML)
// and are tested against every capture in ../shared/fixtures/nvidia (FORMATS.md §1 lists the quirks).
//
// Which power field, and what one reading means (FORMATS.md §1, GUIDE "Sensor facts"):
//  - power.draw.instant — the instantaneous reading, refreshed about every 100 ms; preferred where the driver has it,
//    because it follows load changes at the window edges (on A100/H100 the sensor observes ~25% of each 100 ms).
//  - power.draw — a 1 s average on Ampere and newer except GA100 (A100/A30/A800); instantaneous on older GPUs.
//  - power.draw.average — the 1 s average; only used when nothing else is there.
// nvidia-smi has no energy counter (NVML/DCGM have one; a DCGM driver would rank above this one).
import type { Driver, ProbeResult, SamplerSink, WorkloadVisibility } from './driver.js';
import { isMissing, parseNumber } from './driver.js';
import type { Device, Semantics } from '../results/types.gen.js';
import type { Sample } from '../results/samples.js';
import type { RunClock } from '../lib/clock.js';
import { findOnPath, runCommand, type ProcessResult } from '../lib/process.js';
import { superviseLoop } from '../lib/supervise.js';
import { badInput, WattbenchError } from '../lib/errors.js';
import { nvidiaVisibility, type NvMigSlice } from './nvidia-mig.js';

// ───────────────────────────── field names ─────────────────────────────

/** Aliases nvidia-smi accepts → the canonical name it prints in the CSV header (from `--help-query-gpu`). */
export const FIELD_ALIASES: Record<string, string> = {
  gpu_name: 'name', gpu_serial: 'serial', gpu_uuid: 'uuid', gpu_bus_id: 'pci.bus_id',
  'clocks.gr': 'clocks.current.graphics', 'clocks.sm': 'clocks.current.sm', 'clocks.mem': 'clocks.current.memory', 'clocks.video': 'clocks.current.video',
  'clocks.max.gr': 'clocks.max.graphics', 'clocks.max.mem': 'clocks.max.memory',
  'gpu.power.draw.average': 'power.draw.average', 'gpu.power.draw.instant': 'power.draw.instant',
  'gpu.power.requested_limit': 'power.limit', 'gpu.power.current_limit': 'enforced.power.limit',
  'gpu.power.default_limit': 'power.default_limit', 'gpu.power.min_limit': 'power.min_limit', 'gpu.power.max_limit': 'power.max_limit',
};

const canonCache = new Map<string, string>();

/** The canonical spelling of a field as requested or as printed in a header (units in brackets stripped). */
export function canonicalField(name: string): string {
  const hit = canonCache.get(name);
  if (hit !== undefined) return hit;
  const bare = name.trim().replace(/\s*\[[^\]]*\]$/, '');
  const c = bare.startsWith('clocks_throttle_reasons') ? bare.replace('clocks_throttle_reasons', 'clocks_event_reasons') : FIELD_ALIASES[bare] ?? bare;
  if (canonCache.size < 4096) canonCache.set(name, c); // the loop asks for the same dozen names on every row
  return c;
}

// ───────────────────────────── CSV ─────────────────────────────

export interface NvCsv {
  /** Canonical field names, one per column. */
  fields: string[];
  /** The unit in each header cell ("W", "MHz", ...), undefined where the header has none. */
  units: (string | undefined)[];
  /** Cells as printed (units still attached when the format had no `nounits`). */
  rows: string[][];
}

/** nvidia-smi separates cells with ", " (comma + space); Windows adds \r. */
export function splitCsvLine(line: string): string[] {
  return line.replace(/\r$/, '').split(', ').map((c) => c.trim());
}

const HEADER_CELL = /^[a-z_][a-z0-9_.]*(?:\s*\[[^\]]+\])?$/i;

/** True for a CSV header line (every cell a field name, at least one dotted/underscored or a known bare name). */
export function looksLikeHeader(cells: string[]): boolean {
  return cells.length > 0 && cells.every((c) => HEADER_CELL.test(c))
    && cells.some((c) => /[._]/.test(c) || ['timestamp', 'index', 'name', 'uuid', 'serial', 'pstate', 'count', 'hostname'].includes(c));
}

/**
 * Parse `--query-gpu` CSV: with a header (`--format=csv[,nounits]`) or without (`noheader`, then `fields` must say
 * which were asked for, in order). Blank lines are skipped; a row whose cell count differs from the header is kept
 * out (a truncated or garbled line).
 */
export function parseQueryCsv(text: string, fields?: string[]): NvCsv & { rejected: string[] } {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
  let names = fields?.map(canonicalField);
  let units: (string | undefined)[] = names?.map(() => undefined) ?? [];
  let start = 0;
  if (lines.length && looksLikeHeader(splitCsvLine(lines[0]!))) {
    const head = splitCsvLine(lines[0]!);
    names = head.map(canonicalField);
    units = head.map((h) => /\[([^\]]+)\]$/.exec(h)?.[1]);
    start = 1;
  }
  if (!names) throw new Error('CSV without a header: pass the requested field list');
  const rows: string[][] = [];
  const rejected: string[] = [];
  for (const l of lines.slice(start)) {
    const cells = splitCsvLine(l);
    if (cells.length === names.length) rows.push(cells); else rejected.push(l);
  }
  return { fields: names, units, rows, rejected };
}

/** A row as a field → cell map. */
export function rowObject(csv: NvCsv, row: string[]): Record<string, string> {
  const o: Record<string, string> = {};
  csv.fields.forEach((f, i) => { o[f] = row[i]!; });
  return o;
}

/** A numeric cell ("631.95", "631.95 W", "100 %", "0 us"); undefined for every missing spelling. Never 0 for missing. */
export function nvNumber(cell: string | undefined): number | undefined {
  return parseNumber(cell);
}

/** A missing-value cell written out in full ([N/A], [Not Supported], N/A, -, NA, ...): a truncated "[N/" is not one. */
export function isCompleteMissing(cell: string): boolean {
  const t = cell.trim();
  return /^\[[^\]]*\]$/.test(t) || t === 'N/A' || t === 'NA' || t === '-' || t === 'n/a';
}

/** `YYYY/MM/DD HH:MM:SS.mmm` local time (no zone) → epoch ms; undefined when malformed. */
export function parseNvTimestamp(s: string): number | undefined {
  const m = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/.exec(s.trim());
  if (!m) return undefined;
  const ms = m[7] ? Number(m[7].padEnd(3, '0')) : 0;
  const t = new Date(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, ms).getTime();
  return Number.isFinite(t) ? t : undefined;
}

// ───────────────────────────── clock event (throttle) reasons ─────────────────────────────

/** NVML clock-event reason bits (nvml.h nvmlClocksEventReason*). Only the ones that are real throttling are named. */
export const THROTTLE_BITS: ReadonlyArray<[bigint, string]> = [
  [0x4n, 'sw_power_cap'],
  [0x8n, 'hw_slowdown'],
  [0x20n, 'sw_thermal_slowdown'],
  [0x40n, 'hw_thermal_slowdown'],
  [0x80n, 'hw_power_brake_slowdown'],
];
// Not throttling, so never reported: 0x1 gpu_idle, 0x2 applications_clocks_setting (a user setting), 0x10 sync_boost,
// 0x100 display_clock_setting.

/** `0x0000000000000044` → bigint; undefined for missing or malformed (a truncated mask is not a mask). */
export function parseHexMask(cell: string | undefined): bigint | undefined {
  if (cell === undefined) return undefined;
  const m = /^0x([0-9a-fA-F]{16})$/.exec(cell.trim()); // always 16 digits: a shorter one was cut
  return m ? BigInt(`0x${m[1]}`) : undefined;
}

export function decodeThrottleReasons(mask: bigint): string[] {
  return THROTTLE_BITS.filter(([bit]) => (mask & bit) !== 0n).map(([, name]) => name);
}

// ───────────────────────────── -L (list) ─────────────────────────────

/** One MIG slice as `-L` lists it: profile (3g.40gb), MIG device index on its GPU, UUID (MIG-… or, drivers < 470, MIG-GPU-…/gi/ci). */
export interface NvListedGpu { index: number; name: string; uuid?: string; mig: NvMigSlice[] }

/** `nvidia-smi -L`: `GPU 0: NAME (UUID: GPU-...)` and, under a MIG-enabled GPU, `  MIG 3g.40gb     Device  0: (UUID: MIG-...)`. */
export function parseGpuList(text: string): NvListedGpu[] {
  const gpus: NvListedGpu[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const g = /^GPU (\d+): (.*?)(?: \(UUID: ([^)]+)\))?\s*$/.exec(line);
    if (g) { gpus.push({ index: Number(g[1]), name: g[2]!.trim(), ...(g[3] ? { uuid: g[3] } : {}), mig: [] }); continue; }
    const m = /^\s+MIG\s+(\S+)\s+Device\s+(\d+):\s*(?:\(UUID: ([^)]+)\))?/.exec(line);
    if (m && gpus.length) gpus[gpus.length - 1]!.mig.push({ profile: m[1]!, device: Number(m[2]), ...(m[3] ? { uuid: m[3] } : {}) });
  }
  return gpus;
}

// ───────────────────────────── -q text and -q -x XML ─────────────────────────────

/** Static facts of one GPU as the `-q` text and the `-q -x` XML report them (the same shape from both). */
export interface NvGpuFacts {
  busId?: string;
  name?: string;
  architecture?: string;
  uuid?: string;
  serial?: string;
  vbios?: string;
  driverVersion?: string;
  memoryTotalMiB?: number;
  /** `Power Draw` (drivers ≤ 565) — the same field as the CSV power.draw. */
  powerDrawW?: number;
  averagePowerDrawW?: number;
  instantPowerDrawW?: number;
  powerLimitW?: number;
  defaultPowerLimitW?: number;
  migMode?: string;
  migDevices: Array<{ index?: number; gpuInstanceId?: number; computeInstanceId?: number; memoryMiB?: number }>;
}

interface TextNode { key: string; value?: string; children: TextNode[] }

/** Indentation tree of `Key : Value` / `Section` lines. */
function textTree(text: string): TextNode {
  const root: TextNode = { key: '', children: [] };
  const stack: Array<{ indent: number; node: TextNode }> = [{ indent: -1, node: root }];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!line.trim() || /^=+/.test(line.trim())) continue;
    const indent = line.length - line.trimStart().length;
    const body = line.trim();
    const i = body.indexOf(' : ');
    const colonEnd = body.endsWith(' :') || body.endsWith(':') && !body.includes(' : ');
    const node: TextNode = i >= 0 ? { key: body.slice(0, i).trim(), value: body.slice(i + 3).trim(), children: [] }
      : colonEnd ? { key: body.replace(/\s*:$/, ''), value: '', children: [] } : { key: body, children: [] };
    while (stack.length > 1 && stack[stack.length - 1]!.indent >= indent) stack.pop();
    stack[stack.length - 1]!.node.children.push(node);
    stack.push({ indent, node });
  }
  return root;
}

const kid = (n: TextNode | undefined, key: string) => n?.children.find((c) => c.key === key);
const val = (n: TextNode | undefined, ...path: string[]) => { let c = n; for (const p of path) c = kid(c, p); return c?.value; };
const present = (v: string | undefined) => (v === undefined || isMissing(v) || /deprecated|not supported/i.test(v) ? undefined : v);

/** `nvidia-smi -q` (the human-readable report). */
export function parseQueryText(text: string): NvGpuFacts[] {
  const root = textTree(text);
  // 610+ appends "[Deprecated; will be removed in ...]" to Driver Version and adds KMD Version beside it
  const driverVersion = present(val(root, 'Driver Version')?.replace(/\s*\[[^\]]*\]?.*$/, '')) ?? present(val(root, 'KMD Version'));
  return root.children.filter((n) => /^GPU [0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f]$/.test(n.key)).map((g) => {
    const power = g.children.find((c) => /^(GPU )?Power Readings$/.test(c.key));
    // 610+ nests the limits under "GPU Ceiling Power Limit"
    const limits = kid(power, 'GPU Ceiling Power Limit') ?? power;
    const facts: NvGpuFacts = {
      busId: g.key.slice(4),
      name: present(val(g, 'Product Name')),
      architecture: present(val(g, 'Product Architecture')),
      uuid: present(val(g, 'GPU UUID')),
      serial: present(val(g, 'Serial Number')),
      vbios: present(val(g, 'VBIOS Version')),
      driverVersion,
      memoryTotalMiB: parseNumber(val(g, 'FB Memory Usage', 'Total')),
      powerDrawW: parseNumber(val(power, 'Power Draw')),
      averagePowerDrawW: parseNumber(val(power, 'Average Power Draw')),
      instantPowerDrawW: parseNumber(val(power, 'Instantaneous Power Draw')),
      powerLimitW: parseNumber(val(limits, 'Current Power Limit') ?? val(limits, 'Enforced Power Limit') ?? val(limits, 'Power Limit')),
      defaultPowerLimitW: parseNumber(val(limits, 'Default Power Limit')),
      migMode: present(val(g, 'MIG Mode', 'Current')),
      migDevices: g.children.filter((c) => c.key === 'MIG Device').map((m) => ({
        index: parseNumber(val(m, 'Index')), gpuInstanceId: parseNumber(val(m, 'GPU Instance ID')), computeInstanceId: parseNumber(val(m, 'Compute Instance ID')),
        memoryMiB: parseNumber(val(m, 'Shared FB Memory Usage', 'Total') ?? val(m, 'FB Memory Usage', 'Total')),
      })),
    };
    return stripUndefined(facts);
  });
}

export interface XmlNode { name: string; attrs: Record<string, string>; children: XmlNode[]; text: string }

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const decodeEntities = (s: string) => s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) =>
  e[0] === '#' ? String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)) : ENTITIES[e] ?? m);

/** A small XML reader, enough for nvidia-smi's flat, attribute-light documents (no namespaces, no CDATA). */
export function parseXml(text: string): XmlNode {
  const root: XmlNode = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlNode[] = [root];
  const re = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!DOCTYPE[^>]*>|<\/\s*([\w:.-]+)\s*>|<([\w:.-]+)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const top = stack[stack.length - 1]!;
    if (m[1]) {
      if (stack.length > 1 && top.name === m[1]) stack.pop();
      else throw new Error(`XML: unexpected </${m[1]}>`);
    } else if (m[2]) {
      const attrs: Record<string, string> = {};
      for (const a of (m[3] ?? '').matchAll(/([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) attrs[a[1]!] = decodeEntities(a[2] ?? a[3] ?? '');
      const node: XmlNode = { name: m[2], attrs, children: [], text: '' };
      top.children.push(node);
      if (!m[4]) stack.push(node);
    } else if (m[5]) {
      top.text += decodeEntities(m[5]);
    }
  }
  if (stack.length > 1) throw new Error(`XML: <${stack[stack.length - 1]!.name}> is never closed`);
  return root;
}

const xkid = (n: XmlNode | undefined, name: string) => n?.children.find((c) => c.name === name);
/** Text at a path, trimmed (netdata's 580 capture pads values with spaces: `<power_draw> N/A </power_draw>`). */
const xval = (n: XmlNode | undefined, ...path: string[]) => { let c = n; for (const p of path) c = xkid(c, p); return c?.text.trim(); };

/** `nvidia-smi -q -x`, across its schema drift: <power_readings> (≤ 530), <gpu_power_readings> (535+), average/instant (570+). */
export function parseQueryXml(text: string): NvGpuFacts[] {
  const log = xkid(parseXml(text), 'nvidia_smi_log');
  if (!log) throw new Error('not an nvidia-smi XML report (no <nvidia_smi_log>)');
  const driverVersion = present(xval(log, 'driver_version'));
  return log.children.filter((c) => c.name === 'gpu').map((g) => {
    const power = xkid(g, 'gpu_power_readings') ?? xkid(g, 'power_readings');
    const facts: NvGpuFacts = {
      busId: g.attrs.id,
      name: present(xval(g, 'product_name')),
      architecture: present(xval(g, 'product_architecture')),
      uuid: present(xval(g, 'uuid')),
      serial: present(xval(g, 'serial')),
      vbios: present(xval(g, 'vbios_version')),
      driverVersion,
      memoryTotalMiB: parseNumber(xval(g, 'fb_memory_usage', 'total')),
      powerDrawW: parseNumber(xval(power, 'power_draw')),
      averagePowerDrawW: parseNumber(xval(power, 'average_power_draw')),
      instantPowerDrawW: parseNumber(xval(power, 'instant_power_draw')),
      powerLimitW: parseNumber(xval(power, 'current_power_limit') ?? xval(power, 'enforced_power_limit') ?? xval(power, 'power_limit')),
      defaultPowerLimitW: parseNumber(xval(power, 'default_power_limit')),
      migMode: present(xval(g, 'mig_mode', 'current_mig')),
      migDevices: (xkid(g, 'mig_devices')?.children ?? []).filter((c) => c.name === 'mig_device').map((m) => ({
        index: parseNumber(xval(m, 'index')), gpuInstanceId: parseNumber(xval(m, 'gpu_instance_id')), computeInstanceId: parseNumber(xval(m, 'compute_instance_id')),
        memoryMiB: parseNumber(xval(m, 'fb_memory_usage', 'total')),
      })),
    };
    return stripUndefined(facts);
  });
}

function stripUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

// ───────────────────────────── sensor semantics ─────────────────────────────

export type PowerField = 'power.draw.instant' | 'power.draw' | 'power.draw.average';
export const POWER_FIELDS: readonly PowerField[] = ['power.draw.instant', 'power.draw', 'power.draw.average'];

/** GA100 (A100, A30, A800): compute capability 8.0; its power.draw is instantaneous although it is Ampere. */
const GA100_NAME = /\b(A100|A800|A30|PG506)\b/i;

/**
 * Is `power.draw` a 1 s average on this GPU? Ampere and newer except GA100 (help text of `--help-query-gpu`).
 * Decided from the compute capability where the driver prints it, else the architecture, else the name;
 * undefined when nothing tells.
 */
export function powerDrawIsAveraged(g: { computeCap?: number; architecture?: string; name?: string }): boolean | undefined {
  if (g.computeCap !== undefined) return g.computeCap >= 8 && g.computeCap !== 8.0;
  const arch = g.architecture?.toLowerCase();
  if (arch) {
    if (/kepler|maxwell|pascal|volta|turing/.test(arch)) return false;
    if (arch.includes('ampere')) return !(g.name && GA100_NAME.test(g.name));
    return true; // Ada Lovelace, Hopper, Blackwell and whatever comes next average
  }
  if (g.name) {
    if (GA100_NAME.test(g.name)) return false;
    if (/\b(H100|H200|H800|H20|GH200|B100|B200|GB200|B300|L40S?|L4|L20|A10G?|A16|A2|A40|RTX [345]0\d0|RTX A\d+|RTX [456]000 Ada)\b/i.test(g.name)) return true;
    if (/\b(V100|T4|P100|P40|P4|K80|RTX 20\d0|GTX|Quadro [PT]\d+|TITAN [VX])\b/i.test(g.name)) return false;
  }
  return undefined;
}

/** A100/H100-class parts whose sensor observes only about 25 ms of every 100 ms (arXiv 2312.02741). */
function partTimeSensor(g: { computeCap?: number; architecture?: string; name?: string }): boolean {
  return g.computeCap === 8.0 || g.computeCap === 9.0 || /hopper/i.test(g.architecture ?? '') || /\b(A100|H100|H200|H800|GH200)\b/i.test(g.name ?? '');
}

/** What one reading of `field` means on this GPU. */
export function semanticsFor(field: PowerField, g: { computeCap?: number; architecture?: string; name?: string }): Semantics {
  const duty = partTimeSensor(g) ? { dutyCyclePct: 25 } : {};
  if (field === 'power.draw.instant') {
    return { kind: 'instantaneous', updatePeriodMs: 100, ...duty, field, note: 'instantaneous board power, refreshed about every 100 ms whatever the polling rate' };
  }
  if (field === 'power.draw.average') {
    return { kind: 'windowed-average', averagingWindowMs: 1000, updatePeriodMs: 100, ...duty, field, note: '1 s average board power' };
  }
  const avg = powerDrawIsAveraged(g);
  if (avg === false) return { kind: 'instantaneous', updatePeriodMs: 100, ...duty, field, note: 'power.draw is instantaneous on this GPU (pre-Ampere or GA100)' };
  return {
    kind: 'windowed-average', averagingWindowMs: 1000, updatePeriodMs: 100, ...duty, field,
    note: avg === undefined ? 'power.draw assumed to be a 1 s average (architecture unknown; Ampere and newer except GA100 average)' : 'power.draw is a 1 s average on Ampere and newer except GA100',
  };
}

const KIND_RANK: Record<Semantics['kind'], number> = { 'energy-counter': 3, instantaneous: 2, 'windowed-average': 1, estimated: 0 };

/** The source-level semantics: the weakest of the devices' (driver.ts: mixed devices report the weakest). */
export function weakestSemantics(all: Semantics[]): Semantics {
  return [...all].sort((a, b) => KIND_RANK[a.kind] - KIND_RANK[b.kind] || (b.averagingWindowMs ?? 0) - (a.averagingWindowMs ?? 0))[0]!;
}

/**
 * The power field to sample on one GPU, from a probe row (field → cell): the first of POWER_FIELDS that holds a
 * number, or the forced one if it does. A field that is absent, [N/A] or [Not Supported] is not a power sensor.
 */
export function choosePowerField(row: Record<string, string | undefined>, forced?: PowerField): PowerField | undefined {
  const supported = POWER_FIELDS.filter((f) => nvNumber(row[f]) !== undefined);
  return forced ? (supported.includes(forced) ? forced : undefined) : supported[0];
}

// ───────────────────────────── probe ─────────────────────────────

const STATIC_FIELDS = ['index', 'name', 'uuid', 'pci.bus_id', 'driver_version', 'serial', 'vbios_version', 'memory.total', 'power.limit', 'enforced.power.limit', 'power.default_limit', 'compute_cap', 'mig.mode.current'];
const DIAG_FIELDS = ['temperature.gpu', 'clocks.sm', 'clocks.mem', 'utilization.gpu', 'memory.used'];
const REASON_FIELDS = ['clocks_event_reasons.active', 'clocks_throttle_reasons.active'];

/** Which field nvidia-smi rejected: `Field "power.draw.instant" is not a valid field to query.` */
export function invalidField(output: string): string | undefined {
  return /Field "([^"]+)" is not a valid field to query/.exec(output)?.[1];
}

export interface NvDevicePlan {
  index: number;
  field: PowerField;
  /** Present when the GPU is in MIG mode: its slices as `-L` lists them (possibly none). */
  mig?: NvMigSlice[];
}
export interface NvPrivate { exe: string; devices: NvDevicePlan[]; diagFields: string[]; reasonField?: string }

function classify(r: ProcessResult, exe: string): Extract<ProbeResult, { state: 'unavailable' }> | undefined {
  const out = `${r.stdout}\n${r.stderr}`;
  if (r.spawnError?.code === 'EACCES' || /insufficient permissions|permission denied/i.test(out)) {
    return { state: 'unavailable', code: 'permission-denied', reason: `${exe}: permission denied${r.spawnError ? '' : ` (${lastLine(out)})`} — run as a user that may open /dev/nvidia*` };
  }
  if (r.spawnError) return { state: 'unavailable', code: 'not-installed', reason: `${exe} could not start (${r.spawnError.code})` };
  if (/No devices were found/i.test(out)) return { state: 'unavailable', code: 'no-devices', reason: 'nvidia-smi found no NVIDIA GPU' };
  if (/couldn't communicate with the NVIDIA driver|NVIDIA-SMI has failed|Driver\/library version mismatch/i.test(out)) {
    return { state: 'unavailable', code: 'error', reason: `nvidia-smi cannot talk to the driver: ${lastLine(out)} — load the NVIDIA kernel module or reboot after a driver update` };
  }
  if (r.timedOut) return { state: 'unavailable', code: 'error', reason: 'nvidia-smi did not answer within the probe timeout' };
  return undefined;
}

function lastLine(s: string): string {
  return s.trim().split('\n').filter((l) => l.trim()).pop()?.trim().slice(0, 200) ?? '';
}

const PROBE_TIMEOUT_MS = 20_000; // without persistence mode one call can take seconds per GPU

/** Run a header-ful query, dropping fields the driver rejects (older drivers lack power.draw.instant, ...). */
async function queryWithFallback(exe: string, wanted: string[], env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<{ csv?: NvCsv; asked: string[]; fail?: ProcessResult }> {
  let asked = [...wanted];
  for (let attempt = 0; attempt < wanted.length; attempt++) {
    const r = await runCommand(exe, [`--query-gpu=${asked.join(',')}`, '--format=csv,nounits'], { env: env as Record<string, string>, extendEnv: false, timeoutMs: PROBE_TIMEOUT_MS, signal });
    const bad = invalidField(`${r.stdout}\n${r.stderr}`);
    // drop exactly that name: its alias (clocks_throttle_reasons.* for clocks_event_reasons.*) may still work
    if (bad) { if (!asked.includes(bad)) break; asked = asked.filter((f) => f !== bad); continue; }
    if (r.exitCode !== 0 || r.spawnError) return { asked, fail: r };
    try {
      const csv = parseQueryCsv(r.stdout);
      if (csv.rows.length) return { csv, asked };
    } catch { /* fall through */ }
    return { asked, fail: r };
  }
  return { asked };
}

export async function probeNvidia(env: NodeJS.ProcessEnv, options: Record<string, string>, signal?: AbortSignal): Promise<ProbeResult> {
  const exe = options.path ?? (await findOnPath('nvidia-smi', env.PATH ?? ''));
  if (!exe) return { state: 'unavailable', code: 'not-installed', reason: 'nvidia-smi is not on PATH — install the NVIDIA driver, or point at it: --source nvidia-smi --source-opt path=/path/to/nvidia-smi' };
  const forced = options.field as PowerField | undefined;
  if (forced && !POWER_FIELDS.includes(forced)) return { state: 'unavailable', code: 'not-configured', reason: `field must be one of ${POWER_FIELDS.join(', ')}, got '${forced}'` };

  const q = await queryWithFallback(exe, [...STATIC_FIELDS, ...POWER_FIELDS, ...DIAG_FIELDS, ...REASON_FIELDS], env, signal);
  if (!q.csv) {
    if (q.fail) { const c = classify(q.fail, exe); if (c) return c; }
    // --query-gpu unusable: the XML report still lists the GPUs, to say why there is no reading
    const x = await runCommand(exe, ['-q', '-x'], { env: env as Record<string, string>, extendEnv: false, timeoutMs: PROBE_TIMEOUT_MS, signal });
    const c = classify(x, exe);
    if (c) return c;
    return { state: 'unavailable', code: 'error', reason: `nvidia-smi --query-gpu failed: ${lastLine(`${q.fail?.stdout ?? ''}\n${q.fail?.stderr ?? ''}`) || 'no output'}` };
  }
  const csv = q.csv;
  const rows = csv.rows.map((r) => rowObject(csv, r));
  // -L shows MIG instances (names and UUIDs); optional
  const list = await runCommand(exe, ['-L'], { env: env as Record<string, string>, extendEnv: false, timeoutMs: PROBE_TIMEOUT_MS, signal });
  const listed = list.exitCode === 0 ? parseGpuList(list.stdout) : [];
  // without compute_cap (drivers < 510) the XML report's product_architecture tells Ampere from Turing
  let xmlFacts: NvGpuFacts[] = [];
  if (!csv.fields.includes('compute_cap')) {
    const x = await runCommand(exe, ['-q', '-x'], { env: env as Record<string, string>, extendEnv: false, timeoutMs: PROBE_TIMEOUT_MS, signal });
    if (x.exitCode === 0) { try { xmlFacts = parseQueryXml(x.stdout); } catch { /* try the text report */ } }
    if (!xmlFacts.length) {
      const t = await runCommand(exe, ['-q'], { env: env as Record<string, string>, extendEnv: false, timeoutMs: PROBE_TIMEOUT_MS, signal });
      if (t.exitCode === 0) xmlFacts = parseQueryText(t.stdout); // architecture stays unknown if this fails too
    }
  }

  const devices: Device[] = [];
  const plans: NvDevicePlan[] = [];
  const sems: Semantics[] = [];
  const noPower: string[] = [];
  let driverVersion: string | undefined;
  for (const r of rows) {
    const index = nvNumber(r.index);
    if (index === undefined) continue;
    const name = r.name && !isMissing(r.name) ? r.name : `NVIDIA GPU ${index}`;
    const bus = r['pci.bus_id'];
    const xml = xmlFacts.find((x) => x.busId && bus && x.busId.toLowerCase() === bus.toLowerCase());
    const facts = { computeCap: nvNumber(r.compute_cap), architecture: xml?.architecture, name };
    const field = choosePowerField(r, forced);
    if (!field) noPower.push(`GPU ${index} (${name}): ${forced ? `${forced} is not supported; ` : ''}${POWER_FIELDS.filter((f) => csv.fields.includes(f)).map((f) => `${f}=${r[f]}`).join(', ') || 'no power field in this nvidia-smi'}`);
    driverVersion ??= r.driver_version && !isMissing(r.driver_version) ? r.driver_version : undefined;
    const mig = migSlices(r, listed.find((l) => l.index === index));
    const dev: Device = {
      id: `nvidia-smi:${index}`, index, vendor: 'NVIDIA', name, kind: 'accelerator',
      ...(present(r.uuid) ? { uuid: r.uuid } : {}),
      ...(present(r.serial) ? { serial: r.serial } : {}),
      ...(present(bus) ? { busId: bus } : {}),
      ...(present(r.driver_version) ? { driverVersion: r.driver_version } : {}),
      ...(present(r.vbios_version) ? { firmwareVersion: `VBIOS ${r.vbios_version}` } : {}),
      ...(nvNumber(r['memory.total']) !== undefined ? { memoryMiB: nvNumber(r['memory.total'])! } : {}),
      ...((nvNumber(r['enforced.power.limit']) ?? nvNumber(r['power.limit'])) !== undefined ? { powerLimitW: (nvNumber(r['enforced.power.limit']) ?? nvNumber(r['power.limit']))! } : {}),
      ...(nvNumber(r['power.default_limit']) !== undefined ? { tdpW: nvNumber(r['power.default_limit'])! } : {}),
      // MIG instances share the board's one power sensor: the device stays the physical GPU, its slices listed here
      ...(mig ? { partition: `MIG${mig.length ? `: ${mig.map((m) => m.profile).join(', ')}` : ' enabled'}`.slice(0, 128) } : {}),
    };
    if (field) {
      devices.push(dev);
      plans.push({ index, field, ...(mig ? { mig } : {}) });
      sems.push(semanticsFor(field, facts));
    }
  }
  if (rows.length === 0) return { state: 'unavailable', code: 'no-devices', reason: 'nvidia-smi listed no GPU' };
  if (devices.length === 0) return { state: 'unavailable', code: 'no-power-field', reason: `no power sensor through this CLI: ${noPower.join('; ')}` };
  const semantics = { ...weakestSemantics(sems) };
  const fields = [...new Set(plans.map((p) => p.field))];
  if (fields.length > 1) semantics.field = fields.join(' / ');
  const notes: string[] = [];
  if (noPower.length) notes.push(`left out, no power sensor through this CLI: ${noPower.join('; ')}`);
  if (devices.some((d) => d.partition?.startsWith('MIG'))) notes.push('MIG: power is measured per physical GPU; a workload on one MIG slice is charged the whole board');
  const reasonField = REASON_FIELDS.find((f) => csv.fields.includes(canonicalField(f)) && q.asked.includes(f));
  const priv: NvPrivate = { exe, devices: plans, diagFields: DIAG_FIELDS.filter((f) => q.asked.includes(f)), ...(reasonField ? { reasonField } : {}) };
  return {
    state: 'ok', devices, semantics,
    software: { ...(driverVersion ? { 'nvidia-driver': driverVersion } : {}) },
    ...(notes.length ? { note: notes.join('. ').slice(0, 2000) } : {}),
    private: priv,
  };
}

// ───────────────────────────── MIG ─────────────────────────────
/** The GPU's MIG slices when it is in MIG mode (mig.mode.current, or slices under it in `-L`); undefined when not. */
export function migSlices(row: Record<string, string | undefined>, listed: NvListedGpu | undefined): NvMigSlice[] | undefined {
  const slices = listed?.mig ?? [];
  return /enabled/i.test(row['mig.mode.current'] ?? '') || slices.length > 0 ? slices : undefined;
}

// ───────────────────────────── sampling ─────────────────────────────

/** The argv of the sampling loop: power first, diagnostics, and the event-reason mask last (its fixed width shows truncation). */
export function loopFields(p: NvPrivate): string[] {
  const power = [...new Set(p.devices.map((d) => d.field))];
  return ['timestamp', 'index', ...power, ...p.diagFields, ...(p.reasonField ? [p.reasonField] : [])];
}

export function loopArgs(p: NvPrivate, indices: number[], intervalMs: number): string[] {
  return [`--query-gpu=${loopFields(p).join(',')}`, '--format=csv,noheader,nounits', '-lms', String(Math.max(1, Math.round(intervalMs))), '-i', indices.join(',')];
}

/**
 * Maps the tool's wall-clock timestamps onto the run clock. The offset is the smallest (receive − stamp) seen so far:
 * a row can arrive late (pipe buffering) but never early. A jump of more than 2 s (clock step, DST) re-anchors.
 */
export class StampMapper {
  private offsetS: number | undefined;
  constructor(private readonly clock: Pick<RunClock, 'anchorWallMs'>) {}
  map(stampWallMs: number | undefined, receivedS: number): number {
    if (stampWallMs === undefined) return receivedS;
    const rawS = (stampWallMs - this.clock.anchorWallMs) / 1000;
    const d = receivedS - rawS;
    if (this.offsetS === undefined || d < this.offsetS || d - this.offsetS > 2) this.offsetS = d;
    return Math.min(receivedS, rawS + this.offsetS);
  }
}

export type NvRow = { ok: true; index: number; sample: Omit<Sample, 'sourceId' | 'deviceId' | 'tS'>; stampWallMs?: number } | { ok: false; why: string };

/** Parse one `noheader,nounits` row of the loop. Strict: wrong cell count, a malformed timestamp or a truncated last cell is rejected. */
export function parseLoopRow(line: string, fields: string[], powerFieldFor: (index: number) => PowerField | undefined): NvRow {
  const cells = splitCsvLine(line);
  if (cells.length !== fields.length) return { ok: false, why: `expected ${fields.length} cells, got ${cells.length}` };
  const o: Record<string, string> = {};
  fields.forEach((f, i) => { o[canonicalField(f)] = cells[i]!; });
  const stamp = parseNvTimestamp(o.timestamp ?? '');
  if (stamp === undefined) return { ok: false, why: `bad timestamp '${o.timestamp}'` };
  const index = nvNumber(o.index);
  if (index === undefined || !Number.isInteger(index)) return { ok: false, why: `bad index '${o.index}'` };
  const last = cells[cells.length - 1]!;
  const lastField = canonicalField(fields[fields.length - 1]!);
  if (lastField === 'clocks_event_reasons.active' && parseHexMask(last) === undefined && !isCompleteMissing(last)) return { ok: false, why: `truncated or malformed '${last}'` };
  for (const [i, f] of fields.entries()) {
    const c = cells[i]!;
    if (f === 'timestamp' || canonicalField(f) === 'clocks_event_reasons.active') continue;
    // nounits: a whole number or a missing spelling, nothing else ("5x2.33", "512." are damage, not values)
    if (!isCompleteMissing(c) && !/^[-+]?\d+(?:\.\d+)?$/.test(c)) return { ok: false, why: `'${c}' in ${f} is not a number` };
  }
  const field = powerFieldFor(index);
  const powerW = field ? nvNumber(o[field]) : undefined;
  const s: Omit<Sample, 'sourceId' | 'deviceId' | 'tS'> = {};
  if (powerW !== undefined) s.powerW = powerW;
  const temp = nvNumber(o['temperature.gpu']); if (temp !== undefined) s.temperatureC = temp;
  const sm = nvNumber(o['clocks.current.sm']); if (sm !== undefined) s.smClockMHz = sm;
  const mem = nvNumber(o['clocks.current.memory']); if (mem !== undefined) s.memClockMHz = mem;
  const util = nvNumber(o['utilization.gpu']); if (util !== undefined) s.utilizationPct = util;
  const used = nvNumber(o['memory.used']); if (used !== undefined) s.memoryUsedMiB = used;
  const mask = parseHexMask(o['clocks_event_reasons.active']);
  if (mask !== undefined) s.throttleReasons = decodeThrottleReasons(mask);
  return { ok: true, index, sample: s, stampWallMs: stamp };
}

export const nvidiaSmi: Driver = {
  meta: {
    id: 'nvidia-smi', title: 'NVIDIA GPUs through nvidia-smi', vendor: 'NVIDIA', scope: 'device', priority: 50,
    // the sensor refreshes about every 100 ms; polling faster only shortens the delay before a new value is seen
    defaultIntervalMs: 100, minIntervalMs: 10,
    visibilityEnv: ['CUDA_VISIBLE_DEVICES'],
    // nvidia-smi numbers GPUs in PCI bus order, CUDA by default fastest-first: make CUDA use the same order
    workloadEnv: { CUDA_DEVICE_ORDER: 'PCI_BUS_ID' },
    options: {
      path: 'path of nvidia-smi (default: found on PATH)',
      field: `power field to read: ${POWER_FIELDS.join(', ')} (default: the first the GPU supports, in that order)`,
      'hang-timeout-ms': 'restart nvidia-smi when it prints no reading for this long (default max(10000, 20 × interval))',
      stdbuf: 'run nvidia-smi under `stdbuf -oL` when stdbuf is on PATH, so rows are not held in a pipe buffer (default true)',
      mig: 'the MIG slice the workload runs on when the selected GPU is in MIG mode: its UUID (MIG-…, as `nvidia-smi -L` prints it) or GPU:DEVICE (0:1); default the GPU\'s first slice',
    },
  },
  async probe(ctx) {
    return probeNvidia(ctx.env, ctx.options, ctx.signal);
  },
  workloadVisibility(devices, probe, options) {
    return nvidiaVisibility(devices, (probe.private as NvPrivate).devices, options.mig);
  },
  async start(opts) {
    const p = opts.probe.private as NvPrivate;
    const wanted = opts.devices.map((d) => d.index ?? -1);
    const plans = new Map(p.devices.filter((d) => wanted.includes(d.index)).map((d) => [d.index, d]));
    const fields = loopFields(p);
    let file = p.exe;
    let args = loopArgs(p, [...plans.keys()], opts.intervalMs);
    if ((opts.options.stdbuf ?? 'true') !== 'false') {
      const stdbuf = await findOnPath('stdbuf', opts.env.PATH ?? '');
      if (stdbuf) { args = ['-oL', file, ...args]; file = stdbuf; }
    }
    const hang = Number(opts.options['hang-timeout-ms']);
    const mapper = new StampMapper(opts.clock);
    const lastTs = new Map<number, number>();
    const reported = new Set<number>();
    const sink: SamplerSink = opts.sink;
    const sup = superviseLoop({
      file, args, name: p.exe, env: opts.env, clock: opts.clock, signal: opts.signal, sink,
      expectedIntervalMs: opts.intervalMs,
      hangTimeoutMs: Number.isFinite(hang) && hang > 0 ? hang : Math.max(10_000, 20 * opts.intervalMs),
      onLine: (line, tS, truncated) => {
        if (truncated) return false;
        const r = parseLoopRow(line, fields, (i) => plans.get(i)?.field);
        if (!r.ok || !plans.has(r.index)) return false;
        if (r.sample.powerW === undefined) {
          // [N/A] / [Not Supported] / [GPU is lost]: no reading, never 0 W. The row itself is well formed — the tool
          // is alive, so this is not a hang to restart for; the missing time shows up as a gap in the analysis.
          if (!reported.has(r.index)) { reported.add(r.index); sink.note(`nvidia-smi printed no ${plans.get(r.index)!.field} value for GPU ${r.index}: no reading (not 0 W)`); }
          return true;
        }
        let t = mapper.map(r.stampWallMs, tS);
        const prev = lastTs.get(r.index);
        if (prev !== undefined && t <= prev) t = prev + 1e-6; // one device's readings stay in order
        lastTs.set(r.index, t);
        sink.sample({ tS: t, sourceId: 'nvidia-smi', deviceId: `nvidia-smi:${r.index}`, ...r.sample });
        return true;
      },
    });
    return { command: sup.command, stop: () => sup.stop() };
  },
};
