// replay: plays a recorded power trace on the run clock, as if a sensor produced it. Used by the tests (known
// energy, no hardware), to re-analyse a recorded run, and to try the pipeline on a machine with no sensor.
// Trace formats: CSV with a header (time column t_s|time_s|timeS|t, power column power_w|powerW|power,
// optional device|deviceId, optional energy_j|energyJ), or JSONL (wattbench's own raw samples, or objects
// with tS/powerW/deviceId).
import { readFile } from 'node:fs/promises';
import type { Driver, ProbeResult, Scope } from './driver.js';
import { sleepMs } from '../lib/clock.js';

export interface TracePoint { tS: number; deviceKey: string; powerW?: number; energyJ?: number }

const TIME_COLS = ['t_s', 'time_s', 'times', 't', 'time', 'timestamp_s'];
const POWER_COLS = ['power_w', 'powerw', 'power', 'power_watts'];
const DEVICE_COLS = ['device', 'deviceid', 'device_id', 'gpu'];
const ENERGY_COLS = ['energy_j', 'energyj', 'energy'];

/** Parse a trace file's text. Pure; throws an Error naming the line on bad input. */
export function parseTrace(text: string, fileName = 'trace'): TracePoint[] {
  const trimmed = text.trimStart();
  const points: TracePoint[] = [];
  if (trimmed.startsWith('{')) {
    text.split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      let o: Record<string, unknown>;
      try { o = JSON.parse(line); } catch { throw new Error(`${fileName}:${i + 1}: not a JSON line`); }
      if (o.type !== undefined && o.type !== 'sample') return;
      const tS = Number(o.tS ?? o.t_s ?? o.t);
      const powerW = o.powerW ?? o.power_w;
      const energyJ = o.energyJ ?? o.energy_j;
      if (!Number.isFinite(tS)) throw new Error(`${fileName}:${i + 1}: no time (tS)`);
      points.push({ tS, deviceKey: String(o.deviceId ?? o.device ?? '0'), powerW: powerW === undefined ? undefined : Number(powerW), energyJ: energyJ === undefined ? undefined : Number(energyJ) });
    });
  } else {
    const lines = text.split(/\r?\n/).filter((l) => l.trim() && !l.startsWith('#'));
    if (lines.length < 2) throw new Error(`${fileName}: a CSV trace needs a header and at least one row`);
    const header = lines[0]!.split(',').map((h) => h.trim().toLowerCase().replace(/\s*\[.*\]$/, ''));
    const col = (names: string[]) => header.findIndex((h) => names.includes(h));
    const ti = col(TIME_COLS), pi = col(POWER_COLS), di = col(DEVICE_COLS), ei = col(ENERGY_COLS);
    if (ti < 0) throw new Error(`${fileName}: no time column (one of ${TIME_COLS.join(', ')})`);
    if (pi < 0 && ei < 0) throw new Error(`${fileName}: no power or energy column (one of ${[...POWER_COLS, ...ENERGY_COLS].join(', ')})`);
    for (let i = 1; i < lines.length; i++) {
      const cells = lines[i]!.split(',').map((c) => c.trim());
      const tS = Number(cells[ti]);
      if (!Number.isFinite(tS)) throw new Error(`${fileName}:${i + 1}: time '${cells[ti]}' is not a number`);
      const p = pi >= 0 ? Number(cells[pi]) : undefined;
      const e = ei >= 0 ? Number(cells[ei]) : undefined;
      points.push({ tS, deviceKey: di >= 0 ? cells[di]! : '0', powerW: p !== undefined && Number.isFinite(p) ? p : undefined, energyJ: e !== undefined && Number.isFinite(e) ? e : undefined });
    }
  }
  if (points.length === 0) throw new Error(`${fileName}: no samples`);
  points.sort((a, b) => a.tS - b.tS);
  return points;
}

function medianInterval(points: TracePoint[]): number {
  const byDev = new Map<string, number[]>();
  for (const p of points) (byDev.get(p.deviceKey) ?? byDev.set(p.deviceKey, []).get(p.deviceKey)!).push(p.tS);
  const d: number[] = [];
  for (const ts of byDev.values()) for (let i = 1; i < ts.length; i++) d.push(ts[i]! - ts[i - 1]!);
  d.sort((a, b) => a - b);
  return d.length ? d[Math.floor(d.length / 2)]! * 1000 : 100;
}

async function load(options: Record<string, string>): Promise<TracePoint[]> {
  const file = options.file;
  if (!file) throw new Error('no trace file');
  return parseTrace(await readFile(file, 'utf8'), file);
}

const REPLAY_SCOPES: readonly Scope[] = ['device', 'node', 'host-cpu'];
type ReplaySemantics = 'instantaneous' | 'windowed-average' | 'energy-counter';
const REPLAY_SEMANTICS: readonly ReplaySemantics[] = ['instantaneous', 'windowed-average', 'energy-counter'];

export const replay: Driver = {
  meta: {
    id: 'replay', title: 'Recorded power trace', vendor: 'wattbench', scope: 'device', priority: 0,
    defaultIntervalMs: 100, minIntervalMs: 1,
    options: {
      file: 'trace file (CSV or JSONL), required',
      speed: 'playback speed factor (default 1)',
      loop: 'repeat the trace when it ends (default true)',
      'device-name': 'name to give the replayed devices (default "replayed device")',
      vendor: 'vendor to record for the replayed devices',
      'power-limit-w': 'power limit to record for the replayed devices',
      scope: 'scope to record: device (default), node, host-cpu',
      semantics: 'instantaneous (default), windowed-average, energy-counter',
    },
  },
  async probe(ctx): Promise<ProbeResult> {
    if (!ctx.options.file) return { state: 'unavailable', code: 'not-configured', reason: 'no trace given — pass --source replay --source-opt file=TRACE.csv' };
    // what the trace measured is the user's to say; a value we do not know is refused, not recorded as device
    const scope = ctx.options.scope ?? 'device';
    if (!REPLAY_SCOPES.includes(scope as Scope)) return { state: 'unavailable', code: 'not-configured', reason: `replay scope=${scope} is not one of ${REPLAY_SCOPES.join(', ')} — pass --source-opt scope=${REPLAY_SCOPES.join('|')}` };
    const semOpt = ctx.options.semantics;
    if (semOpt !== undefined && !REPLAY_SEMANTICS.includes(semOpt as ReplaySemantics)) return { state: 'unavailable', code: 'not-configured', reason: `replay semantics=${semOpt} is not one of ${REPLAY_SEMANTICS.join(', ')} — pass --source-opt semantics=${REPLAY_SEMANTICS.join('|')}` };
    let points: TracePoint[];
    try { points = await load(ctx.options); } catch (err) {
      return { state: 'unavailable', code: 'error', reason: `cannot read the trace: ${(err as Error).message}` };
    }
    const keys = [...new Set(points.map((p) => p.deviceKey))];
    const limit = ctx.options['power-limit-w'] ? Number(ctx.options['power-limit-w']) : undefined;
    const sem = (semOpt ?? (points.some((p) => p.powerW === undefined) ? 'energy-counter' : 'instantaneous')) as ReplaySemantics;
    return {
      state: 'ok',
      scope: scope as Scope,
      devices: keys.map((k, i) => ({
        id: `replay:${k}`, index: i, vendor: ctx.options.vendor ?? 'replay', name: ctx.options['device-name'] ?? 'replayed device', kind: 'accelerator' as const,
        ...(limit !== undefined && Number.isFinite(limit) ? { powerLimitW: limit } : {}),
      })),
      semantics: { kind: sem, updatePeriodMs: medianInterval(points), note: `replayed from ${ctx.options.file}` },
      private: points,
    };
  },
  async start(opts) {
    const points = opts.probe.private as TracePoint[];
    const speed = Number(opts.options.speed ?? '1') || 1;
    const loop = (opts.options.loop ?? 'true') !== 'false';
    const wanted = new Set(opts.devices.map((d) => d.id));
    const t0Trace = points[0]!.tS;
    const spanS = points[points.length - 1]!.tS - t0Trace + medianInterval(points) / 1000;
    const startS = opts.clock.nowS();
    let stopped = false;
    const run = (async () => {
      for (let lap = 0; !stopped && !opts.signal.aborted; lap++) {
        for (const p of points) {
          if (stopped || opts.signal.aborted) return;
          const due = startS + (lap * spanS + (p.tS - t0Trace)) / speed;
          const waitMs = (due - opts.clock.nowS()) * 1000;
          if (waitMs > 0) await sleepMs(waitMs, opts.signal);
          if (stopped || opts.signal.aborted) return;
          const deviceId = `replay:${p.deviceKey}`;
          if (!wanted.has(deviceId)) continue;
          // stamp with the scheduled time, not the wake-up time: replay is exact by construction
          opts.sink.sample({ tS: due, sourceId: 'replay', deviceId, ...(p.powerW !== undefined ? { powerW: p.powerW } : {}), ...(p.energyJ !== undefined ? { energyJ: p.energyJ } : {}) });
        }
        if (!loop) return;
      }
    })();
    return { stop: async () => { stopped = true; await run; } };
  },
};
