// prometheus: power and energy that a data center already collects — dcgm-exporter (NVIDIA), Ascend npu-exporter,
// AMD device-metrics-exporter, Kepler — read either from a Prometheus server (url=) or straight from an exporter's
// /metrics page (scrape=).
//
// Server mode fetches the *raw* stored samples with their scrape timestamps: while sampling, an instant query of a
// range selector (`METRIC{sel}[Ns]`) returns every sample since the last poll (fetch=raw, the default); after the
// run, fetch=range asks query_range for METRIC and timestamp(METRIC) on a step finer than the scrape interval,
// which recovers the same raw samples from the standard range API. Either way the timestamps are the Prometheus
// server's, so the server's clock offset is measured (query `time()`, NTP-style midpoint) and taken out.
//
// What one reading means depends on the whole chain: the exporter's own collection period (dcgm-exporter collects
// every 30 s unless started with -c), then the scrape interval. Both are part of the sensor semantics: the update
// period is measured from the stored samples (spacing of timestamps and of value changes), not assumed.
//
// DCGM marks unsupported fields with "blank" sentinels: DCGM_FP64_BLANK = 2^47 for doubles (power) and values
// near 2^63 (DCGM_INT64_BLANK = 0x7ffffffffffffff0) for the int64 energy counter. None of them is a reading.
import os from 'node:os';
import type { Driver, ProbeResult, Scope, SamplerSink } from './driver.js';
import type { Device, Semantics } from '../results/types.gen.js';
import type { RunClock } from '../lib/clock.js';
import { sleepMs } from '../lib/clock.js';

// ---------------------------------------------------------------------------------------------------------------
// The exposition text format (what an exporter's /metrics serves). Pure.

export interface ExpositionSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** Explicit sample timestamp (ms since the epoch) where the exporter gave one (npu-exporter does). */
  timestampMs?: number;
}

export interface Exposition {
  samples: ExpositionSample[];
  help: Record<string, string>;
  type: Record<string, string>;
}

function parseValue(tok: string): number {
  switch (tok) {
    case 'NaN': return NaN;
    case '+Inf': case 'Inf': return Infinity;
    case '-Inf': return -Infinity;
    default: return Number(tok);
  }
}

/** Parse labels from just after '{'; returns the labels and the index after '}'. Handles escapes and ", " separators. */
function parseLabels(line: string, i: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  const n = line.length;
  for (;;) {
    while (i < n && (line[i] === ' ' || line[i] === ',' || line[i] === '\t')) i++;
    if (line[i] === '}') return { labels, end: i + 1 };
    const eq = line.indexOf('=', i);
    if (eq < 0) throw new Error('label without "="');
    const key = line.slice(i, eq).trim();
    i = eq + 1;
    while (line[i] === ' ') i++;
    if (line[i] !== '"') throw new Error(`label ${key} has no quoted value`);
    i++;
    let v = '';
    for (; i < n && line[i] !== '"'; i++) {
      if (line[i] === '\\' && i + 1 < n) {
        const c = line[++i];
        v += c === 'n' ? '\n' : c;
      } else v += line[i];
    }
    if (i >= n) throw new Error(`label ${key} value is not closed`);
    labels[key] = v;
    i++;
  }
}

/** Parse Prometheus text exposition (version 0.0.4). Lines that cannot be parsed are skipped and counted. */
export function parseExposition(text: string): Exposition & { badLines: number } {
  const out: Exposition & { badLines: number } = { samples: [], help: {}, type: {}, badLines: 0 };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)\s*(.*)$/.exec(line);
      if (m) (m[1] === 'HELP' ? out.help : out.type)[m[2]!] = m[3]!;
      continue;
    }
    try {
      const nameEnd = line.search(/[{\s]/);
      if (nameEnd <= 0) throw new Error('no metric name');
      const name = line.slice(0, nameEnd);
      let labels: Record<string, string> = {};
      let rest: string;
      if (line[nameEnd] === '{') {
        const p = parseLabels(line, nameEnd + 1);
        labels = p.labels;
        rest = line.slice(p.end).trim();
      } else rest = line.slice(nameEnd).trim();
      const [vTok, tsTok] = rest.split(/\s+/);
      if (vTok === undefined || vTok === '') throw new Error('no value');
      const value = parseValue(vTok);
      if (Number.isNaN(value) && vTok !== 'NaN') throw new Error(`value '${vTok}' is not a number`);
      const ts = tsTok !== undefined ? Number(tsTok) : undefined;
      out.samples.push({ name, labels, value, ...(ts !== undefined && Number.isFinite(ts) ? { timestampMs: ts } : {}) });
    } catch {
      out.badLines++;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// The HTTP API's JSON (query and query_range responses). Pure.

export interface ApiSeries { labels: Record<string, string>; points: Array<{ tS: number; value: number }> }

/** Parse a /api/v1/query or /api/v1/query_range response body into series of (unix seconds, value). */
export function parseApiResponse(body: unknown): { resultType: string; series: ApiSeries[] } {
  const b = body as { status?: string; errorType?: string; error?: string; data?: { resultType?: string; result?: unknown } };
  if (!b || typeof b !== 'object') throw new Error('the Prometheus API answered with something that is not a JSON object');
  if (b.status !== 'success') throw new Error(`Prometheus API error${b.errorType ? ` (${b.errorType})` : ''}: ${b.error ?? 'no message'}`);
  const rt = b.data?.resultType ?? '';
  const result = b.data?.result;
  const series: ApiSeries[] = [];
  const point = (p: unknown) => {
    const [t, v] = p as [number, string];
    return { tS: Number(t), value: parseValue(String(v)) };
  };
  if (rt === 'matrix' && Array.isArray(result)) {
    for (const r of result as Array<{ metric?: Record<string, string>; values?: unknown[] }>) series.push({ labels: r.metric ?? {}, points: (r.values ?? []).map(point) });
  } else if (rt === 'vector' && Array.isArray(result)) {
    for (const r of result as Array<{ metric?: Record<string, string>; value?: unknown }>) series.push({ labels: r.metric ?? {}, points: r.value ? [point(r.value)] : [] });
  } else if (rt === 'scalar' && Array.isArray(result)) {
    series.push({ labels: {}, points: [point(result)] });
  } else {
    throw new Error(`unexpected Prometheus result type '${rt}'`);
  }
  return { resultType: rt, series };
}

// ---------------------------------------------------------------------------------------------------------------
// What each exporter serves.

export type ExporterId = 'dcgm' | 'npu' | 'amd' | 'kepler';

export interface MetricSpec {
  name: string;
  quantity: 'power' | 'energy';
  /** Multiply a value by this to get W (power) or J (energy). */
  scale: number;
  /** Values at or above this are "unsupported" sentinels, not readings. */
  blankAtOrAbove?: number;
  semantics: 'instantaneous' | 'windowed-average';
  note?: string;
}

export interface ExporterSpec {
  id: ExporterId;
  title: string;
  vendor: string;
  scope: Scope;
  kind: Device['kind'];
  /** In order of preference: an energy counter first where the exporter has one. */
  metrics: MetricSpec[];
  /** Label(s) that name one device within a host, first present wins. */
  deviceLabels: string[];
  nameLabels: string[];
  hostLabels: string[];
  uuidLabels: string[];
  /** The exporter's own default collection period, where documented (used when it cannot be measured). */
  defaultCollectMs?: number;
}

/** 2^47: DCGM_FP64_BLANK; DCGM's "not found / not supported / no permission" follow it. */
export const DCGM_FP64_BLANK = 2 ** 47;
/** int64 sentinels sit just below 2^63 (DCGM_INT64_BLANK = 0x7ffffffffffffff0); anything this close is not energy. */
export const DCGM_INT64_BLANK_MIN = 2 ** 63 - 2 ** 16;

export const EXPORTERS: Record<ExporterId, ExporterSpec> = {
  dcgm: {
    id: 'dcgm', title: 'NVIDIA dcgm-exporter', vendor: 'NVIDIA', scope: 'device', kind: 'accelerator',
    metrics: [
      { name: 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', quantity: 'energy', scale: 1e-3, blankAtOrAbove: DCGM_INT64_BLANK_MIN, semantics: 'instantaneous', note: 'DCGM field 156, mJ since driver load' },
      { name: 'DCGM_FI_DEV_POWER_USAGE', quantity: 'power', scale: 1, blankAtOrAbove: DCGM_FP64_BLANK, semantics: 'instantaneous', note: 'DCGM field 155 (NVML power usage: a 1 s average on Ampere and newer except A100)' },
    ],
    deviceLabels: ['gpu'], nameLabels: ['modelName'], hostLabels: ['Hostname', 'hostname', 'instance'], uuidLabels: ['UUID'],
    defaultCollectMs: 30000,
  },
  npu: {
    id: 'npu', title: 'Ascend npu-exporter', vendor: 'Huawei', scope: 'device', kind: 'accelerator',
    metrics: [{ name: 'npu_chip_info_power', quantity: 'power', scale: 1, semantics: 'instantaneous', note: 'npu-exporter chip power, W' }],
    deviceLabels: ['id'], nameLabels: ['model_name'], hostLabels: ['node', 'hostname', 'instance'], uuidLabels: ['vdie_id'],
  },
  amd: {
    id: 'amd', title: 'AMD device-metrics-exporter', vendor: 'AMD', scope: 'device', kind: 'accelerator',
    metrics: [
      { name: 'gpu_energy_consumed', quantity: 'energy', scale: 1e-6, semantics: 'instantaneous', note: 'energy counter, µJ' },
      { name: 'gpu_package_power', quantity: 'power', scale: 1, semantics: 'instantaneous', note: 'package power, W' },
      { name: 'gpu_power_usage', quantity: 'power', scale: 1, semantics: 'instantaneous', note: 'power usage, W (older exporter versions)' },
      { name: 'gpu_average_package_power', quantity: 'power', scale: 1, semantics: 'windowed-average', note: 'average package power, W' },
    ],
    deviceLabels: ['gpu_id', 'GPU_ID', 'gpu_uuid', 'GPU_UUID'], nameLabels: ['card_model', 'card_series'], hostLabels: ['hostname', 'instance'], uuidLabels: ['gpu_uuid', 'GPU_UUID'],
  },
  kepler: {
    id: 'kepler', title: 'Kepler', vendor: 'Kepler', scope: 'node', kind: 'node',
    metrics: [
      { name: 'kepler_node_platform_joules_total', quantity: 'energy', scale: 1, semantics: 'instantaneous', note: 'node platform energy, J' },
      { name: 'kepler_platform_watts', quantity: 'power', scale: 1, semantics: 'instantaneous', note: 'node platform power from the BMC (Redfish), W' },
    ],
    deviceLabels: ['source_id'], nameLabels: ['source_name'], hostLabels: ['node_name', 'instance'], uuidLabels: [],
  },
};

const UNITS: Record<string, { quantity: 'power' | 'energy'; scale: number }> = {
  w: { quantity: 'power', scale: 1 }, mw: { quantity: 'power', scale: 1e-3 }, kw: { quantity: 'power', scale: 1e3 },
  j: { quantity: 'energy', scale: 1 }, mj: { quantity: 'energy', scale: 1e-3 }, uj: { quantity: 'energy', scale: 1e-6 }, 'µj': { quantity: 'energy', scale: 1e-6 },
  kwh: { quantity: 'energy', scale: 3.6e6 },
};

export function isBlank(spec: MetricSpec, v: number): boolean {
  return !Number.isFinite(v) || v < 0 || (spec.blankAtOrAbove !== undefined && v >= spec.blankAtOrAbove);
}

/** Find the spec for a metric name among the known exporters. */
export function knownMetric(name: string): { exporter: ExporterSpec; metric: MetricSpec } | undefined {
  for (const e of Object.values(EXPORTERS)) {
    const m = e.metrics.find((x) => x.name === name);
    if (m) return { exporter: e, metric: m };
  }
  return undefined;
}

/** Which metrics to try, from the options: metric= (with unit= unless known), exporter=, or every known one. */
export function metricCandidates(options: Record<string, string>): Array<{ exporter: ExporterSpec; metric: MetricSpec }> {
  const want = options.exporter?.toLowerCase();
  if (want && !(want in EXPORTERS)) throw new Error(`exporter '${options.exporter}' is not one of ${Object.keys(EXPORTERS).join(', ')}`);
  if (options.metric) {
    const known = knownMetric(options.metric);
    const unit = options.unit?.toLowerCase();
    if (unit && !UNITS[unit]) throw new Error(`unit '${options.unit}' is not one of W, mW, kW, J, mJ, uJ, kWh`);
    if (!known && !unit) throw new Error(`metric ${options.metric} is not a known exporter metric: say its unit with unit=W (or mW, kW, J, mJ, uJ, kWh)`);
    const base = want ? EXPORTERS[want as ExporterId] : known?.exporter ?? { ...EXPORTERS.dcgm, id: 'dcgm' as const, title: 'custom metric', vendor: 'unknown', deviceLabels: ['gpu', 'id', 'gpu_id', 'device'], nameLabels: [] };
    const metric: MetricSpec = unit ? { name: options.metric, quantity: UNITS[unit]!.quantity, scale: UNITS[unit]!.scale, semantics: 'instantaneous', blankAtOrAbove: known?.metric.blankAtOrAbove } : known!.metric;
    return [{ exporter: base, metric }];
  }
  const exporters = want ? [EXPORTERS[want as ExporterId]] : Object.values(EXPORTERS);
  return exporters.flatMap((e) => e.metrics.map((m) => ({ exporter: e, metric: m })));
}

/** Normalize a label selector option: `a="b",c=~"d"` or `{a="b"}`; `{host}` becomes this machine's short host name. */
export function normalizeSelector(sel: string | undefined, hostname = os.hostname()): string {
  if (!sel) return '';
  let s = sel.trim().replaceAll('{host}', hostname.split('.')[0]!);
  if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1);
  return s;
}

export function seriesSelector(metric: string, sel: string): string {
  return sel ? `${metric}{${sel}}` : metric;
}

// ---------------------------------------------------------------------------------------------------------------
// Series → devices.

export interface SeriesDevice { key: string; device: Device; labels: Record<string, string> }

function firstLabel(labels: Record<string, string>, names: string[]): string | undefined {
  for (const n of names) if (labels[n] !== undefined && labels[n] !== '') return labels[n];
  return undefined;
}

/** The label set that identifies a series, for matching later samples to a device. */
export function seriesKey(labels: Record<string, string>): string {
  return Object.keys(labels).filter((k) => k !== '__name__').sort().map((k) => `${k}=${labels[k]}`).join(',');
}

/**
 * One device per series. Kepler's platform watts may hold both the PowerSupply series (modern PowerSubsystem API)
 * and a PowerControl series for the same node: counting both would double the node's power, so only one kind is kept.
 */
export function devicesFromSeries(exp: ExporterSpec, metric: MetricSpec, series: Array<{ labels: Record<string, string>; latest?: number }>): { devices: SeriesDevice[]; dropped: string[] } {
  const dropped: string[] = [];
  let kept = series.filter((s) => {
    if (s.latest !== undefined && isBlank(metric, s.latest)) { dropped.push(`${seriesKey(s.labels)} (unsupported value ${s.latest})`); return false; }
    return true;
  });
  if (exp.id === 'kepler' && kept.some((s) => s.labels.source_type === 'PowerSupply') && kept.some((s) => s.labels.source_type && s.labels.source_type !== 'PowerSupply')) {
    kept = kept.filter((s) => {
      if (s.labels.source_type === 'PowerSupply') return true;
      dropped.push(`${seriesKey(s.labels)} (PowerControl duplicates the power supplies)`);
      return false;
    });
  }
  const keyOf = (labels: Record<string, string>) => firstLabel(labels, exp.deviceLabels) ?? (Object.keys(labels).filter((k) => !['__name__', 'job', 'instance'].includes(k)).sort().map((k) => labels[k]).join('/') || '0');
  const hosts = new Set(kept.map((s) => firstLabel(s.labels, exp.hostLabels) ?? ''));
  const devices = kept.map((s, i) => {
    const local = keyOf(s.labels);
    const key = hosts.size > 1 ? `${firstLabel(s.labels, exp.hostLabels) ?? '?'}/${local}` : local;
    const uuid = firstLabel(s.labels, exp.uuidLabels);
    const idx = Number(local);
    const device: Device = {
      id: `prometheus:${key}`.slice(0, 128), index: Number.isInteger(idx) && idx >= 0 && hosts.size <= 1 ? idx : i,
      vendor: exp.vendor, name: (firstLabel(s.labels, exp.nameLabels) ?? `${exp.title} ${metric.quantity === 'energy' ? 'energy' : 'power'} series`).slice(0, 256), kind: exp.kind,
      ...(uuid ? { uuid: uuid.slice(0, 128) } : {}),
    };
    return { key: seriesKey(s.labels), device, labels: s.labels };
  });
  // indices must be unique for --devices
  const seen = new Set<number>();
  for (const [i, d] of devices.entries()) { if (seen.has(d.device.index!)) d.device.index = i + 1000; seen.add(d.device.index!); }
  return { devices, dropped };
}

/** Median spacing of timestamps and of value changes, ms: the scrape interval and the exporter's own update period. */
export function measureUpdatePeriods(points: Array<{ tS: number; value: number }>): { scrapeMs?: number; changeMs?: number } {
  const med = (d: number[]) => { d.sort((a, b) => a - b); return d.length ? d[Math.floor(d.length / 2)]! : undefined; };
  const spacing: number[] = [];
  const changes: number[] = [];
  let lastChangeT: number | undefined;
  for (let i = 1; i < points.length; i++) {
    spacing.push((points[i]!.tS - points[i - 1]!.tS) * 1000);
    if (points[i]!.value !== points[i - 1]!.value) {
      if (lastChangeT !== undefined) changes.push((points[i]!.tS - lastChangeT) * 1000);
      lastChangeT = points[i]!.tS;
    }
  }
  return { scrapeMs: med(spacing), changeMs: changes.length >= 2 ? med(changes) : undefined };
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP.

function authHeaders(env: NodeJS.ProcessEnv): Record<string, string> {
  // credentials come from the environment only, so they never reach a suite file, a result or a log
  if (env.WATTBENCH_PROMETHEUS_TOKEN) return { authorization: `Bearer ${env.WATTBENCH_PROMETHEUS_TOKEN}` };
  if (env.WATTBENCH_PROMETHEUS_USER) return { authorization: `Basic ${Buffer.from(`${env.WATTBENCH_PROMETHEUS_USER}:${env.WATTBENCH_PROMETHEUS_PASSWORD ?? ''}`).toString('base64')}` };
  return {};
}

async function httpGet(url: string, env: NodeJS.ProcessEnv, timeoutMs: number, signal?: AbortSignal): Promise<string> {
  const ctrl = AbortSignal.timeout(timeoutMs);
  const sig = signal ? AbortSignal.any([ctrl, signal]) : ctrl;
  let res: Response;
  try {
    res = await fetch(url, { headers: authHeaders(env), signal: sig });
  } catch (err) {
    const c = (err as { cause?: { code?: string; message?: string; errors?: Array<{ code?: string }> } }).cause;
    const why = c?.code ?? c?.errors?.[0]?.code ?? c?.message ?? (err as Error).message;
    throw new Error(`cannot reach ${redact(url)}: ${why}`);
  }
  const text = await res.text();
  if (!res.ok && !text.trimStart().startsWith('{')) throw new Error(`${redact(url)} answered HTTP ${res.status}`);
  return text;
}

function redact(url: string): string {
  try { const u = new URL(url); u.username = ''; u.password = ''; return `${u.origin}${u.pathname}`; } catch { return url; }
}

export class PromClient {
  constructor(readonly base: string, private readonly env: NodeJS.ProcessEnv, private readonly timeoutMs = 10000) {}
  private async api(path: string, params: Record<string, string>, signal?: AbortSignal) {
    const u = new URL(path, this.base.endsWith('/') ? this.base : this.base + '/');
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    const text = await httpGet(u.toString(), this.env, this.timeoutMs, signal);
    let body: unknown;
    try { body = JSON.parse(text); } catch { throw new Error(`${redact(u.toString())} did not answer JSON (is this the Prometheus server URL?)`); }
    return parseApiResponse(body);
  }
  query(expr: string, signal?: AbortSignal, timeS?: number) { return this.api('api/v1/query', { query: expr, ...(timeS !== undefined ? { time: timeS.toFixed(3) } : {}) }, signal); }
  queryRange(expr: string, startS: number, endS: number, stepS: number, signal?: AbortSignal) {
    return this.api('api/v1/query_range', { query: expr, start: startS.toFixed(3), end: endS.toFixed(3), step: Math.max(0.001, stepS).toFixed(3) }, signal);
  }
  /** Server clock minus ours, ms, from the probe with the shortest round trip. */
  async clockOffset(signal?: AbortSignal, probes = 5): Promise<{ offsetMs: number; rttMs: number }> {
    let best: { offsetMs: number; rttMs: number } | undefined;
    for (let i = 0; i < probes; i++) {
      const t0 = Date.now();
      const r = await this.query('time()', signal);
      const t1 = Date.now();
      const server = (r.series[0]?.points[0]?.tS ?? NaN) * 1000;
      if (!Number.isFinite(server)) continue;
      const cand = { offsetMs: server - (t0 + t1) / 2, rttMs: t1 - t0 };
      if (!best || cand.rttMs < best.rttMs) best = cand;
    }
    if (!best) throw new Error('the server did not answer time()');
    return best;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The driver.

interface Private {
  mode: 'server' | 'direct';
  exporter: ExporterSpec;
  metric: MetricSpec;
  selector: string;
  devices: SeriesDevice[];
  scrapeMs: number;
  /** Server mode: how samples are fetched. */
  fetchMode: 'raw' | 'range';
}

export function optionsOf(ctx: { options: Record<string, string>; env: NodeJS.ProcessEnv }): { url?: string; scrape?: string } {
  return { url: ctx.options.url ?? ctx.env.WATTBENCH_PROMETHEUS_URL, scrape: ctx.options.scrape };
}

function badUrl(u: string): string | undefined {
  try {
    const p = new URL(u);
    if (p.protocol !== 'http:' && p.protocol !== 'https:') return `${u} is not an http(s) URL`;
    if (p.username || p.password) return 'credentials in the URL are refused (they would end up in logs): set WATTBENCH_PROMETHEUS_USER/WATTBENCH_PROMETHEUS_PASSWORD or WATTBENCH_PROMETHEUS_TOKEN instead';
    return undefined;
  } catch { return `'${u}' is not a URL`; }
}

async function probeServer(url: string, ctx: { options: Record<string, string>; env: NodeJS.ProcessEnv; signal?: AbortSignal }): Promise<ProbeResult> {
  const client = new PromClient(url, ctx.env, 5000);
  const sel = normalizeSelector(ctx.options.selector);
  let cands;
  try { cands = metricCandidates(ctx.options); } catch (err) { return { state: 'unavailable', code: 'not-configured', reason: (err as Error).message }; }
  const tried: string[] = [];
  for (const c of cands) {
    const q = seriesSelector(c.metric.name, sel);
    let latest;
    try { latest = await client.query(q, ctx.signal); } catch (err) { return { state: 'unavailable', code: 'error', reason: (err as Error).message }; }
    tried.push(q);
    if (!latest.series.length) continue;
    const { devices, dropped } = devicesFromSeries(c.exporter, c.metric, latest.series.map((s) => ({ labels: s.labels, latest: s.points[0]?.value })));
    if (!devices.length) { tried[tried.length - 1] += ` (every series unsupported: ${dropped[0]})`; continue; }
    // the stored samples of the last two minutes say how often a new value really arrives
    let scrapeMs: number | undefined, changeMs: number | undefined;
    try {
      const raw = await client.query(`${q}[2m]`, ctx.signal);
      const periods = raw.series.map((s) => measureUpdatePeriods(s.points));
      const med = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      scrapeMs = med(periods.map((p) => p.scrapeMs).filter((x): x is number => x !== undefined));
      changeMs = med(periods.map((p) => p.changeMs).filter((x): x is number => x !== undefined));
    } catch { /* fall back below */ }
    const given = ctx.options['scrape-interval-ms'] ? Number(ctx.options['scrape-interval-ms']) : undefined;
    scrapeMs = scrapeMs ?? given ?? 15000;
    const collectMs = ctx.options['collect-interval-ms'] ? Number(ctx.options['collect-interval-ms']) : changeMs;
    const updatePeriodMs = Math.max(scrapeMs, collectMs ?? 0);
    const fetchMode = (ctx.options.fetch ?? 'raw') === 'range' ? 'range' : 'raw';
    const semantics: Semantics = {
      kind: c.metric.quantity === 'energy' ? 'energy-counter' : c.metric.semantics,
      updatePeriodMs,
      field: c.metric.name,
      ...(c.metric.quantity === 'energy' ? { counterResolutionJ: c.metric.scale } : {}),
      note: `${c.exporter.title} via Prometheus (${fetchMode === 'range' ? 'query_range after the run' : 'raw samples while sampling'}); scrape interval ${scrapeMs.toFixed(0)} ms`
        + (collectMs !== undefined ? `, new values every ${collectMs.toFixed(0)} ms` : c.exporter.defaultCollectMs ? `, exporter default collection ${c.exporter.defaultCollectMs} ms (not measured)` : '')
        + (c.metric.note ? `; ${c.metric.note}` : '') + (dropped.length ? `; left out: ${dropped.join('; ').slice(0, 300)}` : ''),
    };
    if (collectMs === undefined && c.exporter.defaultCollectMs) semantics.updatePeriodMs = Math.max(updatePeriodMs, c.exporter.defaultCollectMs);
    return {
      state: 'ok', devices: devices.map((d) => d.device), semantics, scope: c.exporter.scope,
      software: { prometheusQuery: q.slice(0, 256) },
      private: { mode: 'server', exporter: c.exporter, metric: c.metric, selector: sel, devices, scrapeMs, fetchMode } satisfies Private,
    };
  }
  return { state: 'unavailable', code: 'no-power-field', reason: `Prometheus at ${redact(url).replace(/\/$/, '')} has no power or energy series for: ${tried.join(', ').slice(0, 1500)} — pass exporter=, metric= (with unit=) or fix selector=` };
}

async function probeDirect(scrape: string, ctx: { options: Record<string, string>; env: NodeJS.ProcessEnv; signal?: AbortSignal }): Promise<ProbeResult> {
  let text: string;
  try { text = await httpGet(scrape, ctx.env, 5000, ctx.signal); } catch (err) { return { state: 'unavailable', code: 'error', reason: (err as Error).message }; }
  const expo = parseExposition(text);
  let cands;
  try { cands = metricCandidates(ctx.options); } catch (err) { return { state: 'unavailable', code: 'not-configured', reason: (err as Error).message }; }
  const sel = parseSelectorEquals(normalizeSelector(ctx.options.selector));
  for (const c of cands) {
    const series = expo.samples.filter((s) => s.name === c.metric.name && matchesEquals(s.labels, sel));
    if (!series.length) continue;
    const { devices, dropped } = devicesFromSeries(c.exporter, c.metric, series.map((s) => ({ labels: { __name__: s.name, ...s.labels }, latest: s.value })));
    if (!devices.length) continue;
    const collectMs = ctx.options['collect-interval-ms'] ? Number(ctx.options['collect-interval-ms']) : c.exporter.defaultCollectMs;
    const semantics: Semantics = {
      kind: c.metric.quantity === 'energy' ? 'energy-counter' : c.metric.semantics,
      ...(collectMs !== undefined ? { updatePeriodMs: collectMs } : {}),
      field: c.metric.name,
      ...(c.metric.quantity === 'energy' ? { counterResolutionJ: c.metric.scale } : {}),
      note: `${c.exporter.title} scraped directly at ${redact(scrape)}` + (collectMs !== undefined ? `; the exporter collects every ${collectMs} ms${ctx.options['collect-interval-ms'] ? '' : ' by default (pass collect-interval-ms= if it was started otherwise)'}` : '')
        + (c.metric.note ? `; ${c.metric.note}` : '') + (dropped.length ? `; left out: ${dropped.join('; ').slice(0, 300)}` : ''),
    };
    return {
      state: 'ok', devices: devices.map((d) => d.device), semantics, scope: c.exporter.scope,
      private: { mode: 'direct', exporter: c.exporter, metric: c.metric, selector: ctx.options.selector ?? '', devices, scrapeMs: 0, fetchMode: 'raw' } satisfies Private,
    };
  }
  return { state: 'unavailable', code: 'no-power-field', reason: `${redact(scrape)} serves none of ${cands.map((c) => c.metric.name).join(', ')}${expo.samples.length ? '' : ' (no samples at all: is this a /metrics page?)'}` };
}

/** Direct mode filters with plain equality matchers only (a="b"); regex matchers need a Prometheus server. */
export function parseSelectorEquals(sel: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!sel) return out;
  const re = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(sel))) { out[m[1]!] = m[2]!.replace(/\\(.)/g, '$1'); end = re.lastIndex; }
  if (end !== sel.length) throw new Error(`selector '${sel}' uses more than label="value" matchers, which need a Prometheus server (url=)`);
  return out;
}

function matchesEquals(labels: Record<string, string>, want: Record<string, string>): boolean {
  return Object.entries(want).every(([k, v]) => labels[k] === v);
}

/** Turn wall-clock ms into run-clock seconds against a fresh (nowS, Date.now()) pair, so wall steps before now do not matter. */
function toRunS(clock: RunClock, wallMs: number): number {
  return clock.nowS() + (wallMs - Date.now()) / 1000;
}

function emit(sink: SamplerSink, metric: MetricSpec, deviceId: string, tS: number, v: number): boolean {
  if (isBlank(metric, v)) return false;
  sink.sample(metric.quantity === 'energy' ? { tS, sourceId: 'prometheus', deviceId, energyJ: v * metric.scale } : { tS, sourceId: 'prometheus', deviceId, powerW: v * metric.scale });
  return true;
}

export const prometheus: Driver = {
  meta: {
    id: 'prometheus', title: 'Prometheus (dcgm-exporter, npu-exporter, AMD device-metrics-exporter, Kepler)', vendor: 'data center', scope: 'device', priority: 40, // below the vendors' own tools (finer updates), above node and host power
    defaultIntervalMs: 1000, minIntervalMs: 100,
    options: {
      url: 'Prometheus server URL, e.g. http://prometheus:9090 (or WATTBENCH_PROMETHEUS_URL); credentials only from WATTBENCH_PROMETHEUS_TOKEN or WATTBENCH_PROMETHEUS_USER/_PASSWORD',
      scrape: 'instead of url: an exporter /metrics URL to read directly, e.g. http://localhost:9400/metrics',
      exporter: 'dcgm | npu | amd | kepler (default: the first whose metrics exist)',
      metric: 'metric name to read instead of the exporter defaults (unit= needed unless it is a known one)',
      unit: 'unit of metric=: W, mW, kW (power) or J, mJ, uJ, kWh (energy counter)',
      selector: 'label matchers, e.g. Hostname="{host}" ({host} = this machine\'s short host name)',
      fetch: 'raw (default: stored samples while sampling) or range (query_range after the run)',
      'scrape-interval-ms': 'scrape interval to assume when Prometheus holds too few samples to measure it',
      'collect-interval-ms': 'the exporter\'s own collection period, when it cannot be measured (dcgm-exporter -c, default 30000)',
      'flush-wait-ms': 'how long stop() waits for a sample past the end of sampling (default: scrape interval + 1.5 s)',
    },
  },
  async probe(ctx): Promise<ProbeResult> {
    const { url, scrape } = optionsOf(ctx);
    if (!url && !scrape) return { state: 'unavailable', code: 'not-configured', reason: 'no Prometheus given — pass --source prometheus --source-opt url=http://PROMETHEUS:9090 (or scrape=http://EXPORTER:9400/metrics)' };
    const bad = badUrl((url ?? scrape)!);
    if (bad) return { state: 'unavailable', code: 'not-configured', reason: bad };
    return url ? probeServer(url, ctx) : probeDirect(scrape!, ctx);
  },
  async start(opts) {
    const p = opts.probe.private as Private;
    const wanted = new Map(p.devices.filter((d) => opts.devices.some((x) => x.id === d.device.id)).map((d) => [d.key, d.device.id]));
    let notes = 0;
    const note = (m: string) => { if (++notes <= 5) opts.sink.note(`prometheus: ${m}`); };
    let stopped = false;
    const loopAbort = new AbortController();
    const onAbort = () => loopAbort.abort();
    opts.signal.addEventListener('abort', onAbort, { once: true });

    if (p.mode === 'direct') {
      const { scrape } = optionsOf(opts);
      const sel = parseSelectorEquals(normalizeSelector(opts.options.selector));
      const run = (async () => {
        let next = opts.clock.nowS();
        while (!stopped && !loopAbort.signal.aborted) {
          const t0 = opts.clock.nowS();
          try {
            const text = await httpGet(scrape!, opts.env, Math.max(2000, 3 * opts.intervalMs), loopAbort.signal);
            const t1 = opts.clock.nowS();
            for (const s of parseExposition(text).samples) {
              if (s.name !== p.metric.name || !matchesEquals(s.labels, sel)) continue;
              const id = wanted.get(seriesKey({ __name__: s.name, ...s.labels }));
              // an explicit exporter timestamp says when the value was taken; else the middle of our request
              if (id) emit(opts.sink, p.metric, id, s.timestampMs !== undefined ? toRunS(opts.clock, s.timestampMs) : (t0 + t1) / 2, s.value);
            }
          } catch (err) { if (!loopAbort.signal.aborted) note((err as Error).message); }
          next += opts.intervalMs / 1000;
          const now = opts.clock.nowS();
          if (next < now) next = now;
          await sleepMs((next - now) * 1000, loopAbort.signal);
        }
      })();
      return { stop: async () => { stopped = true; loopAbort.abort(); opts.signal.removeEventListener('abort', onAbort); await run; } };
    }

    const { url } = optionsOf(opts);
    const client = new PromClient(url!, opts.env);
    let offsetMs = 0;
    try {
      const o = await client.clockOffset(opts.signal);
      offsetMs = o.offsetMs;
      if (Math.abs(offsetMs) > 50) note(`the Prometheus server's clock is ${offsetMs.toFixed(0)} ms off ours (round trip ${o.rttMs.toFixed(0)} ms); its timestamps are corrected by that`);
    } catch (err) { note(`could not measure the server's clock offset (${(err as Error).message}); assuming 0`); }
    // Prometheus time (s) → our run clock
    const runS = (promS: number) => toRunS(opts.clock, promS * 1000 - offsetMs);
    const q = seriesSelector(p.metric.name, p.selector);
    const lastTs = new Map<string, number>();
    const startWallS = (Date.now() + offsetMs) / 1000;
    const ingest = (series: ApiSeries[]) => {
      let latest = 0;
      for (const s of series) {
        const key = seriesKey(s.labels);
        const id = wanted.get(key);
        if (!id) continue;
        let last = lastTs.get(key) ?? -Infinity;
        for (const pt of s.points) {
          if (pt.tS <= last) continue;
          emit(opts.sink, p.metric, id, runS(pt.tS), pt.value);
          last = pt.tS;
        }
        lastTs.set(key, last);
        latest = Math.max(latest, last);
      }
      return latest;
    };
    const scrapeS = p.scrapeMs / 1000;
    const flushMs = opts.options['flush-wait-ms'] !== undefined ? Number(opts.options['flush-wait-ms']) : p.scrapeMs + 1500;
    // wait (bounded) until every device has a stored sample past `untilS`, so the end of the last window is covered
    const flush = async (untilS: number, poll: () => Promise<void>) => {
      const deadline = Date.now() + flushMs;
      for (;;) {
        await poll().catch((err) => note((err as Error).message));
        const behind = [...wanted.keys()].some((k) => (lastTs.get(k) ?? -Infinity) < untilS);
        if (!behind || Date.now() >= deadline) return;
        await sleepMs(Math.min(250, deadline - Date.now()));
      }
    };

    if (p.fetchMode === 'range') {
      const fetchRange = async (endS: number) => {
        const fromS = startWallS - 2 * scrapeS;
        // a step at half the scrape interval sees every stored sample; timestamp() returns each one's own time
        const stepS = Math.max(0.05, scrapeS / 2);
        const maxPoints = 10000;
        for (let a = fromS; a < endS; a += stepS * maxPoints) {
          const b = Math.min(endS, a + stepS * (maxPoints - 1));
          const [vals, times] = await Promise.all([client.queryRange(q, a, b, stepS), client.queryRange(`timestamp(${q})`, a, b, stepS)]);
          const byKey = new Map(times.series.map((s) => [seriesKey(s.labels), s.points]));
          const raw: ApiSeries[] = vals.series.map((s) => {
            // timestamp() drops the metric name, and seriesKey() ignores it, so both sides match
            const at = new Map((byKey.get(seriesKey(s.labels)) ?? []).map((x) => [x.tS, x.value]));
            const seen = new Set<number>();
            const points: Array<{ tS: number; value: number }> = [];
            for (const pt of s.points) {
              const t = at.get(pt.tS);
              if (t === undefined || seen.has(t)) continue;
              seen.add(t);
              points.push({ tS: t, value: pt.value });
            }
            return { labels: s.labels, points };
          });
          ingest(raw);
        }
      };
      return {
        command: [`GET ${redact(url!).replace(/\/$/, '')}/api/v1/query_range`, q],
        stop: async () => {
          stopped = true;
          opts.signal.removeEventListener('abort', onAbort);
          const endS = (Date.now() + offsetMs) / 1000;
          // wait (cheaply, with timestamp() of the latest samples) for a stored sample past the end, then fetch once
          const deadline = Date.now() + flushMs;
          for (;;) {
            const latest = await client.query(`timestamp(${q})`).catch(() => undefined);
            const ok = latest && [...wanted.keys()].every((k) => (latest.series.find((x) => seriesKey(x.labels) === k)?.points[0]?.value ?? -Infinity) >= endS);
            if (ok || Date.now() >= deadline) break;
            await sleepMs(Math.min(250, deadline - Date.now()));
          }
          await fetchRange((Date.now() + offsetMs) / 1000 + scrapeS);
        },
      };
    }

    const pollRaw = async () => {
      const nowS = (Date.now() + offsetMs) / 1000;
      const known = [...wanted.keys()].map((k) => lastTs.get(k)).filter((x): x is number => x !== undefined && Number.isFinite(x));
      const since = known.length === wanted.size ? Math.min(...known) : startWallS - 2 * scrapeS;
      const lookbackS = Math.min(3600, Math.max(2 * scrapeS, nowS - since + scrapeS));
      ingest((await client.query(`${q}[${Math.ceil(lookbackS * 1000)}ms]`, loopAbort.signal)).series);
    };
    const run = (async () => {
      let next = opts.clock.nowS();
      while (!stopped && !loopAbort.signal.aborted) {
        try { await pollRaw(); } catch (err) { if (!loopAbort.signal.aborted) note((err as Error).message); }
        next += Math.max(opts.intervalMs, p.scrapeMs / 2) / 1000;
        const now = opts.clock.nowS();
        if (next < now) next = now;
        await sleepMs((next - now) * 1000, loopAbort.signal);
      }
    })();
    return {
      command: [`GET ${redact(url!).replace(/\/$/, '')}/api/v1/query`, `${q}[…]`],
      stop: async () => {
        stopped = true;
        loopAbort.abort();
        opts.signal.removeEventListener('abort', onAbort);
        await run;
        const endS = (Date.now() + offsetMs) / 1000;
        await flush(endS, async () => {
          const known = [...lastTs.values()].filter(Number.isFinite);
          const since = known.length ? Math.min(...known) : startWallS - 2 * scrapeS;
          const lookbackS = Math.min(3600, Math.max(2 * scrapeS, endS - since + 2 * scrapeS));
          ingest((await client.query(`${q}[${Math.ceil(lookbackS * 1000)}ms]`)).series);
        });
      },
    };
  },
};
