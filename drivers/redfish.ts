// redfish: node power from the BMC's Redfish service (DMTF). Scope = node. Where the chassis has the newer
// EnvironmentMetrics resource, PowerWatts.Reading (W) and, where present, EnergyJoules.Reading (a J counter, then
// preferred); else the older Power resource's PowerControl[].PowerConsumedWatts. A resource path can also be
// given directly (a PDU outlet, a power supply's metrics, a Sensor).
//
// Credentials only from the environment (WATTBENCH_REDFISH_USER / WATTBENCH_REDFISH_PASSWORD, or
// WATTBENCH_REDFISH_TOKEN for an X-Auth-Token session); a URL with user:password in it is refused. Nothing of them
// reaches a result, a log or an error message.
import http from 'node:http';
import https from 'node:https';
import type { Driver, ProbeResult } from './driver.js';
import type { Semantics } from '../results/types.gen.js';
import { sleepMs } from '../lib/clock.js';

// ---------------------------------------------------------------------------------------------------------------
// Parsing (pure).

export type RedfishKind = 'EnvironmentMetrics' | 'Power' | 'Sensor' | 'Outlet' | 'PowerSupplyMetrics' | 'PowerDistributionMetrics' | 'Chassis' | 'Collection' | 'other';

export interface RedfishPower {
  kind: RedfishKind;
  powerW?: number;
  energyJ?: number;
  /** Where the reading comes from (a Sensor resource, which may say its SensingInterval). */
  dataSourceUri?: string;
  /** Which field was read, for the result. */
  field?: string;
  /** Energy in kWh where only that is given: far too coarse for a benchmark window, reported but not used. */
  energyKWh?: number;
  note?: string;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
const numOrUndef = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const reading = (v: unknown) => numOrUndef(obj(v)?.Reading);
const uri = (v: unknown) => { const u = obj(v)?.DataSourceUri; return typeof u === 'string' ? u : undefined; };

export function resourceKind(doc: Json): RedfishKind {
  const t = String(doc['@odata.type'] ?? '');
  const m = /^#([A-Za-z]+)\./.exec(t);
  const name = m?.[1] ?? '';
  if (['EnvironmentMetrics', 'Power', 'Sensor', 'Outlet', 'PowerSupplyMetrics', 'PowerDistributionMetrics', 'Chassis'].includes(name)) return name as RedfishKind;
  if (name.endsWith('Collection') || Array.isArray(doc.Members)) return 'Collection';
  return 'other';
}

/** Read power (and energy) from any Redfish resource that carries them. */
export function parseRedfishPower(doc: Json, powerControlIndex?: number): RedfishPower {
  const kind = resourceKind(doc);
  switch (kind) {
    case 'EnvironmentMetrics': case 'Outlet': case 'PowerDistributionMetrics': {
      const energyJ = reading(doc.EnergyJoules);
      return {
        kind, powerW: reading(doc.PowerWatts), dataSourceUri: uri(doc.PowerWatts), field: 'PowerWatts.Reading',
        ...(energyJ !== undefined ? { energyJ, field: 'EnergyJoules.Reading' } : {}),
        ...(reading(doc.EnergykWh) !== undefined ? { energyKWh: reading(doc.EnergykWh) } : {}),
      };
    }
    case 'PowerSupplyMetrics': {
      return { kind, powerW: reading(doc.InputPowerWatts), dataSourceUri: uri(doc.InputPowerWatts), field: 'InputPowerWatts.Reading', ...(reading(doc.EnergykWh) !== undefined ? { energyKWh: reading(doc.EnergykWh) } : {}) };
    }
    case 'Power': {
      const pcs = Array.isArray(doc.PowerControl) ? (doc.PowerControl as unknown[]).map(obj).filter((x): x is Json => !!x) : [];
      const withReading = pcs.map((p, i) => ({ i, w: numOrUndef(p.PowerConsumedWatts), name: String(p.Name ?? `PowerControl ${i}`) })).filter((p) => p.w !== undefined);
      const pick = powerControlIndex !== undefined ? withReading.find((p) => p.i === powerControlIndex) : withReading[0];
      return {
        kind, powerW: pick?.w, field: pick ? `PowerControl[${pick.i}].PowerConsumedWatts` : undefined,
        ...(withReading.length > 1 ? { note: `${withReading.length} PowerControl entries; read ${pick?.name ?? 'none'} (choose with power-control=N)` } : {}),
      };
    }
    case 'Sensor': {
      const units = String(doc.ReadingUnits ?? '');
      const v = numOrUndef(doc.Reading);
      if (units === 'W' || doc.ReadingType === 'Power') return { kind, powerW: v, field: 'Reading' };
      if (units === 'J' || doc.ReadingType === 'EnergyJoules') return { kind, energyJ: v, field: 'Reading' };
      if (units === 'kW.h' || doc.ReadingType === 'EnergykWh') return { kind, energyKWh: v, field: 'Reading' };
      return { kind };
    }
    default:
      return { kind };
  }
}

/** ISO 8601 duration (Redfish SensingInterval, e.g. "PT0.25S", "PT1M") → ms. */
export function isoDurationMs(d: unknown): number | undefined {
  if (typeof d !== 'string') return undefined;
  const m = /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(d);
  if (!m || d === 'P' || d === 'PT') return undefined;
  const [, days, h, min, s] = m;
  return ((Number(days ?? 0) * 24 + Number(h ?? 0)) * 3600 + Number(min ?? 0) * 60 + Number(s ?? 0)) * 1000;
}

/** Links a Chassis resource offers to power readings, in order of preference. */
export function chassisPowerLinks(chassis: Json): string[] {
  const out: string[] = [];
  for (const k of ['EnvironmentMetrics', 'Power']) {
    const id = obj(chassis[k])?.['@odata.id'];
    if (typeof id === 'string') out.push(id);
  }
  return out;
}

export function collectionMembers(doc: Json): string[] {
  return Array.isArray(doc.Members) ? (doc.Members as unknown[]).map((m) => obj(m)?.['@odata.id']).filter((x): x is string => typeof x === 'string') : [];
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP.

export class RedfishClient {
  constructor(readonly base: URL, private readonly env: NodeJS.ProcessEnv, private readonly insecure: boolean, private readonly timeoutMs = 10000) {}

  private headers(): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json', 'odata-version': '4.0' };
    if (this.env.WATTBENCH_REDFISH_TOKEN) h['x-auth-token'] = this.env.WATTBENCH_REDFISH_TOKEN;
    else if (this.env.WATTBENCH_REDFISH_USER) h.authorization = `Basic ${Buffer.from(`${this.env.WATTBENCH_REDFISH_USER}:${this.env.WATTBENCH_REDFISH_PASSWORD ?? ''}`).toString('base64')}`;
    return h;
  }

  get(path: string, signal?: AbortSignal): Promise<Json> {
    const u = new URL(path, this.base);
    const mod = u.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.get(u, { headers: this.headers(), timeout: this.timeoutMs, signal, ...(u.protocol === 'https:' ? { rejectUnauthorized: !this.insecure } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => { size += c.length; if (size <= 8 << 20) chunks.push(c); });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === 401 || res.statusCode === 403) return reject(new Error(`${u.pathname}: HTTP ${res.statusCode} — set WATTBENCH_REDFISH_USER and WATTBENCH_REDFISH_PASSWORD (or WATTBENCH_REDFISH_TOKEN) for the BMC`));
          if (!res.statusCode || res.statusCode >= 400) return reject(new Error(`${u.pathname}: HTTP ${res.statusCode}`));
          try { resolve(JSON.parse(text) as Json); } catch { reject(new Error(`${u.pathname}: not JSON`)); }
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${u.pathname}: no answer within ${this.timeoutMs} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        const hint = /self.signed|certificate/i.test(err.message) ? ' — the BMC certificate is not trusted; pass --source redfish --source-opt insecure=true to accept it' : '';
        reject(new Error(`${u.host}${u.pathname}: ${err.code ?? err.message}${hint}`));
      });
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The driver.

interface Private { path: string; field: string; energy: boolean; powerControl?: number }

function baseUrl(options: Record<string, string>, env: NodeJS.ProcessEnv): { url?: URL; problem?: string } {
  const raw = options.url ?? env.WATTBENCH_REDFISH_URL;
  if (!raw) return { problem: 'no Redfish service given — pass --source redfish --source-opt url=https://BMC (credentials in WATTBENCH_REDFISH_USER / WATTBENCH_REDFISH_PASSWORD)' };
  let u: URL;
  try { u = new URL(raw); } catch { return { problem: `'${raw}' is not a URL` }; }
  if (u.username || u.password) return { problem: 'credentials in the URL are refused (they would end up in logs): set WATTBENCH_REDFISH_USER and WATTBENCH_REDFISH_PASSWORD instead' };
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return { problem: `${raw} is not an http(s) URL` };
  return { url: u };
}

/** Find the resource to poll: the given path, else the first chassis with EnvironmentMetrics or Power that has a reading. */
async function discover(client: RedfishClient, options: Record<string, string>, signal?: AbortSignal): Promise<{ path: string; power: RedfishPower; tried: string[] }> {
  const pcIndex = options['power-control'] !== undefined ? Number(options['power-control']) : undefined;
  const tried: string[] = [];
  const candidates: string[] = [];
  if (options.path) candidates.push(options.path);
  else {
    const chassisIds = options.chassis ? [`/redfish/v1/Chassis/${encodeURIComponent(options.chassis)}`] : collectionMembers(await client.get('/redfish/v1/Chassis', signal));
    for (const c of chassisIds) {
      try { candidates.push(...chassisPowerLinks(await client.get(c, signal))); } catch (err) { tried.push(`${c}: ${(err as Error).message}`); }
    }
  }
  for (const path of candidates) {
    try {
      const power = parseRedfishPower(await client.get(path, signal), pcIndex);
      if (power.powerW !== undefined || power.energyJ !== undefined) return { path, power, tried };
      tried.push(`${path}: no power reading`);
    } catch (err) { tried.push(`${path}: ${(err as Error).message}`); }
  }
  throw new Error(candidates.length ? `no power reading in ${tried.join('; ').slice(0, 800)}` : `no chassis offers EnvironmentMetrics or Power${tried.length ? ` (${tried.join('; ').slice(0, 600)})` : ''} — pass path=/redfish/v1/... of the resource to read`);
}

export const redfish: Driver = {
  meta: {
    id: 'redfish', title: 'BMC node power (Redfish)', vendor: 'Redfish', scope: 'node', priority: 32,
    defaultIntervalMs: 1000, minIntervalMs: 200,
    options: {
      url: 'Redfish service root, e.g. https://bmc.example (or WATTBENCH_REDFISH_URL); user/password only from WATTBENCH_REDFISH_USER / WATTBENCH_REDFISH_PASSWORD, or WATTBENCH_REDFISH_TOKEN',
      chassis: 'chassis id to read (default: the first with a power reading)',
      path: 'a resource path to read instead (EnvironmentMetrics, Power, a Sensor, a PDU Outlet, PowerSupplyMetrics)',
      'power-control': 'which PowerControl entry of the older Power resource (default: the first with a reading)',
      insecure: 'true: accept a self-signed BMC certificate',
    },
  },
  async probe(ctx): Promise<ProbeResult> {
    const b = baseUrl(ctx.options, ctx.env);
    if (!b.url) return { state: 'unavailable', code: 'not-configured', reason: b.problem! };
    const client = new RedfishClient(b.url, ctx.env, ctx.options.insecure === 'true', 8000);
    let found;
    try { found = await discover(client, ctx.options, ctx.signal); } catch (err) {
      const msg = (err as Error).message;
      return { state: 'unavailable', code: /HTTP 40[13]/.test(msg) ? 'permission-denied' : 'error', reason: `Redfish at ${b.url.origin}: ${msg}` };
    }
    // the Sensor behind the reading may say how often it is refreshed
    let sensingMs: number | undefined;
    if (found.power.dataSourceUri) {
      try { sensingMs = isoDurationMs((await client.get(found.power.dataSourceUri, ctx.signal)).SensingInterval); } catch { /* optional */ }
    }
    const energy = found.power.energyJ !== undefined;
    const semantics: Semantics = {
      kind: energy ? 'energy-counter' : 'instantaneous',
      ...(sensingMs !== undefined ? { updatePeriodMs: sensingMs } : {}),
      field: `${found.power.kind} ${found.power.field}`,
      ...(energy ? { counterResolutionJ: 1 } : {}),
      note: `node power from ${found.path}` + (sensingMs !== undefined ? `; sensor refreshed every ${sensingMs} ms (SensingInterval)` : '; refresh period not stated by the BMC')
        + (found.power.energyKWh !== undefined && !energy ? '; an energy counter in kWh exists but is too coarse for a benchmark window' : '') + (found.power.note ? `; ${found.power.note}` : ''),
    };
    return {
      state: 'ok',
      devices: [{ id: 'redfish:node', index: 0, vendor: 'Redfish', name: `node (${found.path})`.slice(0, 256), kind: 'node' }],
      semantics,
      private: { path: found.path, field: found.power.field ?? '', energy, ...(ctx.options['power-control'] !== undefined ? { powerControl: Number(ctx.options['power-control']) } : {}) } satisfies Private,
    };
  },
  async start(opts) {
    const p = opts.probe.private as Private;
    const b = baseUrl(opts.options, opts.env);
    const client = new RedfishClient(b.url!, opts.env, opts.options.insecure === 'true', Math.max(3000, 3 * opts.intervalMs));
    const deviceId = 'redfish:node';
    let stopped = false;
    const ctrl = new AbortController();
    const onAbort = () => ctrl.abort();
    opts.signal.addEventListener('abort', onAbort, { once: true });
    const run = (async () => {
      let next = opts.clock.nowS();
      let failing: { startS: number; reason: string } | undefined;
      let lastOkS = opts.clock.nowS();
      while (!stopped && !ctrl.signal.aborted) {
        const t0 = opts.clock.nowS();
        try {
          const r = parseRedfishPower(await client.get(p.path, ctrl.signal), p.powerControl);
          const t1 = opts.clock.nowS();
          if (r.powerW === undefined && r.energyJ === undefined) throw new Error(`${p.path} had no reading`);
          // stamped at the middle of the request: the BMC's ReadingTime, where given, is whole seconds on its own clock
          opts.sink.sample({ tS: (t0 + t1) / 2, sourceId: 'redfish', deviceId, ...(r.powerW !== undefined ? { powerW: r.powerW } : {}), ...(p.energy && r.energyJ !== undefined ? { energyJ: r.energyJ } : {}) });
          if (failing) { opts.sink.gap({ startS: failing.startS, endS: t1, deviceId, reason: failing.reason }); failing = undefined; }
          lastOkS = t1;
        } catch (err) {
          if (ctrl.signal.aborted) break;
          if (!failing) { failing = { startS: lastOkS, reason: (err as Error).message.slice(0, 500) }; opts.sink.note(`redfish: ${failing.reason}`); }
        }
        next += opts.intervalMs / 1000;
        const now = opts.clock.nowS();
        if (next < now) next = now;
        await sleepMs((next - now) * 1000, ctrl.signal);
      }
      if (failing) opts.sink.gap({ startS: failing.startS, endS: opts.clock.nowS(), deviceId, reason: failing.reason });
    })();
    return {
      command: [`GET ${b.url!.origin}${p.path}`],
      stop: async () => { stopped = true; ctrl.abort(); opts.signal.removeEventListener('abort', onAbort); await run; },
    };
  },
};
