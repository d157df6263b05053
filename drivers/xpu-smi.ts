// xpu-smi: Intel Data Center GPU Max / Flex (XPU Manager's daemon-less CLI).
// Sampling is one long-lived `xpu-smi dump -d <ids> -m <metrics> -i <seconds>` that prints a CSV row per device
// per interval. The screen interval is whole seconds (1–999, checked by the CLI); `--ims` (10–1000 ms) only
// writes to a file and stops as soon as its "press ESC" reader sees a closed stdin, so it cannot be driven
// from here. Metric 8, "GPU Energy Consumed (J)", is read as an energy counter, which makes the 1 s
// interval matter far less: energy = counter(t_end) − counter(t_start).
// Whether that column is a running total or the energy of the last interval is not documented (XPU Manager's
// Prometheus exporter reads the accumulated value; dump prints the stats "value"), so the driver looks at the
// first readings of each device and, when the values behave like per-interval amounts, sums them into its
// own running counter. Either way the samples carry a cumulative energyJ.
import { probeTool } from './cli-tool.js';
import type { Driver, ProbeContext, ProbeResult } from './driver.js';
import { isMissing, parseNumber } from './driver.js';
import type { Device } from '../results/types.gen.js';
import type { Sample } from '../results/samples.js';
import { findOnPath, type ProcessResult } from '../lib/process.js';
import { superviseLoop } from '../lib/supervise.js';

const ID = 'xpu-smi';

// ---------------------------------------------------------------------------------------------- discovery

export interface XpuDiscovered {
  id: number;
  /** "Key: Value" lines of the device's cell; a repeated key keeps its first value. */
  props: Record<string, string>;
  /** Firmware Name / Firmware Version pairs, in order. */
  firmware: Array<{ name: string; version: string }>;
}

/**
 * Parse the box table of `xpu-smi discovery` or `xpu-smi discovery -d N`:
 *   | 0         | Device Name: Intel(R) Data Center GPU Max 1550 |
 *   |           | PCI BDF Address: 0000:18:00.0                   |
 */
export function parseXpuDiscovery(text: string): XpuDiscovered[] {
  const out: XpuDiscovered[] = [];
  let cur: XpuDiscovered | undefined;
  let pendingFw: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!line.startsWith('|')) continue;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (cells.length < 2) continue;
    const [idCell, info] = [cells[0]!, cells.slice(1).join('|').trim()];
    if (/^\d+$/.test(idCell)) { cur = { id: Number(idCell), props: {}, firmware: [] }; out.push(cur); pendingFw = undefined; }
    else if (idCell !== '' || !cur) continue; // header row ("Device ID | Device Information")
    const m = /^([^:]+):\s*(.*)$/.exec(info);
    if (!m) continue;
    const key = m[1]!.trim(), value = m[2]!.trim();
    if (key === 'Firmware Name') { pendingFw = value; continue; }
    if (key === 'Firmware Version' && pendingFw !== undefined) { cur.firmware.push({ name: pendingFw, version: value }); pendingFw = undefined; continue; }
    if (!(key in cur.props)) cur.props[key] = value;
  }
  return out;
}

/** "14336.00 MiB" → 14336; "137438953472" (bytes, "(B)" keys) handled by the caller. */
function mibOf(v: string | undefined): number | undefined {
  if (isMissing(v)) return undefined;
  const n = parseNumber(v);
  if (n === undefined) return undefined;
  if (/GiB/i.test(v!)) return n * 1024;
  if (/MiB/i.test(v!)) return n;
  return undefined;
}

/** Static facts from a discovery entry (list view or detailed `-d N` view). */
export function xpuDevice(d: XpuDiscovered): Device & { index: number } {
  const p = d.props;
  const dev: Device & { index: number } = { id: `${ID}:${d.id}`, index: d.id, vendor: 'Intel', name: p['Device Name'] ?? 'Intel GPU', kind: 'accelerator' };
  const uuid = p.UUID ?? p['SOC UUID'];
  if (!isMissing(uuid)) dev.uuid = uuid;
  if (!isMissing(p['Serial Number']) && p['Serial Number'] !== 'unknown') dev.serial = p['Serial Number'];
  if (!isMissing(p['PCI BDF Address'])) dev.busId = p['PCI BDF Address'];
  if (!isMissing(p['Driver Version'])) dev.driverVersion = p['Driver Version'];
  const gfx = d.firmware.find((f) => f.name === 'GFX') ?? d.firmware[0];
  if (gfx && !isMissing(gfx.version)) dev.firmwareVersion = gfx.version;
  const mem = mibOf(p['Memory Physical Size']);
  if (mem !== undefined) dev.memoryMiB = mem;
  const tiles = parseNumber(p['Number of Tiles']);
  if (tiles !== undefined && tiles > 1) dev.partition = `${tiles} tiles, sampled as one device (device-level power is the card)`;
  return dev;
}

// ---------------------------------------------------------------------------------------------- dump

export type XpuColumn = 'timestamp' | 'deviceId' | 'tileId' | 'powerW' | 'energyJ' | 'smClockMHz' | 'temperatureC' | 'utilizationPct' | 'memoryUsedMiB';

/** Column positions of a dump header, and how many columns a row must have. */
export interface XpuColumns { width: number; pos: Partial<Record<XpuColumn, number>> }

/** Map a dump header to column positions. The wording changes between versions, so match by meaning. */
export function parseXpuDumpHeader(line: string): XpuColumns | undefined {
  const names = line.replace(/\r$/, '').split(',').map((c) => c.trim());
  if (names[0] !== 'Timestamp' || !names.includes('DeviceId')) return undefined;
  const cols: Partial<Record<XpuColumn, number>> = {};
  names.forEach((n, i) => {
    if (n === 'Timestamp') cols.timestamp = i;
    else if (n === 'DeviceId') cols.deviceId = i;
    else if (n === 'TileId') cols.tileId = i;
    else if (/^GPU Power \(W\)/.test(n)) cols.powerW = i;
    else if (/Energy Consumed \(J\)/.test(n)) cols.energyJ = i;
    else if (/^GPU Frequency \(MHz\)/.test(n)) cols.smClockMHz = i;
    else if (/^GPU Core Temperature/.test(n)) cols.temperatureC = i;
    else if (/^GPU Utilization \(%\)|^Average % utilization of all GPU Engines/.test(n)) cols.utilizationPct = i;
    else if (/^GPU Memory Used \(MiB\)/.test(n)) cols.memoryUsedMiB = i;
  });
  return { width: names.length, pos: cols };
}

export interface XpuRow {
  /** Seconds since local midnight of the row's "HH:MM:SS.mmm" timestamp (no date unless --date). */
  timeOfDayS?: number;
  timestamp: string;
  deviceId: number;
  tileId?: number;
  powerW?: number;
  energyJ?: number;
  smClockMHz?: number;
  temperatureC?: number;
  utilizationPct?: number;
  memoryUsedMiB?: number;
}

/** "23:48:25.043" or "2024-09-06 23:48:25.043" → seconds since midnight. */
export function xpuTimeOfDay(ts: string): number | undefined {
  const m = /(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)\s*$/.exec(ts.trim());
  if (!m) return undefined;
  return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
}

/** One dump data row; undefined for anything else (header, "^C", errors, a truncated row). */
export function parseXpuDumpRow(line: string, columns: XpuColumns): XpuRow | undefined {
  const cols = columns.pos;
  const cells = line.replace(/\r$/, '').split(',').map((c) => c.trim());
  if (cells.length !== columns.width || cols.deviceId === undefined || cols.timestamp === undefined) return undefined;
  const ts = cells[cols.timestamp]!;
  const tod = xpuTimeOfDay(ts);
  const dev = Number(cells[cols.deviceId]);
  if (tod === undefined || !Number.isInteger(dev) || cells[cols.deviceId] === '') return undefined;
  const row: XpuRow = { timestamp: ts, timeOfDayS: tod, deviceId: dev };
  if (cols.tileId !== undefined) { const t = parseNumber(cells[cols.tileId]); if (t !== undefined) row.tileId = t; }
  for (const k of ['powerW', 'energyJ', 'smClockMHz', 'temperatureC', 'utilizationPct', 'memoryUsedMiB'] as const) {
    const i = cols[k];
    if (i === undefined) continue;
    const v = parseNumber(cells[i]);
    if (v !== undefined) row[k] = v;
  }
  return row;
}

/** Parse a complete dump output (header line, then rows); lines that are not rows are skipped. */
export function parseXpuDump(text: string): { cols: XpuColumns; rows: XpuRow[] } | undefined {
  let cols: XpuColumns | undefined;
  const rows: XpuRow[] = [];
  for (const line of text.split('\n')) {
    const h = parseXpuDumpHeader(line);
    if (h) { cols = h; continue; }
    if (!cols) continue;
    const r = parseXpuDumpRow(line, cols);
    if (r) rows.push(r);
  }
  return cols ? { cols, rows } : undefined;
}

/**
 * `xpu-smi stats -d N` (one-shot key/value box table) → key → value, first line of each key only.
 * Used by the probe as a second opinion when the short dump printed no power yet (first rows can be N/A).
 */
export function parseXpuStats(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '').trimEnd();
    if (!line.startsWith('|') || !line.endsWith('|')) continue;
    const cells = line.slice(1, -1).split('|').map((c) => c.trim());
    if (cells.length < 2 || !cells[0] || cells[0] in out) continue;
    out[cells[0]] = cells.slice(1).join('|').trim();
  }
  return out;
}

/** `xpu-smi --version` → CLI version ("1.2.39.20240906"). */
export function parseXpuVersion(text: string): string | undefined {
  return /CLI:\s*\n\s*Version:\s*(\S+)/.exec(text)?.[1] ?? /Version:\s*(\S+)/.exec(text)?.[1];
}

// ---------------------------------------------------------------------------------------------- energy mode

export type EnergyMode = 'cumulative' | 'interval';

/**
 * Decide from the first readings of one device whether "GPU Energy Consumed (J)" is a running total or
 * per-interval: a running total grows by about power × Δt between rows; per-interval values hover around
 * power × Δt and barely change. Needs at least three readings.
 */
export function classifyEnergy(points: Array<{ tS: number; energyJ: number; powerW?: number }>): EnergyMode | undefined {
  if (points.length < 3) return undefined;
  let growth = 0, expected = 0, haveExpected = true;
  for (let i = 1; i < points.length; i++) {
    const d = points[i]!.energyJ - points[i - 1]!.energyJ;
    if (d < 0) return 'interval';
    growth += d;
    const p = points[i]!.powerW;
    if (p === undefined) haveExpected = false;
    else expected += p * (points[i]!.tS - points[i - 1]!.tS);
  }
  if (haveExpected && expected > 0) return growth >= 0.5 * expected ? 'cumulative' : 'interval';
  return points[points.length - 1]!.energyJ > points[0]!.energyJ ? 'cumulative' : 'interval';
}

/** Turns a device's energy readings into a cumulative counter; holds the first readings until the mode is known. */
export class EnergyTracker {
  private held: Sample[] = [];
  private mode: EnergyMode | undefined;
  private runningJ = 0;
  constructor(private readonly forced: EnergyMode | undefined, private readonly emit: (s: Sample) => void, private readonly onDecided?: (m: EnergyMode) => void) {
    this.mode = forced;
  }
  get decided(): EnergyMode | undefined { return this.mode; }
  push(s: Sample): void {
    if (s.energyJ === undefined) { if (this.mode || this.held.length === 0) this.emit(s); else this.held.push(s); return; }
    if (!this.mode) {
      this.held.push(s);
      const pts = this.held.filter((h) => h.energyJ !== undefined).map((h) => ({ tS: h.tS, energyJ: h.energyJ!, powerW: h.powerW }));
      const m = classifyEnergy(pts);
      if (m) this.decide(m);
      return;
    }
    this.emit(this.convert(s));
  }
  /** Release what is held (end of sampling before the mode was known: assume a running total). */
  flush(): void { if (!this.mode && this.held.length) this.decide('cumulative'); }
  private decide(m: EnergyMode) {
    this.mode = m;
    this.onDecided?.(m);
    const held = this.held;
    this.held = [];
    for (const h of held) this.emit(h.energyJ === undefined ? h : this.convert(h));
  }
  private convert(s: Sample): Sample {
    if (this.mode === 'cumulative') return s;
    this.runningJ += s.energyJ!;
    return { ...s, energyJ: this.runningJ };
  }
}

// ---------------------------------------------------------------------------------------------- driver

export const XPU_DEFAULT_METRICS = '0,1,2,3,8,18';

interface XpuPrivate { file: string; energy: boolean }

function failure(r: ProcessResult, what: string): Extract<ProbeResult, { state: 'unavailable' }> {
  const text = `${r.stderr}\n${r.stdout}`;
  if (r.spawnError?.code === 'EACCES' || /permission denied|not permitted|insufficient permission/i.test(text)) {
    return { state: 'unavailable', code: 'permission-denied', reason: `${what} was denied access (${text.trim().split('\n').pop()?.slice(0, 160) ?? ''}) — add the user to the render/video group or run as root` };
  }
  if (r.spawnError) return { state: 'unavailable', code: 'not-installed', reason: `${ID} could not start (${r.spawnError.code})` };
  if (r.timedOut) return { state: 'unavailable', code: 'error', reason: `${what} did not answer within the probe timeout` };
  const last = (r.stderr.trim() || r.stdout.trim()).split('\n').pop()?.slice(0, 200) ?? '';
  return { state: 'unavailable', code: 'error', reason: `${what} exited with code ${r.exitCode ?? r.signal}${last ? `: ${last}` : ''}` };
}

async function locate(ctx: ProbeContext): Promise<string | Extract<ProbeResult, { state: 'unavailable' }>> {
  const file = await findOnPath(ctx.options.path ?? ID, ctx.env.PATH ?? '');
  if (file) return file;
  return { state: 'unavailable', code: 'not-installed', reason: ctx.options.path ? `${ctx.options.path} is not an executable file` : `${ID} is not on PATH — install Intel XPU Manager (xpu-smi), or pass --source xpu-smi --source-opt path=/full/path/xpu-smi` };
}

function energyOption(v: string | undefined): EnergyMode | 'auto' | 'off' {
  if (v === 'cumulative' || v === 'interval' || v === 'off') return v;
  return 'auto';
}

export const xpuSmi: Driver = {
  meta: {
    id: ID, title: 'Intel Data Center GPU through xpu-smi', vendor: 'Intel', scope: 'device', priority: 60,
    defaultIntervalMs: 1000, minIntervalMs: 1000,
    visibilityEnv: ['ZE_AFFINITY_MASK'],
    options: {
      path: 'full path to xpu-smi (default: found on PATH)',
      metrics: `dump metric ids to sample (default ${XPU_DEFAULT_METRICS}: utilization, power, frequency, core temperature, energy, memory used)`,
      energy: 'auto (default), cumulative, interval or off: how to read metric 8 (GPU Energy Consumed)',
    },
  },
  async probe(ctx): Promise<ProbeResult> {
    const file = await locate(ctx);
    if (typeof file !== 'string') return file;
    const list = await probeTool(ctx, file, ['discovery'], 20_000);
    if (list.exitCode !== 0 || list.spawnError) return failure(list, 'xpu-smi discovery');
    const found = parseXpuDiscovery(list.stdout);
    if (found.length === 0) return { state: 'unavailable', code: 'no-devices', reason: 'xpu-smi discovery listed no devices' };
    // the detailed view adds driver, firmware and memory; a failure there only costs those facts
    const devices: Array<Device & { index: number }> = [];
    for (const d of found) {
      const detail = await probeTool(ctx, file, ['discovery', '-d', String(d.id)], 20_000);
      const full = detail.exitCode === 0 ? parseXpuDiscovery(detail.stdout).find((x) => x.id === d.id) : undefined;
      devices.push(xpuDevice(full ? { id: d.id, props: { ...d.props, ...full.props }, firmware: full.firmware } : d));
    }
    // one short dump proves that power (and the energy counter) are readable; the first row may still be N/A
    const ids = devices.map((d) => d.index).join(',');
    const dump = await probeTool(ctx, file, ['dump', '-d', ids, '-m', '1,8', '-i', '1', '-n', '2'], 20_000);
    if (dump.exitCode !== 0 || dump.spawnError) return failure(dump, 'xpu-smi dump');
    const parsed = parseXpuDump(dump.stdout);
    if (!parsed) return { state: 'unavailable', code: 'error', reason: `xpu-smi dump printed no header: ${dump.stdout.trim().split('\n')[0]?.slice(0, 160) ?? ''}` };
    let hasPower = parsed.rows.some((r) => r.powerW !== undefined);
    if (!hasPower) {
      const st = await probeTool(ctx, file, ['stats', '-d', String(devices[0]!.index)], 20_000);
      hasPower = st.exitCode === 0 && parseNumber(parseXpuStats(st.stdout)['GPU Power (W)']) !== undefined;
    }
    const hasEnergy = parsed.rows.some((r) => r.energyJ !== undefined) && energyOption(ctx.options.energy) !== 'off';
    if (!hasPower && !hasEnergy) return { state: 'unavailable', code: 'no-power-field', reason: 'no power sensor through this CLI' };
    const version = await probeTool(ctx, file, ['--version'], 10_000);
    const cliVersion = version.exitCode === 0 ? parseXpuVersion(version.stdout) : undefined;
    return {
      state: 'ok', devices,
      semantics: hasEnergy
        ? { kind: 'energy-counter', field: 'GPU Energy Consumed (J)', counterResolutionJ: 0.01, updatePeriodMs: 1000, note: 'xpu-smi dump metric 8 (two decimals, J); per-interval values are summed into a running counter. Power (metric 1) is the average over each dump interval.' }
        : { kind: 'windowed-average', field: 'GPU Power (W)', averagingWindowMs: 1000, updatePeriodMs: 1000, note: 'xpu-smi dump metric 1: average power over each dump interval (no energy counter on this device)' },
      software: { ...(cliVersion ? { 'xpu-smi': cliVersion } : {}), ...(devices[0]?.driverVersion ? { 'GPU driver': devices[0].driverVersion } : {}) },
      private: { file, energy: hasEnergy } satisfies XpuPrivate,
    };
  },
  async start(opts) {
    const priv = opts.probe.private as XpuPrivate;
    const seconds = Math.min(999, Math.max(1, Math.round(opts.intervalMs / 1000)));
    const metrics = (opts.options.metrics ?? XPU_DEFAULT_METRICS).replace(/\s+/g, '');
    const mode = energyOption(opts.options.energy);
    const wanted = new Map(opts.devices.map((d) => [d.index ?? -1, d.id]));
    const trackers = new Map<string, EnergyTracker>();
    const emit = (s: Sample) => opts.sink.sample(s);
    const tracker = (deviceId: string) => {
      let t = trackers.get(deviceId);
      if (!t) {
        t = new EnergyTracker(mode === 'cumulative' || mode === 'interval' ? mode : undefined, emit,
          (m) => opts.sink.note(`${ID}: ${deviceId} energy column read as ${m === 'cumulative' ? 'a running total' : 'per-interval amounts (summed here)'}`));
        trackers.set(deviceId, t);
      }
      return t;
    };
    let cols: XpuColumns | undefined;
    // all rows of one dump iteration share a timestamp: stamp them with the receipt time of the first
    let lastStamp = '', stampS = 0;
    const sup = superviseLoop({
      file: priv.file,
      args: ['dump', '-d', opts.devices.map((d) => d.index ?? 0).join(','), '-m', metrics, '-i', String(seconds)],
      env: opts.env, clock: opts.clock, signal: opts.signal, sink: opts.sink,
      expectedIntervalMs: seconds * 1000,
      onStart: () => { cols = undefined; lastStamp = ''; },
      onLine: (line, tS, truncated) => {
        if (truncated) return false;
        const h = parseXpuDumpHeader(line);
        if (h) { cols = h; return true; }
        if (!cols) return false;
        const row = parseXpuDumpRow(line, cols);
        if (!row) return false;
        if (row.timestamp !== lastStamp) { lastStamp = row.timestamp; stampS = tS; }
        const deviceId = wanted.get(row.deviceId);
        if (!deviceId || row.tileId !== undefined) return true;
        const s: Sample = { tS: stampS, sourceId: ID, deviceId };
        for (const k of ['powerW', 'energyJ', 'smClockMHz', 'temperatureC', 'utilizationPct', 'memoryUsedMiB'] as const) {
          if (row[k] !== undefined && !(k === 'energyJ' && (!priv.energy || mode === 'off'))) s[k] = row[k];
        }
        tracker(deviceId).push(s);
        return true;
      },
    });
    return {
      command: sup.command,
      stop: async () => { await sup.stop(); for (const t of trackers.values()) t.flush(); },
    };
  },
};
