// amd-smi (ROCm ≥ 6) with rocm-smi as the fallback: AMD Instinct and Radeon GPUs.
// Energy is read from the GPU's own energy accumulator where the tool exposes it (`amd-smi metric -E`,
// `rocm-smi --showenergycounter`): the counter difference over a window is the most faithful energy there is,
// whatever the polling rate. The CLI loops only in whole seconds (`-w INTERVAL` is a positive integer), and its
// JSON in watch mode is not a line stream, so the driver polls one-shot calls (lib/supervise.ts supervisePoll).
//
// Multi-die and partitioned parts (FORMATS.md §2, ROCm/amdsmi CHANGELOG 6.4.1):
//  - MI250X: the second die of each card prints "N/A (Secondary die)" (rocm-smi) / N/A (amd-smi) and a zero energy
//    counter; the first die's reading is the whole card's. The secondary gets no reading of its own — not 0 W, not a
//    copy of the card's.
//  - MI300X in DPX…CPX: each socket shows up as several logical GPUs with the same PCI bus/device and function .0,
//    .1, …; older amd-smi repeated the socket's power on every partition, newer prints N/A on all but the first.
//    Either way one socket is one power reading, taken from its first partition.
// When a workload uses any GPU of such a group, the group's reading is recorded once, under the first GPU of the
// group that the workload uses.
import type { Driver, ProbeResult } from './driver.js';
import { isMissing, parseNumber } from './driver.js';
import type { Device, Semantics } from '../results/types.gen.js';
import type { Sample } from '../results/samples.js';
import { findOnPath, runCommand, type ProcessResult } from '../lib/process.js';
import { supervisePoll } from '../lib/supervise.js';

// ───────────────────────────── values ─────────────────────────────

/** An amd-smi value: a number, `{"value": 10, "unit": "W"}`, "11 W", "55 °C", "N/A", "N/A (Secondary die)". */
export interface AmdValue { value?: number; unit?: string; secondaryDie?: boolean }

export function amdValue(v: unknown): AmdValue {
  if (typeof v === 'number') return Number.isFinite(v) ? { value: v } : {};
  if (v && typeof v === 'object' && 'value' in v) {
    const inner = amdValue((v as { value: unknown }).value);
    const unit = (v as { unit?: unknown }).unit;
    return { ...inner, ...(typeof unit === 'string' && unit ? { unit } : {}) };
  }
  if (typeof v !== 'string') return {};
  const t = v.trim();
  if (/secondary die/i.test(t)) return { secondaryDie: true };
  if (isMissing(t)) return {};
  const m = /^\(?([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*([^\d\s)][^)]*)?\)?$/.exec(t);
  if (!m) return {};
  return { value: Number(m[1]), ...(m[2] ? { unit: m[2].trim() } : {}) };
}

const ENERGY_UNIT_J: Record<string, number> = { J: 1, mJ: 1e-3, uJ: 1e-6, 'µJ': 1e-6, 'μJ': 1e-6, kJ: 1e3 };
const POWER_UNIT_W: Record<string, number> = { W: 1, mW: 1e-3, uW: 1e-6, 'µW': 1e-6 };

/** A value in joules, or undefined for an unknown unit (never guessed). */
export function toJoules(v: AmdValue, defaultUnit = 'J'): number | undefined {
  if (v.value === undefined) return undefined;
  const f = ENERGY_UNIT_J[v.unit ?? defaultUnit];
  return f === undefined ? undefined : v.value * f;
}

export function toWatts(v: AmdValue, defaultUnit = 'W'): number | undefined {
  if (v.value === undefined) return undefined;
  const f = POWER_UNIT_W[v.unit ?? defaultUnit];
  return f === undefined ? undefined : v.value * f;
}

// ───────────────────────────── amd-smi JSON and text ─────────────────────────────

export type AmdEntry = Record<string, unknown> & { gpu?: number };

/** The JSON in a tool's stdout, skipping warning lines printed before or after it. */
export function extractJson(text: string): unknown {
  const starts = [text.indexOf('['), text.indexOf('{')].filter((i) => i >= 0);
  if (!starts.length) throw new Error('no JSON in the output');
  const start = Math.min(...starts);
  const close = text[start] === '[' ? ']' : '}';
  const end = text.lastIndexOf(close);
  if (end < start) throw new Error('JSON is cut short');
  return JSON.parse(text.slice(start, end + 1));
}

/** `amd-smi … --json`: a bare list of `{"gpu": N, ...}` (ROCm 6.0–6.3) or `{"gpu_data": [...]}` (6.4+). */
export function parseAmdSmiJson(text: string): AmdEntry[] {
  const doc = extractJson(text);
  const list = Array.isArray(doc) ? doc : (doc as { gpu_data?: unknown }).gpu_data;
  if (!Array.isArray(list)) throw new Error('amd-smi JSON has neither a list nor gpu_data');
  return list.filter((e): e is AmdEntry => !!e && typeof e === 'object');
}

/**
 * `amd-smi <cmd>` human-readable output: `GPU: 0` (or `CPU:`/`CORE:`) blocks of indented `KEY: value` lines.
 * Returns the same shape as the JSON (lower-case keys, values left as strings such as "11 W").
 */
export function parseAmdSmiText(text: string): AmdEntry[] {
  const out: AmdEntry[] = [];
  let stack: Array<{ indent: number; obj: Record<string, unknown> }> = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!line.trim() || line.startsWith('$') || line.trim() === '...') continue;
    const top = /^(GPU|CPU|CORE):\s*(\d+)\s*$/.exec(line);
    if (top) {
      const e: AmdEntry = { [top[1]!.toLowerCase()]: Number(top[2]) };
      out.push(e);
      stack = [{ indent: -1, obj: e }];
      continue;
    }
    if (!stack.length) continue;
    const indent = line.length - line.trimStart().length;
    const m = /^\s*([^:]+?):\s*(.*)$/.exec(line);
    while (stack.length > 1 && stack[stack.length - 1]!.indent >= indent) stack.pop();
    const parent = stack[stack.length - 1]!.obj;
    if (!m) continue; // a wrapped list continuation line
    const key = m[1]!.trim().toLowerCase().replace(/\s+/g, '_');
    if (m[2] === '') { const o: Record<string, unknown> = {}; parent[key] = o; stack.push({ indent, obj: o }); } else parent[key] = m[2]!.trim();
  }
  return out;
}

const get = (o: unknown, ...path: string[]): unknown => { let c = o; for (const p of path) c = c && typeof c === 'object' ? (c as Record<string, unknown>)[p] : undefined; return c; };
const firstOf = (o: unknown, paths: string[][]): unknown => { for (const p of paths) { const v = get(o, ...p); if (v !== undefined) return v; } return undefined; };
const str = (v: unknown): string | undefined => (typeof v === 'string' && !isMissing(v) && v.trim() ? v.trim() : typeof v === 'number' ? String(v) : undefined);

/** One poll's reading of one GPU. */
export interface AmdReading {
  index: number;
  powerW?: number;
  energyJ?: number;
  /** The tool said so explicitly ("N/A (Secondary die)"). */
  secondaryDie?: boolean;
  temperatureC?: number;
  smClockMHz?: number;
  memClockMHz?: number;
  utilizationPct?: number;
  memoryUsedMiB?: number;
  throttleReasons?: string[];
}

const POWER_PATHS = [['power', 'socket_power'], ['power', 'current_socket_power'], ['power', 'average_socket_power']];
const ENERGY_PATHS = [['energy', 'total_energy_consumption'], ['energy', 'energy_accumulator']];

const VIOLATIONS: Array<[string, string]> = [
  ['ppt_violation_status', 'power_cap'], ['socket_thermal_violation_status', 'socket_thermal'], ['prochot_violation_status', 'prochot'],
  ['vr_thermal_violation_status', 'vr_thermal'], ['hbm_thermal_violation_status', 'hbm_thermal'],
];

function mib(v: AmdValue): number | undefined {
  if (v.value === undefined) return undefined;
  const u = (v.unit ?? 'MB').toUpperCase();
  return u === 'MB' || u === 'MIB' ? v.value : u === 'GB' || u === 'GIB' ? v.value * 1024 : u === 'B' ? v.value / 2 ** 20 : undefined;
}

/** `amd-smi metric [-p -E -t -c -u -m --throttle] [--json]` entries → readings. Missing values stay undefined. */
export function readingsFromAmdSmi(entries: AmdEntry[]): AmdReading[] {
  return entries.filter((e) => typeof e.gpu === 'number' || typeof e.gpu === 'string').map((e) => {
    const r: AmdReading = { index: Number(e.gpu) };
    const p = amdValue(firstOf(e, POWER_PATHS));
    if (p.secondaryDie) r.secondaryDie = true;
    const w = toWatts(p); if (w !== undefined) r.powerW = w;
    const j = toJoules(amdValue(firstOf(e, ENERGY_PATHS))); if (j !== undefined) r.energyJ = j;
    const t = amdValue(firstOf(e, [['temperature', 'hotspot'], ['temperature', 'junction'], ['temperature', 'edge']])).value; if (t !== undefined) r.temperatureC = t;
    const sm = amdValue(firstOf(e, [['clock', 'gfx_0', 'clk'], ['clock', 'gfx', 'clk'], ['clock', 'sclk', 'clk']])).value; if (sm !== undefined) r.smClockMHz = sm;
    const mc = amdValue(firstOf(e, [['clock', 'mem_0', 'clk'], ['clock', 'mem', 'clk'], ['clock', 'mclk', 'clk']])).value; if (mc !== undefined) r.memClockMHz = mc;
    const u = amdValue(firstOf(e, [['usage', 'gfx_activity'], ['usage', 'gfx_usage']])).value; if (u !== undefined) r.utilizationPct = u;
    const mu = mib(amdValue(firstOf(e, [['mem_usage', 'used_vram'], ['vram', 'used']]))); if (mu !== undefined) r.memoryUsedMiB = mu;
    const reasons: string[] = [];
    for (const [k, name] of VIOLATIONS) {
      const s = str(get(e, 'throttle', k));
      if (s && /^active$/i.test(s)) reasons.push(name);
    }
    const ts = str(get(e, 'power', 'throttle_status'));
    if (ts && /^throttled$/i.test(ts) && !reasons.length) reasons.push('throttled');
    if (get(e, 'throttle') !== undefined || ts) r.throttleReasons = reasons;
    return r;
  });
}

export interface AmdStatic {
  index: number;
  name?: string;
  busId?: string;
  uuid?: string;
  serial?: string;
  memoryMiB?: number;
  powerLimitW?: number;
  driverVersion?: string;
  firmwareVersion?: string;
  computePartition?: string;
  memoryPartition?: string;
  partitionId?: number;
}

/** `amd-smi static --json` (or `amd-smi list --json`) entries → static facts. */
export function staticFromAmdSmi(entries: AmdEntry[]): AmdStatic[] {
  return entries.filter((e) => e.gpu !== undefined).map((e) => {
    const serial = str(firstOf(e, [['asic', 'asic_serial'], ['board', 'product_serial'], ['board', 'serial_number']]));
    const s: AmdStatic = {
      index: Number(e.gpu),
      name: str(firstOf(e, [['asic', 'market_name'], ['board', 'product_name'], ['asic', 'name']])),
      busId: str(firstOf(e, [['bus', 'bdf'], ['bdf']])),
      uuid: str(firstOf(e, [['uuid'], ['asic', 'uuid']])),
      serial: serial && !/^(0x)?0*$/i.test(serial) ? serial : undefined,
      memoryMiB: mib(amdValue(firstOf(e, [['vram', 'size'], ['vram', 'total']]))),
      powerLimitW: toWatts(amdValue(firstOf(e, [['limit', 'socket_power'], ['limit', 'max_power'], ['limit', 'power'], ['limit', 'ppt0', 'max_power_limit']]))),
      driverVersion: str(firstOf(e, [['driver', 'version'], ['driver', 'driver_version']])),
      firmwareVersion: str(firstOf(e, [['vbios', 'version'], ['ifwi', 'version'], ['vbios', 'part_number']])),
      computePartition: str(firstOf(e, [['partition', 'accelerator_partition'], ['partition', 'compute_partition'], ['partition', 'current_compute_partition']])),
      memoryPartition: str(firstOf(e, [['partition', 'memory_partition'], ['partition', 'current_memory_partition']])),
      partitionId: amdValue(firstOf(e, [['partition', 'partition_id'], ['partition_id']])).value,
    };
    for (const k of Object.keys(s) as (keyof AmdStatic)[]) if (s[k] === undefined) delete s[k];
    return s;
  });
}

/** `amd-smi monitor …` / `--violation` table: a header of names, then one row per GPU; cells carry units ("248 W", "55 °C"). */
export function parseAmdMonitor(text: string): Array<Record<string, AmdValue & { raw: string }>> {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() && !l.startsWith('$') && l.trim() !== '...');
  const hi = lines.findIndex((l) => /^\s*GPU\s+[A-Z_]/.test(l));
  if (hi < 0) return [];
  const names = lines[hi]!.trim().split(/\s+/);
  const cellRe = /N\/A|True|False|[-+]?\d+(?:\.\d+)?(?:\/\s*\d+(?:\.\d+)?)?(?:\s(?:W|°C|C|%|MHz|GHz|MB|GB|mV|Mb\/s))?|\S+/g;
  const rows: Array<Record<string, AmdValue & { raw: string }>> = [];
  for (const l of lines.slice(hi + 1)) {
    const cells = l.trim().match(cellRe) ?? [];
    if (cells.length !== names.length || !/^\d+$/.test(cells[0]!)) continue;
    const row: Record<string, AmdValue & { raw: string }> = {};
    names.forEach((n, i) => { const raw = cells[i]!; row[n] = { ...(raw.includes('/') ? {} : amdValue(raw)), raw }; });
    rows.push(row);
  }
  return rows;
}

/** Flags listed by `amd-smi <cmd> --help` (to know whether this build has -E/--energy, --throttle, ...). */
export function parseHelpFlags(text: string): Set<string> {
  const flags = new Set<string>();
  for (const m of text.matchAll(/(?:^|[\s,[|])(--?[A-Za-z][\w-]*)/g)) flags.add(m[1]!);
  return flags;
}

// ───────────────────────────── rocm-smi ─────────────────────────────

export interface RocmCard { index: number; fields: Record<string, string> }

/** `rocm-smi … --json`: `{"card0": {...}, "system": {...}}`, every value a string, keys carrying units and colons. */
export function parseRocmSmiJson(text: string): { cards: RocmCard[]; system: Record<string, string> } {
  const doc = extractJson(text) as Record<string, Record<string, unknown>>;
  const cards: RocmCard[] = [];
  let system: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc)) {
    const fields: Record<string, string> = {};
    for (const [fk, fv] of Object.entries(v ?? {})) fields[fk] = String(fv);
    const m = /^card(\d+)$/i.exec(k);
    if (m) cards.push({ index: Number(m[1]), fields });
    else if (k === 'system') system = fields;
  }
  cards.sort((a, b) => a.index - b.index);
  return { cards, system };
}

/** Case-insensitive key lookup (rocm-smi spells "Card series" and "Card Series" in different versions). */
function field(f: Record<string, string>, ...keys: string[]): string | undefined {
  for (const k of keys) {
    if (f[k] !== undefined) return f[k];
    const hit = Object.keys(f).find((x) => x.toLowerCase() === k.toLowerCase());
    if (hit) return f[hit];
  }
  return undefined;
}

const ROCM_POWER_KEYS = ['Current Socket Graphics Package Power (W)', 'Average Graphics Package Power (W)', 'Average Socket Power (W)'];

export function readingsFromRocmSmi(cards: RocmCard[]): AmdReading[] {
  return cards.map(({ index, fields: f }) => {
    const r: AmdReading = { index };
    const p = amdValue(field(f, ...ROCM_POWER_KEYS));
    if (p.secondaryDie) r.secondaryDie = true;
    if (p.value !== undefined) r.powerW = p.value;
    const uj = amdValue(field(f, 'Accumulated Energy (uJ)')).value;
    if (uj !== undefined) r.energyJ = uj / 1e6;
    const t = amdValue(field(f, 'Temperature (Sensor junction) (C)', 'Temperature (Sensor edge) (C)')).value; if (t !== undefined) r.temperatureC = t;
    const sclk = amdValue(field(f, 'sclk clock speed:')).value; if (sclk !== undefined) r.smClockMHz = sclk;
    const mclk = amdValue(field(f, 'mclk clock speed:')).value; if (mclk !== undefined) r.memClockMHz = mclk;
    const use = amdValue(field(f, 'GPU use (%)')).value; if (use !== undefined) r.utilizationPct = use;
    const used = amdValue(field(f, 'VRAM Total Used Memory (B)')).value; if (used !== undefined) r.memoryUsedMiB = used / 2 ** 20;
    return r;
  });
}

export function staticFromRocmSmi(cards: RocmCard[], system: Record<string, string>): AmdStatic[] {
  return cards.map(({ index, fields: f }) => {
    const serial = str(field(f, 'Serial Number'));
    const s: AmdStatic = {
      index,
      // a name that is only a PCI id ("0x1002", ROCm 4.3) says nothing: try the next key
      name: ['Card Series', 'Device Name', 'Card SKU'].map((k) => str(field(f, k))).find((v) => v !== undefined && !/^0x[0-9a-f]+$/i.test(v)),
      busId: str(field(f, 'PCI Bus')),
      uuid: str(field(f, 'Unique ID')),
      serial: serial && serial !== '0' ? serial : undefined,
      memoryMiB: (() => { const b = amdValue(field(f, 'VRAM Total Memory (B)')).value; return b === undefined ? undefined : b / 2 ** 20; })(),
      powerLimitW: amdValue(field(f, 'Max Graphics Package Power (W)', 'Max Socket Power (W)')).value,
      driverVersion: str(field(system, 'Driver version', 'Driver Version')),
      firmwareVersion: str(field(f, 'VBIOS version')),
      computePartition: str(field(f, 'Compute Partition')),
      memoryPartition: str(field(f, 'Memory Partition')),
    };
    for (const k of Object.keys(s) as (keyof AmdStatic)[]) if (s[k] === undefined) delete s[k];
    return s;
  });
}

/** `rocm-smi` concise table (ROCm 6.x): device rows and the 20-character name line under each. */
export function parseRocmSmiConcise(text: string): Array<{ index: number; name?: string; powerW?: number; powerCapW?: number; temperatureC?: number; memoryPartition?: string; computePartition?: string }> {
  const out: ReturnType<typeof parseRocmSmiConcise> = [];
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\d+)\s+(?:\[[^\]]*\]\s+)?(\S+°C|N\/A)\s+(\S+W|N\/A)\s+(?:(\w+|N\/A),\s*(\w+|N\/A)\s+)?\S+\s+\S+\s+\S+\s+\S+\s+(\S+W|N\/A)\s/.exec(lines[i]!);
    if (!m) continue;
    const next = lines[i + 1] ?? '';
    const name = /^\s{4,}(\S.*?)\s*$/.test(next) && !/^\s*=/.test(next) ? next.trim() : undefined;
    const row: ReturnType<typeof parseRocmSmiConcise>[number] = { index: Number(m[1]) };
    const t = amdValue(m[2]!.replace('°C', '')).value; if (t !== undefined) row.temperatureC = t;
    const p = amdValue(m[3]).value; if (p !== undefined) row.powerW = p;
    const c = amdValue(m[6]).value; if (c !== undefined) row.powerCapW = c;
    if (m[4] && !isMissing(m[4])) row.memoryPartition = m[4];
    if (m[5] && !isMissing(m[5])) row.computePartition = m[5];
    if (name) row.name = name;
    out.push(row);
  }
  return out;
}

// ───────────────────────────── power groups ─────────────────────────────

export interface PowerGroup { primary: number; members: number[] }

/**
 * Which GPUs share one power reading. Partitions of one socket share PCI domain:bus:device (functions .0, .1, …)
 * or count up from partition_id 0; a die that says "Secondary die" (or has no power while the GPU before it, of the
 * same product, has) belongs to that card. Everything else is its own group.
 */
export function powerGroups(statics: AmdStatic[], first: AmdReading[]): PowerGroup[] {
  const byIndex = [...statics].sort((a, b) => a.index - b.index);
  const reading = new Map(first.map((r) => [r.index, r]));
  const groups: PowerGroup[] = [];
  const groupOf = new Map<number, PowerGroup>();
  const socketKey = (s: AmdStatic) => s.busId?.toLowerCase().replace(/\.[0-9a-f]$/, '');
  for (const s of byIndex) {
    const prev = groups[groups.length - 1];
    const prevStatic = prev ? byIndex.find((x) => x.index === prev.primary) : undefined;
    const partitioned = s.computePartition !== undefined && !/^SPX$/i.test(s.computePartition);
    const samePartitionedSocket = prev && prevStatic && partitioned && (
      (s.partitionId !== undefined && s.partitionId > 0) || (socketKey(s) !== undefined && socketKey(s) === socketKey(prevStatic)));
    const r = reading.get(s.index);
    const secondaryDie = prev && prevStatic && (r?.secondaryDie
      || (r?.powerW === undefined && (r?.energyJ ?? 0) === 0 && reading.get(prev.primary)?.powerW !== undefined && s.name !== undefined && s.name === prevStatic.name));
    if (samePartitionedSocket || secondaryDie) { prev!.members.push(s.index); groupOf.set(s.index, prev!); continue; }
    const g = { primary: s.index, members: [s.index] };
    groups.push(g);
    groupOf.set(s.index, g);
  }
  return groups;
}

/** For the GPUs a workload uses: which group primary to read, and under which used GPU to record it. */
export function reportingPlan(groups: PowerGroup[], used: number[]): Array<{ read: number; recordAs: number }> {
  const plan: Array<{ read: number; recordAs: number }> = [];
  for (const g of groups) {
    const mine = g.members.filter((m) => used.includes(m)).sort((a, b) => a - b);
    if (mine.length) plan.push({ read: g.primary, recordAs: mine[0]! });
  }
  return plan;
}

// ───────────────────────────── probe ─────────────────────────────

type Tool = 'amd-smi' | 'rocm-smi';

export interface AmdPrivate {
  tool: Tool;
  exe: string;
  groups: PowerGroup[];
  /** amd-smi metric flags this build accepts (beyond -p and --json). */
  extraFlags: string[];
  energy: boolean;
}

const PROBE_TIMEOUT_MS = 30_000; // amd-smi is a Python program; static on 8 GPUs takes seconds
const METRIC_FLAGS = ['-E', '-t', '-c', '-u', '-m', '--throttle'];
const ROCM_FLAGS = ['--showpower', '--showenergycounter', '-t', '-u', '--showmemuse', '-c'];
const ROCM_STATIC_FLAGS = ['--showproductname', '--showbus', '--showserial', '--showuniqueid', '--showdriverversion', '--showmaxpower', '--showmeminfo', 'vram', '--showvbios'];

function run(exe: string, args: string[], env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<ProcessResult> {
  return runCommand(exe, args, { env: env as Record<string, string>, extendEnv: false, timeoutMs: PROBE_TIMEOUT_MS, signal });
}

function failure(tool: string, r: ProcessResult): Extract<ProbeResult, { state: 'unavailable' }> {
  const out = `${r.stdout}\n${r.stderr}`;
  const tail = out.trim().split('\n').filter((l) => l.trim()).pop()?.trim().slice(0, 200) ?? '';
  if (r.spawnError?.code === 'EACCES' || /permission denied|Permission Error|not permitted/i.test(out)) return { state: 'unavailable', code: 'permission-denied', reason: `${tool}: permission denied (${tail}) — add the user to the render and video groups` };
  if (r.spawnError) return { state: 'unavailable', code: 'not-installed', reason: `${tool} could not start (${r.spawnError.code})` };
  if (/no (amd )?gpus? (found|detected)|No GPU|Unable to detect any GPU|amdgpu driver.*not (loaded|found)/i.test(out)) return { state: 'unavailable', code: 'no-devices', reason: `${tool} found no AMD GPU (${tail})` };
  return { state: 'unavailable', code: 'error', reason: `${tool} failed${r.timedOut ? ' (timed out)' : ` (exit ${r.exitCode})`}: ${tail || 'no output'}` };
}

function devicesFrom(statics: AmdStatic[], groups: PowerGroup[]): Device[] {
  return statics.map((s) => {
    const g = groups.find((x) => x.members.includes(s.index));
    const shared = g && g.members.length > 1;
    const part = [s.computePartition && !/^SPX$/i.test(s.computePartition) ? `${s.computePartition}${s.memoryPartition ? `/${s.memoryPartition}` : ''} partition` : undefined,
      shared ? (g.primary === s.index ? `power of GPUs ${g.members.join(', ')} read here` : `power read on GPU ${g.primary}`) : undefined].filter(Boolean).join('; ');
    return {
      id: `amd-smi:${s.index}`, index: s.index, vendor: 'AMD', name: s.name ?? `AMD GPU ${s.index}`, kind: 'accelerator' as const,
      ...(s.uuid ? { uuid: s.uuid } : {}), ...(s.serial ? { serial: s.serial } : {}), ...(s.busId ? { busId: s.busId } : {}),
      ...(s.driverVersion ? { driverVersion: s.driverVersion } : {}), ...(s.firmwareVersion ? { firmwareVersion: s.firmwareVersion } : {}),
      ...(s.memoryMiB !== undefined ? { memoryMiB: s.memoryMiB } : {}), ...(s.powerLimitW !== undefined ? { powerLimitW: s.powerLimitW } : {}),
      ...(part ? { partition: part.slice(0, 128) } : {}),
    };
  });
}

function semanticsFor(tool: Tool, energy: boolean, powerKey: string): Semantics {
  if (energy) {
    return {
      kind: 'energy-counter', counterResolutionJ: 15.259e-6,
      field: tool === 'amd-smi' ? 'energy.total_energy_consumption' : 'Accumulated Energy (uJ)',
      note: 'the GPU firmware energy accumulator (15.3 µJ steps); polled, so the edges of a window are interpolated between polls',
    };
  }
  // "Average Graphics Package Power" is the firmware's running average; MI300's socket power is the current value
  if (/current/i.test(powerKey)) return { kind: 'instantaneous', field: powerKey, note: 'current socket power, polled (no energy counter through this CLI)' };
  return { kind: 'windowed-average', averagingWindowMs: 1000, field: powerKey, note: 'average package power (window assumed 1 s), polled; no energy counter through this CLI' };
}

async function probeAmdSmi(exe: string, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<ProbeResult> {
  const help = await run(exe, ['metric', '--help'], env, signal);
  const flags = help.exitCode === 0 ? parseHelpFlags(help.stdout) : new Set<string>();
  // unknown help (an older build) → ask only for what every amd-smi has
  const extra = METRIC_FLAGS.filter((f) => flags.has(f) || (flags.size === 0 && f === '-E'));
  const st = await run(exe, ['static', '--json'], env, signal);
  if (st.exitCode !== 0) return failure('amd-smi', st);
  let statics: AmdStatic[];
  try { statics = staticFromAmdSmi(parseAmdSmiJson(st.stdout)); } catch (err) { return { state: 'unavailable', code: 'error', reason: `amd-smi static --json: ${(err as Error).message}` }; }
  if (!statics.length) return { state: 'unavailable', code: 'no-devices', reason: 'amd-smi listed no GPU' };
  let m = await run(exe, ['metric', '-p', ...extra, '--json'], env, signal);
  let used = extra;
  if (m.exitCode !== 0 && extra.length) { used = []; m = await run(exe, ['metric', '-p', '--json'], env, signal); }
  if (m.exitCode !== 0) return failure('amd-smi', m);
  let readings: AmdReading[];
  try { readings = readingsFromAmdSmi(parseAmdSmiJson(m.stdout)); } catch (err) { return { state: 'unavailable', code: 'error', reason: `amd-smi metric --json: ${(err as Error).message}` }; }
  const firstEntry = parseAmdSmiJson(m.stdout)[0];
  const powerKey = POWER_PATHS.find((p) => get(firstEntry, ...p) !== undefined)?.join('.') ?? 'power.socket_power';
  return finish('amd-smi', exe, statics, readings, used, powerKey, {});
}

async function probeRocmSmi(exe: string, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<ProbeResult> {
  // --showcomputepartition exists from ROCm 6.1; an older rocm-smi rejects the whole call, so ask again without it
  let st = await run(exe, [...ROCM_STATIC_FLAGS, '--showcomputepartition', '--showmemorypartition', '--json'], env, signal);
  if (st.exitCode !== 0 || !st.stdout.includes('{')) st = await run(exe, [...ROCM_STATIC_FLAGS, '--json'], env, signal);
  if (!st.stdout.includes('{')) return failure('rocm-smi', st);
  const m = await run(exe, [...ROCM_FLAGS, '--json'], env, signal);
  if (!m.stdout.includes('{')) return failure('rocm-smi', m);
  let parsedStatic, parsedMetric;
  try { parsedStatic = parseRocmSmiJson(st.stdout); parsedMetric = parseRocmSmiJson(m.stdout); } catch (err) { return { state: 'unavailable', code: 'error', reason: `rocm-smi --json: ${(err as Error).message}` }; }
  const statics = staticFromRocmSmi(parsedStatic.cards, parsedStatic.system);
  if (!statics.length) return { state: 'unavailable', code: 'no-devices', reason: 'rocm-smi listed no GPU' };
  const readings = readingsFromRocmSmi(parsedMetric.cards);
  const k = parsedMetric.cards.map((c) => ROCM_POWER_KEYS.find((key) => field(c.fields, key) !== undefined)).find(Boolean) ?? ROCM_POWER_KEYS[1]!;
  return finish('rocm-smi', exe, statics, readings, [], k, parsedStatic.system['Driver version'] ? { 'amdgpu-driver': parsedStatic.system['Driver version'] } : {});
}

function finish(tool: Tool, exe: string, statics: AmdStatic[], readings: AmdReading[], extraFlags: string[], powerKey: string, software: Record<string, string>): ProbeResult {
  const groups = powerGroups(statics, readings);
  const primaries = groups.map((g) => readings.find((r) => r.index === g.primary));
  // the counter is trusted only where every card's first GPU has one and it is not stuck at 0
  const energy = primaries.every((r) => r?.energyJ !== undefined && r.energyJ > 0);
  const measurable = groups.filter((g, i) => primaries[i]?.powerW !== undefined || (energy && primaries[i]?.energyJ !== undefined));
  if (!measurable.length) {
    const why = readings.map((r) => `GPU ${r.index}: ${r.secondaryDie ? 'N/A (Secondary die) and no card before it' : 'no power value'}`).join('; ');
    return { state: 'unavailable', code: 'no-power-field', reason: `no power sensor through this CLI (${tool}): ${why}` };
  }
  const devices = devicesFrom(statics, groups);
  const unmeasured = groups.filter((g) => !measurable.includes(g)).flatMap((g) => g.members);
  const notes = [
    tool === 'rocm-smi' ? 'amd-smi not found or not working; rocm-smi used' : '',
    groups.some((g) => g.members.length > 1) ? 'several GPUs share one power reading (secondary dies / partitions): it is recorded once, under the first of them the workload uses' : '',
    unmeasured.length ? `no power reading for GPU ${unmeasured.join(', ')}` : '',
  ].filter(Boolean);
  const priv: AmdPrivate = { tool, exe, groups: groups.filter((g) => measurable.includes(g)), extraFlags, energy };
  const driver = statics.find((s) => s.driverVersion)?.driverVersion;
  return {
    state: 'ok',
    devices: devices.filter((d) => !unmeasured.includes(d.index!)),
    semantics: semanticsFor(tool, energy, powerKey),
    software: { ...software, ...(driver ? { 'amdgpu-driver': driver } : {}) },
    ...(notes.length ? { note: notes.join('. ') } : {}),
    private: priv,
  };
}

export async function probeAmd(env: NodeJS.ProcessEnv, options: Record<string, string>, signal?: AbortSignal): Promise<ProbeResult> {
  const want = options.tool as Tool | undefined;
  if (want && want !== 'amd-smi' && want !== 'rocm-smi') return { state: 'unavailable', code: 'not-configured', reason: `tool must be amd-smi or rocm-smi, got '${want}'` };
  const amd = want === 'rocm-smi' ? undefined : options.path ?? (await findOnPath('amd-smi', env.PATH ?? ''));
  let first: ProbeResult | undefined;
  if (amd) {
    first = await probeAmdSmi(amd, env, signal);
    if (first.state === 'ok' || want === 'amd-smi') return first;
  }
  const rocm = want === 'amd-smi' ? undefined : options['rocm-smi-path'] ?? (await findOnPath('rocm-smi', env.PATH ?? ''));
  if (rocm) {
    const second = await probeRocmSmi(rocm, env, signal);
    if (second.state === 'ok' || !first) return second;
    return { ...second, reason: `amd-smi: ${first.state === 'unavailable' ? first.reason : ''}; rocm-smi: ${second.reason}` };
  }
  return first ?? { state: 'unavailable', code: 'not-installed', reason: 'neither amd-smi nor rocm-smi is on PATH — install ROCm (amd-smi), or point at it: --source amd-smi --source-opt path=/opt/rocm/bin/amd-smi' };
}

// ───────────────────────────── sampling ─────────────────────────────

export function pollArgs(p: AmdPrivate, read: number[]): string[] {
  return p.tool === 'amd-smi'
    ? ['metric', '-p', ...p.extraFlags, '--json', '-g', ...read.map(String)]
    : [...ROCM_FLAGS, '--json', '-d', ...read.map(String)];
}

export function parsePoll(p: AmdPrivate, stdout: string): AmdReading[] {
  if (p.tool === 'amd-smi') return readingsFromAmdSmi(parseAmdSmiJson(stdout));
  return readingsFromRocmSmi(parseRocmSmiJson(stdout).cards);
}

/** A call that takes longer than this is hung: killed, and recorded as a gap. */
function pollTimeoutMs(options: Record<string, string>, intervalMs: number): number {
  const t = Number(options['poll-timeout-ms']);
  return Number.isFinite(t) && t > 0 ? t : Math.max(10_000, 5 * intervalMs);
}

export const amdSmi: Driver = {
  meta: {
    id: 'amd-smi', title: 'AMD GPUs through amd-smi (rocm-smi as fallback)', vendor: 'AMD', scope: 'device',
    // an energy counter on the device beats a power sensor (nvidia-smi 50) and the host counters (rapl 20)
    priority: 60,
    // one call of this Python CLI takes a few hundred ms; the counter makes the rate matter only at window edges
    defaultIntervalMs: 1000, minIntervalMs: 250,
    visibilityEnv: ['HIP_VISIBLE_DEVICES', 'ROCR_VISIBLE_DEVICES'],
    options: {
      tool: 'amd-smi or rocm-smi (default: amd-smi, falling back to rocm-smi)',
      path: 'path of amd-smi (default: found on PATH)',
      'rocm-smi-path': 'path of rocm-smi (default: found on PATH)',
      'poll-timeout-ms': 'a call that takes longer is killed and recorded as a gap (default max(10000, 5 × interval))',
    },
  },
  probe(ctx) {
    return probeAmd(ctx.env, ctx.options, ctx.signal);
  },
  async start(opts) {
    const p = opts.probe.private as AmdPrivate;
    const plan = reportingPlan(p.groups, opts.devices.map((d) => d.index ?? -1));
    const recordAs = new Map(plan.map((x) => [x.read, x.recordAs]));
    const sup = supervisePoll({
      file: p.exe, args: pollArgs(p, plan.map((x) => x.read)), env: opts.env, clock: opts.clock, signal: opts.signal, sink: opts.sink,
      intervalMs: opts.intervalMs, timeoutMs: pollTimeoutMs(opts.options, opts.intervalMs),
      onOutput: (stdout, tS) => {
        let n = 0;
        for (const r of parsePoll(p, stdout)) {
          const as = recordAs.get(r.index);
          if (as === undefined) continue;
          const energyJ = p.energy && r.energyJ !== undefined && r.energyJ > 0 ? r.energyJ : undefined;
          if (r.powerW === undefined && energyJ === undefined) continue; // N/A is no reading, never 0 W
          const s: Sample = { tS, sourceId: 'amd-smi', deviceId: `amd-smi:${as}` };
          if (r.powerW !== undefined) s.powerW = r.powerW;
          if (energyJ !== undefined) s.energyJ = energyJ;
          for (const k of ['temperatureC', 'smClockMHz', 'memClockMHz', 'utilizationPct', 'memoryUsedMiB', 'throttleReasons'] as const) {
            if (r[k] !== undefined) (s as unknown as Record<string, unknown>)[k] = r[k];
          }
          opts.sink.sample(s);
          n++;
        }
        return n;
      },
    });
    return { command: sup.command, stop: () => sup.stop() };
  },
};
