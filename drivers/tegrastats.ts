// tegrastats: NVIDIA Jetson modules (Nano, TX2, Xavier, Orin, Thor). One long-lived `tegrastats --interval MS`
// prints one line per sample with the on-module INA3221 power rails. The rail format changed over JetPack
// releases: "POM_5V_IN 933/933" and "VDD_IN 1038/1134" (mW current/average, no unit) on older boards,
// "VDD_GPU_SOC 1590mW/1590mW" on JetPack 5/6, and three values "5139mW/5139mW/5139mW" on JetPack 7, which
// also prefixes a "MM-DD-YYYY HH:MM:SS" stamp. The first value of a rail is the current reading.
// The device is the whole module (CPU, GPU and memory share its rails): its power is the module input rail
// where the board has one (VDD_IN, POM_5V_IN), otherwise the sum of every rail printed (AGX Orin/Xavier,
// whose rails split the module without an input rail). There is no energy counter.
import { readFile } from 'node:fs/promises';
import type { Driver, ProbeContext, ProbeResult } from './driver.js';
import { locateTool } from './cli-tool.js';
import type { Device } from '../results/types.gen.js';
import { spawnStreaming } from '../lib/process.js';
import { superviseLoop } from '../lib/supervise.js';

const ID = 'tegrastats';

export interface TegraRail { name: string; currentMW: number; averageMW?: number; thirdMW?: number }

export interface TegraLine {
  /** "07-25-2026 09:08:28" on JetPack 7; absent before. */
  stamp?: string;
  rails: TegraRail[];
  ramUsedMiB?: number;
  ramTotalMiB?: number;
  gpuUtilizationPct?: number;
  gpuClockMHz?: number;
  emcUtilizationPct?: number;
  emcClockMHz?: number;
  temperaturesC: Record<string, number>;
}

// a rail: NAME then two or three numbers separated by "/", each optionally in mW; "RAM 20642/62817MB" is not one
const RAIL_RE = /(?:^|\s)([A-Z][A-Z0-9_]*) (\d+)(?:mW)?\/(\d+)(?:mW)?(?:\/(\d+)(?:mW)?)?(?=\s|$)/g;
const TEMP_RE = /(?:^|\s)([A-Za-z][A-Za-z0-9_]*)@(-?\d+(?:\.\d+)?)C(?:\/-?\d+(?:\.\d+)?C)?(?=\s|$)/g;

function toMiB(v: number, unit: string): number {
  if (unit === 'k' || unit === 'K') return v / 1024;
  if (unit === 'G') return v * 1024;
  return v; // tegrastats "MB" are mebibytes (it reads /proc/meminfo in kB and divides by 1024)
}

/** Parse one tegrastats line; undefined when the line holds neither memory nor power figures. */
export function parseTegrastatsLine(line: string): TegraLine | undefined {
  const text = line.replace(/\r$/, '').trim();
  const out: TegraLine = { rails: [], temperaturesC: {} };
  const stamp = /^(\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2})\s/.exec(text);
  if (stamp) out.stamp = stamp[1];
  for (const m of text.matchAll(RAIL_RE)) {
    const rail: TegraRail = { name: m[1]!, currentMW: Number(m[2]), averageMW: Number(m[3]) };
    if (m[4] !== undefined) rail.thirdMW = Number(m[4]);
    out.rails.push(rail);
  }
  const ram = /\bRAM (\d+)\/(\d+)([kKMG])B/.exec(text);
  if (ram) { out.ramUsedMiB = toMiB(Number(ram[1]), ram[3]!); out.ramTotalMiB = toMiB(Number(ram[2]), ram[3]!); }
  // GR3D_FREQ 12%@[1300,1300] (JP7), 10%@1300 (JP6), @[1000,1000] (Thor, no load), 0% (older, no clock)
  const gr = /\bGR3D_FREQ (?:(\d+)%)?(?:@(?:\[(\d+)[\d,]*\]|(\d+)))?/.exec(text);
  if (gr) {
    if (gr[1] !== undefined) out.gpuUtilizationPct = Number(gr[1]);
    const f = gr[2] ?? gr[3];
    if (f !== undefined) out.gpuClockMHz = Number(f);
  }
  const emc = /\bEMC_FREQ (\d+)%(?:@(\d+))?/.exec(text);
  if (emc) { out.emcUtilizationPct = Number(emc[1]); if (emc[2]) out.emcClockMHz = Number(emc[2]); }
  for (const m of text.matchAll(TEMP_RE)) out.temperaturesC[m[1]!] = Number(m[2]);
  if (out.rails.length === 0 && out.ramTotalMiB === undefined) return undefined;
  return out;
}

/** Rails that measure the whole module input on boards that have one. */
export const MODULE_INPUT_RAILS = ['VDD_IN', 'POM_5V_IN'];

/**
 * Module power from one line: the chosen rails if given (all must be present), else the module input rail,
 * else the sum of all rails. Undefined when nothing usable is printed.
 */
export function modulePower(rails: TegraRail[], chosen?: string[]): { powerW: number; rails: string[] } | undefined {
  if (rails.length === 0) return undefined;
  const byName = new Map(rails.map((r) => [r.name, r]));
  let use: TegraRail[];
  if (chosen?.length) {
    if (!chosen.every((n) => byName.has(n))) return undefined;
    use = chosen.map((n) => byName.get(n)!);
  } else {
    const input = MODULE_INPUT_RAILS.find((n) => byName.has(n));
    use = input ? [byName.get(input)!] : rails;
  }
  return { powerW: use.reduce((s, r) => s + r.currentMW, 0) / 1000, rails: use.map((r) => r.name) };
}

function gpuTemperature(t: Record<string, number>): number | undefined {
  return t.gpu ?? t.GPU ?? t.gpu0 ?? t.GPU0;
}

/** rails: the rails that make up the module power, fixed at probe time so a line missing one (cut short) is not read as a drop in power. */
interface TegraPrivate { file: string; rails: string[] }

/** Run tegrastats until its first line (or a timeout) and stop it. */
async function firstLine(file: string, env: NodeJS.ProcessEnv, timeoutMs: number, signal?: AbortSignal): Promise<{ line?: string; error?: string }> {
  let line: string | undefined;
  const h = spawnStreaming(file, ['--interval', '100'], {
    env: env as Record<string, string>, extendEnv: false, signal, timeoutMs, killGraceMs: 500,
    onStdoutLine: (l) => { if (line === undefined && l.trim()) { line = l; void h.stop(); } },
  });
  const r = await h.done;
  if (line !== undefined) return { line };
  if (r.spawnError) return { error: `${ID} could not start (${r.spawnError.code})` };
  if (r.timedOut) return { error: `${ID} printed nothing within ${timeoutMs} ms` };
  const last = (r.stderr.trim() || r.stdout.trim()).split('\n').pop()?.slice(0, 200) ?? '';
  return { error: `${ID} exited with code ${r.exitCode ?? r.signal} before printing a line${last ? `: ${last}` : ''}` };
}

async function readText(path: string): Promise<string | undefined> {
  try { return (await readFile(path, 'utf8')).replace(/\0/g, '').trim(); } catch { return undefined; }
}

const locate = (ctx: ProbeContext) => locateTool(ctx, ID, 'tegrastats is not on PATH — it ships with JetPack (L4T) on Jetson modules; pass --source tegrastats --source-opt path=/full/path/tegrastats', ['/usr/bin']);

export const tegrastats: Driver = {
  meta: {
    id: ID, title: 'NVIDIA Jetson module rails through tegrastats', vendor: 'NVIDIA Jetson', scope: 'device', priority: 50,
    defaultIntervalMs: 100, minIntervalMs: 10,
    options: {
      path: 'full path to tegrastats (default: found on PATH)',
      rails: 'comma-separated rails to sum instead of the module input rail (e.g. VDD_GPU_SOC for the GPU+SoC rail only)',
      'model-file': 'where to read the module name (default /proc/device-tree/model)',
    },
  },
  async probe(ctx): Promise<ProbeResult> {
    const file = await locate(ctx);
    if (typeof file !== 'string') return file;
    const first = await firstLine(file, ctx.env, 5000, ctx.signal);
    if (!first.line) {
      const perm = /permission|not permitted/i.test(first.error ?? '');
      return { state: 'unavailable', code: perm ? 'permission-denied' : 'error', reason: first.error ?? 'no output' };
    }
    const parsed = parseTegrastatsLine(first.line);
    if (!parsed) return { state: 'unavailable', code: 'error', reason: `cannot read tegrastats output: ${JSON.stringify(first.line.slice(0, 120))}` };
    const chosen = ctx.options.rails?.split(',').map((s) => s.trim()).filter(Boolean);
    const power = modulePower(parsed.rails, chosen);
    if (!power) {
      if (chosen?.length && parsed.rails.length) return { state: 'unavailable', code: 'not-configured', reason: `rails ${chosen.join(', ')} are not all printed here (tegrastats shows ${parsed.rails.map((r) => r.name).join(', ')})` };
      return { state: 'unavailable', code: 'no-power-field', reason: 'no power sensor through this CLI' };
    }
    const model = await readText(ctx.options['model-file'] ?? '/proc/device-tree/model');
    const release = await readText('/etc/nv_tegra_release');
    const l4t = release ? /R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)/.exec(release) : null;
    const device: Device = { id: `${ID}:0`, index: 0, vendor: 'NVIDIA', name: model || 'NVIDIA Jetson', kind: 'accelerator', partition: 'whole module (CPU, GPU and memory share these rails)' };
    if (parsed.ramTotalMiB !== undefined) device.memoryMiB = parsed.ramTotalMiB;
    if (l4t) device.driverVersion = `L4T R${l4t[1]}.${l4t[2]}`;
    return {
      state: 'ok', devices: [device],
      semantics: {
        kind: 'instantaneous', field: power.rails.join('+'),
        note: `tegrastats rail current values (mW), ${power.rails.length > 1 ? `summed over ${power.rails.join(', ')}` : `module input rail ${power.rails[0]}`}; refreshed every --interval`,
      },
      ...(device.driverVersion ? { software: { L4T: device.driverVersion.replace(/^L4T /, '') } } : {}),
      private: { file, rails: power.rails } satisfies TegraPrivate,
    };
  },
  async start(opts) {
    const priv = opts.probe.private as TegraPrivate;
    const dev = opts.devices[0];
    const intervalMs = Math.max(10, Math.round(opts.intervalMs));
    return superviseLoop({
      file: priv.file, args: ['--interval', String(intervalMs)],
      env: opts.env, clock: opts.clock, signal: opts.signal, sink: opts.sink,
      expectedIntervalMs: intervalMs,
      onLine: (line, tS, truncated) => {
        if (truncated || !dev) return false;
        const p = parseTegrastatsLine(line);
        if (!p) return false;
        const power = modulePower(p.rails, priv.rails);
        const temp = gpuTemperature(p.temperaturesC);
        opts.sink.sample({
          tS, sourceId: ID, deviceId: dev.id,
          ...(power ? { powerW: power.powerW } : {}),
          ...(temp !== undefined ? { temperatureC: temp } : {}),
          ...(p.gpuClockMHz !== undefined ? { smClockMHz: p.gpuClockMHz } : {}),
          ...(p.emcClockMHz !== undefined ? { memClockMHz: p.emcClockMHz } : {}),
          ...(p.gpuUtilizationPct !== undefined ? { utilizationPct: p.gpuUtilizationPct } : {}),
          ...(p.ramUsedMiB !== undefined ? { memoryUsedMiB: p.ramUsedMiB } : {}),
        });
        return power !== undefined;
      },
    });
  },
};
