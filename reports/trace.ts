// Reads a run's raw samples file (results/samples.ts format) for the power-over-time chart. The only file the
// report reads besides the result files themselves; a missing or unreadable file is a note in the report, never
// a failure.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { PowerTrace } from './charts.js';
import { reduceSeries } from './charts.js';

export type TraceOutcome = { state: 'ok'; trace: PowerTrace; file: string } | { state: 'missing'; reason: string; file: string };

/** A samples file bigger than this is not drawn (a multi-hour run at 1 ms); the figures do not depend on it. */
export const MAX_SAMPLES_BYTES = 512 * 1024 * 1024;

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

export async function readPowerTrace(resultPath: string, file: string, maxPointsPerDevice = 1200): Promise<TraceOutcome> {
  if (isAbsolute(file)) return { state: 'missing', file, reason: `the result names its raw samples by an absolute path (${file}); the schema asks for one relative to the result file` };
  const path = samplesPathOf(resultPath, file);
  try {
    const st = await stat(path);
    if (!st.isFile()) return { state: 'missing', file, reason: `raw samples ${file} is not a regular file` };
    if (st.size > MAX_SAMPLES_BYTES) return { state: 'missing', file, reason: `raw samples ${file} is ${st.size} bytes, over the ${MAX_SAMPLES_BYTES}-byte drawing limit` };
  } catch {
    return { state: 'missing', file, reason: `raw samples file ${file} was not found next to the result` };
  }
  const byDev = new Map<string, { tS: number[]; powerW: number[]; eT: number[]; eJ: number[] }>();
  let count = 0;
  try {
    const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of rl) {
      // cheap pre-filter: most lines are samples, but events and phases need no parse
      if (!line.includes('"sample"')) continue;
      let o: { type?: unknown; tS?: unknown; deviceId?: unknown; powerW?: unknown; energyJ?: unknown };
      try { o = JSON.parse(line); } catch { continue; /* a line cut by a crash */ }
      if (o.type !== 'sample' || typeof o.tS !== 'number' || !Number.isFinite(o.tS)) continue;
      const dev = String(o.deviceId ?? '?');
      let d = byDev.get(dev);
      if (!d) byDev.set(dev, (d = { tS: [], powerW: [], eT: [], eJ: [] }));
      if (typeof o.powerW === 'number' && Number.isFinite(o.powerW)) { d.tS.push(o.tS); d.powerW.push(o.powerW); count++; }
      else if (typeof o.energyJ === 'number' && Number.isFinite(o.energyJ)) { d.eT.push(o.tS); d.eJ.push(o.energyJ); count++; }
    }
  } catch (err) {
    return { state: 'missing', file, reason: `raw samples ${file} could not be read: ${(err as Error).message}` };
  }
  const devices: PowerTrace['devices'] = [];
  for (const [deviceId, d] of [...byDev.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    const s = d.tS.length ? sortByTime(d.tS, d.powerW) : powerFromCounter(...(Object.values(sortByTime(d.eT, d.eJ)) as [number[], number[]]));
    if (!s.tS.length) continue;
    const r = reduceSeries(s.tS, s.powerW, maxPointsPerDevice);
    devices.push({ deviceId, tS: r.tS, powerW: r.powerW });
  }
  if (!devices.length) return { state: 'missing', file, reason: `raw samples ${file} holds no power readings` };
  return { state: 'ok', file, trace: { devices, sampleCount: count } };
}

function sortByTime(t: number[], v: number[]): { tS: number[]; powerW: number[] } {
  let sorted = true;
  for (let i = 1; i < t.length && sorted; i++) if (t[i]! < t[i - 1]!) sorted = false;
  if (sorted) return { tS: t, powerW: v };
  const idx = t.map((_, i) => i).sort((a, b) => t[a]! - t[b]!);
  return { tS: idx.map((i) => t[i]!), powerW: idx.map((i) => v[i]!) };
}
