// hl-smi: Intel Gaudi (Habana) accelerators. hl-smi speaks an nvidia-smi-like query language
// (`-Q field,... -f csv,noheader`) and loops by itself (`-l SECONDS`, whole seconds; docs.habana.ai lists no
// sub-second loop), so one long-lived process samples every card. Values carry their units with a space
// ("226 W", "36 C", "131072 MiB", "0 %"); the separator is ", ". hl-smi documents no energy counter, so power
// is integrated. HABANA_VISIBLE_MODULES takes *module ids*, not hl-smi's index, so a device's index here is
// its module id whenever hl-smi reports one.
import { probeTool } from './cli-tool.js';
import type { Driver, ProbeContext, ProbeResult } from './driver.js';
import { isMissing, parseNumber } from './driver.js';
import type { Device } from '../results/types.gen.js';
import { findOnPath, type ProcessResult } from '../lib/process.js';
import { superviseLoop } from '../lib/supervise.js';

const ID = 'hl-smi';

/** Fields asked for at probe time (static facts plus one power reading to prove the sensor works). */
export const HL_PROBE_FIELDS = ['index', 'module_id', 'uuid', 'serial', 'name', 'bus_id', 'driver_version', 'memory.total', 'power.max', 'power.draw'] as const;
/** Older hl-smi builds may refuse newer fields; this is the documented minimum. */
export const HL_PROBE_FIELDS_MINIMAL = ['index', 'uuid', 'name', 'bus_id', 'driver_version', 'memory.total', 'power.draw'] as const;
/** Fields of the sampling loop after the device key. */
export const HL_SAMPLE_FIELDS = ['power.draw', 'temperature.aip', 'utilization.aip', 'memory.used'] as const;

export type HlRecord = Record<string, string>;

/**
 * Parse one CSV line of `hl-smi -Q <fields> -f csv[,noheader][,nounits]` into field → raw token.
 * Returns undefined for a header line, a blank line or a line whose cell count does not match the fields
 * (a truncated or foreign line): a partial row must never be read with shifted columns.
 */
export function parseHlSmiLine(line: string, fields: readonly string[]): HlRecord | undefined {
  const t = line.replace(/\r$/, '').trim();
  if (!t) return undefined;
  const cells = t.split(',').map((c) => c.trim());
  if (cells.length !== fields.length) return undefined;
  // a header names the fields (possibly with "[unit]"), never a value
  if (cells[0]!.replace(/\s*\[.*\]$/, '') === fields[0]) return undefined;
  const rec: HlRecord = {};
  fields.forEach((f, i) => { rec[f] = cells[i]!; });
  return rec;
}

/** Parse a whole `hl-smi -Q` output (one line per card). */
export function parseHlSmiCsv(text: string, fields: readonly string[]): HlRecord[] {
  return text.split('\n').map((l) => parseHlSmiLine(l, fields)).filter((r): r is HlRecord => r !== undefined);
}

/** "131072 MiB" → 131072; "128 GiB" → 131072; missing spellings → undefined. */
export function hlMemoryMiB(token: string | undefined): number | undefined {
  const v = parseNumber(token);
  if (v === undefined) return undefined;
  return /GiB/i.test(token ?? '') ? v * 1024 : v;
}

export interface HlReading { key: number; powerW?: number; temperatureC?: number; utilizationPct?: number; memoryUsedMiB?: number }

/** One sampling line → a reading keyed by module id (or index); undefined when the line is not a data row. */
export function hlReading(rec: HlRecord, keyField: string): HlReading | undefined {
  const key = parseNumber(rec[keyField]);
  if (key === undefined || !Number.isInteger(key)) return undefined;
  const r: HlReading = { key };
  const p = parseNumber(rec['power.draw']);
  if (p !== undefined) r.powerW = p;
  const t = parseNumber(rec['temperature.aip']);
  if (t !== undefined) r.temperatureC = t;
  const u = parseNumber(rec['utilization.aip']);
  if (u !== undefined) r.utilizationPct = u;
  const m = hlMemoryMiB(rec['memory.used']);
  if (m !== undefined) r.memoryUsedMiB = m;
  return r;
}

/** A probe row → the static facts of one card. */
export function hlDevice(rec: HlRecord): Device & { index: number } {
  const idx = parseNumber(rec.index) ?? 0;
  const moduleId = parseNumber(rec.module_id);
  const index = moduleId !== undefined && Number.isInteger(moduleId) ? moduleId : idx;
  const d: Device & { index: number } = { id: `${ID}:${index}`, index, vendor: 'Intel Gaudi', name: isMissing(rec.name) ? 'Gaudi' : rec.name!, kind: 'accelerator' };
  if (!isMissing(rec.uuid)) d.uuid = rec.uuid;
  if (!isMissing(rec.serial)) d.serial = rec.serial;
  if (!isMissing(rec.bus_id)) d.busId = rec.bus_id;
  if (!isMissing(rec.driver_version)) d.driverVersion = rec.driver_version;
  const mem = hlMemoryMiB(rec['memory.total']);
  if (mem !== undefined) d.memoryMiB = mem;
  const cap = parseNumber(rec['power.max']);
  if (cap !== undefined) d.powerLimitW = cap;
  if (moduleId !== undefined && moduleId !== idx) d.partition = `hl-smi index ${idx}, module id ${moduleId}`;
  return d;
}

interface HlPrivate { file: string; keyField: 'module_id' | 'index' }

function failure(r: ProcessResult): Extract<ProbeResult, { state: 'unavailable' }> {
  const text = `${r.stderr}\n${r.stdout}`;
  if (r.spawnError?.code === 'EACCES' || /permission denied|not permitted|access denied/i.test(text)) {
    return { state: 'unavailable', code: 'permission-denied', reason: `${ID} was denied access to the Gaudi devices (${text.trim().split('\n').pop()?.slice(0, 160) ?? ''}) — run as a user with access to /dev/accel*, or as root` };
  }
  if (r.spawnError) return { state: 'unavailable', code: 'not-installed', reason: `${ID} could not start (${r.spawnError.code})` };
  if (r.timedOut) return { state: 'unavailable', code: 'error', reason: `${ID} did not answer within the probe timeout` };
  const last = (r.stderr.trim() || r.stdout.trim()).split('\n').pop()?.slice(0, 200) ?? '';
  return { state: 'unavailable', code: 'error', reason: `${ID} exited with code ${r.exitCode ?? r.signal}${last ? `: ${last}` : ''}` };
}

async function locate(ctx: ProbeContext): Promise<string | Extract<ProbeResult, { state: 'unavailable' }>> {
  const file = await findOnPath(ctx.options.path ?? ID, ctx.env.PATH ?? '');
  if (file) return file;
  return { state: 'unavailable', code: 'not-installed', reason: ctx.options.path ? `${ctx.options.path} is not an executable file` : `${ID} is not on PATH — install the Intel Gaudi software (habanalabs driver and hl-smi), or pass --source hl-smi --source-opt path=/full/path/hl-smi` };
}

export const hlSmi: Driver = {
  meta: {
    id: ID, title: 'Intel Gaudi through hl-smi', vendor: 'Intel Gaudi', scope: 'device', priority: 50,
    defaultIntervalMs: 1000, minIntervalMs: 1000,
    visibilityEnv: ['HABANA_VISIBLE_MODULES'],
    options: { path: 'full path to hl-smi (default: found on PATH)' },
  },
  async probe(ctx): Promise<ProbeResult> {
    const file = await locate(ctx);
    if (typeof file !== 'string') return file;
    let fields: readonly string[] = HL_PROBE_FIELDS;
    let r = await probeTool(ctx, file, ['-Q', fields.join(','), '-f', 'csv,noheader']);
    let rows = r.exitCode === 0 ? parseHlSmiCsv(r.stdout, fields) : [];
    if (rows.length === 0 && !r.spawnError && !r.timedOut) {
      // an older hl-smi may reject module_id/serial/power.max: retry with the documented minimum
      fields = HL_PROBE_FIELDS_MINIMAL;
      const again = await probeTool(ctx, file, ['-Q', fields.join(','), '-f', 'csv,noheader']);
      if (again.exitCode === 0) { r = again; rows = parseHlSmiCsv(again.stdout, fields); }
    }
    if (r.exitCode !== 0 || r.spawnError) return failure(r);
    if (rows.length === 0) return { state: 'unavailable', code: 'no-devices', reason: `${ID} listed no Gaudi devices` };
    if (rows.every((row) => parseNumber(row['power.draw']) === undefined)) {
      return { state: 'unavailable', code: 'no-power-field', reason: 'no power sensor through this CLI' };
    }
    const devices = rows.map(hlDevice).sort((a, b) => a.index - b.index);
    const keyField = fields.includes('module_id') && rows.every((row) => parseNumber(row.module_id) !== undefined) ? 'module_id' : 'index';
    return {
      state: 'ok', devices,
      semantics: {
        kind: 'instantaneous', field: 'power.draw',
        note: 'hl-smi power.draw; Habana documents neither its averaging nor its refresh period, so readings are integrated as instantaneous. hl-smi loops in whole seconds.',
      },
      software: { ...(devices[0]?.driverVersion ? { 'habanalabs driver': devices[0].driverVersion } : {}) },
      ...(keyField === 'index' ? { note: 'device indices are hl-smi indices (no module id reported); HABANA_VISIBLE_MODULES expects module ids' } : {}),
      private: { file, keyField } satisfies HlPrivate,
    };
  },
  async start(opts) {
    const priv = opts.probe.private as HlPrivate;
    const fields = [priv.keyField, ...HL_SAMPLE_FIELDS];
    const wanted = new Map(opts.devices.map((d) => [d.index ?? -1, d.id]));
    const seconds = Math.max(1, Math.round(opts.intervalMs / 1000));
    return superviseLoop({
      file: priv.file,
      args: ['-Q', fields.join(','), '-f', 'csv,noheader', '-l', String(seconds)],
      env: opts.env, clock: opts.clock, signal: opts.signal, sink: opts.sink,
      expectedIntervalMs: seconds * 1000,
      onLine: (line, tS, truncated) => {
        if (truncated) return false;
        const rec = parseHlSmiLine(line, fields);
        const reading = rec && hlReading(rec, priv.keyField);
        if (!reading) return false;
        const deviceId = wanted.get(reading.key);
        if (!deviceId) return true; // a card the workload does not use: a valid line all the same
        const { key: _key, ...values } = reading;
        opts.sink.sample({ tS, sourceId: ID, deviceId, ...values });
        return true;
      },
    });
  },
};
