// Reads a run's raw samples file (results/samples.ts format) for the power-over-time chart, its SM clock and
// temperature panels and throttled band, and the per-device telemetry rows. The only file the report reads besides
// the result files themselves; a missing or unreadable file is a note in the report, never a failure.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Diagnostics } from '../results/types.gen.js';
import { DiagnosticsFold, type TelemetryReading } from '../results/diagnostics.js';
import type { Interval, PowerTrace, Series } from './charts.js';
import { POWER_CHART_WIDTH_PX, reduceIntervals, reduceSeries } from './charts.js';

export type TraceOutcome =
  | {
    state: 'ok'; trace: PowerTrace; file: string;
    /** Per device: one Diagnostics per measured window that had a reading (the result's shape, per device). */
    windowDiagnostics: Map<string, Diagnostics[]>;
  }
  | { state: 'missing'; reason: string; file: string };

/** A measured window on the run clock (reports/model.ts measuredWindows). */
export interface TraceWindow { startS: number; endS: number }

/** A samples file bigger than this is not drawn (a multi-hour run at 1 ms); the figures do not depend on it. */
export const MAX_SAMPLES_BYTES = 512 * 1024 * 1024;

// the result schema's bounds on throttle reasons: the samples file is not validated, so its strings are cut here
const MAX_REASON_CHARS = 128;
const MAX_REASONS = 64;

export function samplesPathOf(resultPath: string, file: string): string {
  return resolve(dirname(resultPath), file);
}

/** Energy-counter-only sources log cumulative joules: power between two readings is ΔE/Δt (resets skipped). */
function powerFromCounter(tS: number[], energyJ: number[]): { tS: number[]; powerW: number[] } {
  const t: number[] = [], p: number[] = [];
  for (let i = 1; i < tS.length; i++) {
    const dt = tS[i]! - tS[i - 1]!, de = energyJ[i]! - energyJ[i - 1]!;
    if (dt > 0 && de >= 0) { t.push((tS[i]! + tS[i - 1]!) / 2); p.push(de / dt); }
  }
  return { tS: t, powerW: p };
}


const finite = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);

/** The telemetry of one sample line, or null when it has none (the common case for power-only sources). */
function readingOf(o: Record<string, unknown>): TelemetryReading | null {
  const r: TelemetryReading = {};
  let any = false;
  for (const k of ['temperatureC', 'smClockMHz', 'memoryUsedMiB', 'utilizationPct'] as const) {
    const x = finite(o[k]);
    if (x !== undefined) { r[k] = x; any = true; }
  }
  if (Array.isArray(o.throttleReasons)) {
    const rs = o.throttleReasons.filter((x): x is string => typeof x === 'string' && x !== '').slice(0, MAX_REASONS).map((x) => x.slice(0, MAX_REASON_CHARS));
    if (rs.length) { r.throttleReasons = rs; any = true; }
  }
  return any ? r : null;
}

/** Indexes of the windows that hold time t (both edges included, as in harness/analyse.ts); windows sorted by start. */
function windowsAt(windows: TraceWindow[], t: number): number[] {
  let lo = 0, hi = windows.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (windows[mid]!.startS <= t) lo = mid + 1; else hi = mid; }
  const out: number[] = [];
  // windows do not overlap, but one may end exactly where the next starts
  for (let k = lo - 1; k >= 0 && k >= lo - 2; k--) if (windows[k]!.endS >= t) out.push(k);
  return out;
}

/**
 * The periods in which a device reported an active throttle reason, from its throttle readings in time order
 * (`active[i]`: the reading at tS[i] named a reason). Consecutive throttled readings are one period, which ends at
 * the next reading without a reason; a period still open at the last reading ends at `endS`, the end of the
 * device's trace (nothing later says it stopped, and nothing says it went on).
 */
export function throttledIntervals(tS: number[], active: boolean[], endS: number): Interval[] {
  const out: Interval[] = [];
  let startS: number | undefined;
  for (let i = 0; i < tS.length; i++) {
    if (active[i]) startS ??= tS[i]!;
    else if (startS !== undefined) { out.push({ startS, endS: tS[i]! }); startS = undefined; }
  }
  if (startS !== undefined) out.push({ startS, endS: Math.max(startS, endS) });
  return out;
}

interface DeviceAcc {
  tS: number[]; powerW: number[]; eT: number[]; eJ: number[];
  clkT: number[]; clk: number[]; tempT: number[]; temp: number[];
  /** Throttle readings: only samples that carry the field, since a sample without it says nothing either way. */
  thrT: number[]; thr: boolean[];
  lastS: number;
  windows: Array<DiagnosticsFold | undefined>;
}

export async function readPowerTrace(resultPath: string, file: string, maxPointsPerDevice = 1200, windowsIn: TraceWindow[] = []): Promise<TraceOutcome> {
  if (isAbsolute(file)) return { state: 'missing', file, reason: `the result names its raw samples by an absolute path (${file}); the schema asks for one relative to the result file` };
  const path = samplesPathOf(resultPath, file);
  try {
    const st = await stat(path);
    if (!st.isFile()) return { state: 'missing', file, reason: `raw samples ${file} is not a regular file` };
    if (st.size > MAX_SAMPLES_BYTES) return { state: 'missing', file, reason: `raw samples ${file} is ${st.size} bytes, over the ${MAX_SAMPLES_BYTES}-byte drawing limit` };
  } catch {
    return { state: 'missing', file, reason: `raw samples file ${file} was not found next to the result` };
  }
  const windows = [...windowsIn].sort((a, b) => a.startS - b.startS);
  const byDev = new Map<string, DeviceAcc>();
  let count = 0, firstS = Infinity, lastS = -Infinity;
  try {
    const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of rl) {
      // cheap pre-filter: most lines are samples, but events and phases need no parse
      if (!line.includes('"sample"')) continue;
      let o: Record<string, unknown>;
      try { o = JSON.parse(line); } catch { continue; /* a line cut by a crash */ }
      if (!o || o.type !== 'sample' || typeof o.tS !== 'number' || !Number.isFinite(o.tS)) continue;
      const t = o.tS;
      const dev = String(o.deviceId ?? '?');
      let d = byDev.get(dev);
      if (!d) byDev.set(dev, (d = { tS: [], powerW: [], eT: [], eJ: [], clkT: [], clk: [], tempT: [], temp: [], thrT: [], thr: [], lastS: -Infinity, windows: [] }));
      if (t > d.lastS) d.lastS = t;
      if (t < firstS) firstS = t;
      if (t > lastS) lastS = t;
      if (typeof o.powerW === 'number' && Number.isFinite(o.powerW)) { d.tS.push(t); d.powerW.push(o.powerW); count++; }
      else if (typeof o.energyJ === 'number' && Number.isFinite(o.energyJ)) { d.eT.push(t); d.eJ.push(o.energyJ); count++; }
      const reading = readingOf(o);
      // an empty list (or one with nothing usable) is a reading too: no reason active, so a throttled period ends
      if (Array.isArray(o.throttleReasons)) { d.thrT.push(t); d.thr.push(reading?.throttleReasons !== undefined); }
      if (!reading) continue;
      if (reading.smClockMHz !== undefined) { d.clkT.push(t); d.clk.push(reading.smClockMHz); }
      if (reading.temperatureC !== undefined) { d.tempT.push(t); d.temp.push(reading.temperatureC); }
      for (const k of windowsAt(windows, t)) (d.windows[k] ??= new DiagnosticsFold()).add(reading);
    }
  } catch (err) {
    return { state: 'missing', file, reason: `raw samples ${file} could not be read: ${(err as Error).message}` };
  }
  const devices: PowerTrace['devices'] = [];
  const windowDiagnostics = new Map<string, Diagnostics[]>();
  // one pixel of the chart, near enough: its x scale spans at least the samples
  const pixelS = lastS > firstS ? (lastS - firstS) / POWER_CHART_WIDTH_PX : 0;
  for (const [deviceId, d] of [...byDev.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    const diags = d.windows.flatMap((w) => (w ? [w.diagnostics()] : []));
    if (diags.length) windowDiagnostics.set(deviceId, diags);
    const p = d.tS.length ? sortByTime(d.tS, d.powerW) : (() => { const c = sortByTime(d.eT, d.eJ); return renamed(powerFromCounter(c.tS, c.values)); })();
    if (!p.tS.length) continue;
    const r = reduceSeries(p.tS, p.values, maxPointsPerDevice);
    // the panels are reduced like the power trace: first, lowest, highest and last reading per time bucket
    const panel = (tS: number[], v: number[]): Series | undefined => {
      if (!tS.length) return undefined;
      const s = sortByTime(tS, v);
      const x = reduceSeries(s.tS, s.values, maxPointsPerDevice);
      return { tS: x.tS, values: x.powerW };
    };
    const smClockMHz = panel(d.clkT, d.clk), temperatureC = panel(d.tempT, d.temp);
    const thr = d.thrT.length ? sortByTime(d.thrT, d.thr) : undefined;
    const throttled = thr && reduceIntervals(throttledIntervals(thr.tS, thr.values, d.lastS), pixelS, d.lastS);
    devices.push({ deviceId, tS: r.tS, powerW: r.powerW, ...(smClockMHz ? { smClockMHz } : {}), ...(temperatureC ? { temperatureC } : {}), ...(throttled ? { throttled } : {}) });
  }
  if (!devices.length) return { state: 'missing', file, reason: `raw samples ${file} holds no power readings` };
  return { state: 'ok', file, trace: { devices, sampleCount: count }, windowDiagnostics };
}

const renamed = (s: { tS: number[]; powerW: number[] }) => ({ tS: s.tS, values: s.powerW });

function sortByTime<T>(t: number[], v: T[]): { tS: number[]; values: T[] } {
  let sorted = true;
  for (let i = 1; i < t.length && sorted; i++) if (t[i]! < t[i - 1]!) sorted = false;
  if (sorted) return { tS: t, values: v };
  const idx = t.map((_, i) => i).sort((a, b) => t[a]! - t[b]!);
  return { tS: idx.map((i) => t[i]!), values: idx.map((i) => v[i]!) };
}
