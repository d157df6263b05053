// hy-smi: Hygon DCU (HCU) accelerators, DTK's rocm-smi descendant. The concise table is polled: no loop
// option and no documented energy counter. Its columns are whitespace separated and the set changed between
// DTK releases (Dec%/Enc% added; old DTK's rocm-smi says "DCU" and has a Fan column), so columns are found
// from the header line. Units are glued to the numbers ("80.0W", "50.0C", "30.0c"); rows carry trailing
// spaces. AvgPwr is an averaged reading (the window is not documented).
// Static facts beyond the table come from the rocm-smi-style JSON view (`--json`), best effort.
import type { Driver, ProbeContext, ProbeResult } from './driver.js';
import { toolFailure, locateTool, pollTable, probeTool } from './cli-tool.js';
import { isMissing, parseNumber } from './driver.js';
import type { Device } from '../results/types.gen.js';
import type { ProcessResult } from '../lib/process.js';

const ID = 'hy-smi';

export interface HyRow {
  index: number;
  temperatureC?: number;
  powerW?: number;
  powerCapW?: number;
  perf?: string;
  vramPct?: number;
  utilizationPct?: number;
  mode?: string;
}

/** Parse the concise table of `hy-smi` (or old DTK `rocm-smi`): header "HCU Temp AvgPwr ..." then one row per device. */
export function parseHySmi(text: string): HyRow[] {
  const rows: HyRow[] = [];
  let cols: string[] | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '').trim();
    if (!line) continue;
    if (/^=+/.test(line)) { if (cols && rows.length) cols = undefined; continue; }
    const tok = line.split(/\s+/);
    if (/^(HCU|DCU|GPU)$/.test(tok[0]!) && tok.includes('Temp')) { cols = tok; continue; }
    if (!cols || tok.length !== cols.length || !/^\d+$/.test(tok[0]!)) continue;
    const row: HyRow = { index: Number(tok[0]) };
    cols.forEach((c, i) => {
      const v = tok[i]!;
      const n = parseNumber(v);
      switch (c) {
        case 'Temp': if (n !== undefined) row.temperatureC = n; break;
        case 'AvgPwr': case 'Power': case 'Pwr': if (n !== undefined) row.powerW = n; break;
        case 'PwrCap': if (n !== undefined) row.powerCapW = n; break;
        case 'Perf': if (!isMissing(v)) row.perf = v; break;
        case 'VRAM%': if (n !== undefined) row.vramPct = n; break;
        case 'HCU%': case 'DCU%': case 'GPU%': if (n !== undefined) row.utilizationPct = n; break;
        case 'Mode': if (!isMissing(v)) row.mode = v; break;
      }
    });
    rows.push(row);
  }
  return rows;
}

export interface HyStatic { name?: string; serial?: string; busId?: string; driverVersion?: string; firmwareVersion?: string; memoryMiB?: number; powerCapW?: number }

/**
 * Static facts from `hy-smi ... --json`, which follows rocm-smi's layout: {"card0": {"Key": "value", ...},
 * "system": {...}}. Key spellings differ between releases, so they are matched loosely; anything not
 * recognised is ignored. Returns an empty map for text that is not that JSON.
 */
export function parseHySmiJson(text: string): Map<number, HyStatic> {
  const out = new Map<number, HyStatic>();
  let obj: unknown;
  try { obj = JSON.parse(text.slice(text.indexOf('{'))); } catch { return out; }
  if (!obj || typeof obj !== 'object') return out;
  const sys = (obj as Record<string, unknown>).system as Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    const m = /^(?:card|hcu|dcu)\[?(\d+)\]?$/i.exec(k);
    if (!m || !v || typeof v !== 'object') continue;
    const s: HyStatic = {};
    for (const [key, rawVal] of Object.entries({ ...(sys ?? {}), ...(v as Record<string, unknown>) })) {
      const val = String(rawVal).trim();
      if (isMissing(val)) continue;
      const kl = key.toLowerCase();
      if (/^(card series|card model|product name|card name)$/.test(kl)) s.name ??= val;
      else if (/serial/.test(kl)) s.serial = val;
      else if (/pci bus|bus id|^bdf$/.test(kl)) s.busId = val;
      else if (/driver version/.test(kl)) s.driverVersion = val;
      else if (/vbios/.test(kl)) s.firmwareVersion = val;
      else if (/vram total memory \(b\)/.test(kl)) { const b = Number(val); if (Number.isFinite(b)) s.memoryMiB = b / 1048576; }
      else if (/max graphics package power|power cap|max power/.test(kl)) { const w = parseNumber(val); if (w !== undefined) s.powerCapW = w; }
    }
    out.set(Number(m[1]), s);
  }
  return out;
}

export function hyDevice(r: HyRow, s: HyStatic | undefined): Device & { index: number } {
  const d: Device & { index: number } = { id: `${ID}:${r.index}`, index: r.index, vendor: 'Hygon', name: s?.name ?? 'Hygon DCU', kind: 'accelerator' };
  if (s?.serial) d.serial = s.serial;
  if (s?.busId) d.busId = s.busId;
  if (s?.driverVersion) d.driverVersion = s.driverVersion;
  if (s?.firmwareVersion) d.firmwareVersion = s.firmwareVersion;
  if (s?.memoryMiB !== undefined) d.memoryMiB = s.memoryMiB;
  const cap = r.powerCapW ?? s?.powerCapW;
  if (cap !== undefined) d.powerLimitW = cap;
  return d;
}

/** Asked for at probe time; a release that rejects one of these only loses the static facts. */
export const HY_STATIC_ARGS = ['--showproductname', '--showserial', '--showbus', '--showdriverversion', '--showvbios', '--showmeminfo', 'vram', '--json'];

interface HyPrivate { file: string }

const failure = (r: ProcessResult) => toolFailure('hy-smi', r, 'add the user to the video/render group, or run as root');

const locate = (ctx: ProbeContext) => locateTool(ctx, ID, 'hy-smi is not on PATH or in /opt/hyhal/bin — install Hygon DTK / hyhal, or pass --source hy-smi --source-opt path=/full/path/hy-smi', ['/opt/hyhal/bin']);

export const hySmi: Driver = {
  meta: {
    id: ID, title: 'Hygon DCU through hy-smi', vendor: 'Hygon', scope: 'device', priority: 50,
    defaultIntervalMs: 500, minIntervalMs: 100,
    visibilityEnv: ['HIP_VISIBLE_DEVICES'],
    options: { path: 'full path to hy-smi (default: PATH, then /opt/hyhal/bin)' },
  },
  async probe(ctx): Promise<ProbeResult> {
    const file = await locate(ctx);
    if (typeof file !== 'string') return file;
    const r = await probeTool(ctx, file);
    if (r.exitCode !== 0 || r.spawnError) return failure(r);
    const rows = parseHySmi(r.stdout);
    if (rows.length === 0) return { state: 'unavailable', code: 'no-devices', reason: 'hy-smi listed no DCUs' };
    if (rows.every((x) => x.powerW === undefined)) return { state: 'unavailable', code: 'no-power-field', reason: 'no power sensor through this CLI' };
    const js = await probeTool(ctx, file, HY_STATIC_ARGS);
    const statics = js.exitCode === 0 ? parseHySmiJson(js.stdout) : new Map<number, HyStatic>();
    const devices = rows.map((x) => hyDevice(x, statics.get(x.index)));
    return {
      state: 'ok', devices,
      semantics: { kind: 'windowed-average', field: 'AvgPwr', note: 'hy-smi "AvgPwr": an averaged reading whose window Hygon does not document, so no lag correction is applied; polled' },
      software: { ...(devices[0]?.driverVersion ? { 'Hygon driver': devices[0].driverVersion } : {}) },
      private: { file } satisfies HyPrivate,
    };
  },
  async start(opts) {
    return pollTable(opts, ID, (opts.probe.private as HyPrivate).file, (stdout) => parseHySmi(stdout));
  },
};
