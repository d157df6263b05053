// Test helpers for the data-center sources: a power trace with exactly known energy, an exporter that serves
// Prometheus exposition text shaped like a real capture whose power and energy follow that trace, a static
// Redfish service, and a free-port finder. Everything listens on 127.0.0.1 only.
import http from 'node:http';
import net from 'node:net';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FIXTURES, ROOT } from './cli.js';

export const OWN = join(ROOT, 'tests', 'fixtures', 'datacenter');
export const SHARED_DC = join(FIXTURES, 'datacenter');
export const HAVE_SHARED_DC = existsSync(SHARED_DC);

/** A looping piecewise-linear power trace: power at any time and the exact energy between two times. */
export class PiecewiseTrace {
  readonly periodS: number;
  constructor(readonly points: Array<[tS: number, powerW: number]>) {
    if (points[0]![0] !== 0) throw new Error('trace must start at t = 0');
    this.periodS = points[points.length - 1]![0];
    if (points[points.length - 1]![1] !== points[0]![1]) throw new Error('trace must end where it starts, to loop');
  }
  powerAt(tS: number): number {
    const t = ((tS % this.periodS) + this.periodS) % this.periodS;
    for (let i = 1; i < this.points.length; i++) {
      const [t0, p0] = this.points[i - 1]!, [t1, p1] = this.points[i]!;
      if (t <= t1) return p0 + ((p1 - p0) * (t - t0)) / (t1 - t0);
    }
    return this.points[0]![1];
  }
  /** ∫ power dt over [a, b], exact for the piecewise-linear trace. */
  energyJ(a: number, b: number): number {
    if (b < a) return -this.energyJ(b, a);
    const periodEnergy = this.inPeriod(0, this.periodS);
    const la = Math.floor(a / this.periodS), lb = Math.floor(b / this.periodS);
    const fa = a - la * this.periodS, fb = b - lb * this.periodS;
    return (lb - la) * periodEnergy + this.inPeriod(0, fb) - this.inPeriod(0, fa);
  }
  private inPeriod(a: number, b: number): number {
    let e = 0;
    for (let i = 1; i < this.points.length; i++) {
      const [t0] = this.points[i - 1]!, [t1] = this.points[i]!;
      const lo = Math.max(a, t0), hi = Math.min(b, t1);
      if (hi > lo) e += 0.5 * (this.powerAt(lo === this.periodS ? lo - 1e-12 : lo) + this.powerAt(hi === this.periodS ? hi - 1e-12 : hi)) * (hi - lo);
    }
    return e;
  }
}

/** Slow slopes, so a 1 s trapezoid over it stays far inside 1%; loops every 10 s. */
export const TEST_TRACE = new PiecewiseTrace([[0, 200], [3, 300], [5, 300], [8, 220], [10, 200]]);

export interface ExporterRoute {
  /** Exposition text to serve; lines of `powerMetric` and `energyMetric` get trace values. */
  template: string;
  powerMetric?: string;
  /** Energy counter metric and its unit scale (value = joules / scale, e.g. mJ → 1e-3). */
  energyMetric?: { name: string; scale: number; integer?: boolean };
  /** Per series (matched by a label value), a multiple of the trace; series not listed get 1. */
  seriesScale?: Array<{ label: string; value: string; factor: number }>;
  /** Replace explicit sample timestamps with the time of the request (npu-exporter sends its own). */
  restampMs?: boolean;
}

export interface Exporter { url: string; port: number; t0WallMs: number; trace: PiecewiseTrace; close(): Promise<void>; requests: number }

const SAMPLE_LINE = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{.*\})?(\s+)(\S+)(\s+\S+)?\s*$/;

function factorFor(route: ExporterRoute, labels: string): number {
  for (const s of route.seriesScale ?? []) if (labels.includes(`${s.label}="${s.value}"`)) return s.factor;
  return 1;
}

/** Render the template at wall time nowMs. The energy counter starts at a large offset, as on a real device. */
export function renderExposition(route: ExporterRoute, trace: PiecewiseTrace, t0WallMs: number, nowMs: number): string {
  const tS = (nowMs - t0WallMs) / 1000;
  return route.template.split('\n').map((line) => {
    const m = SAMPLE_LINE.exec(line);
    if (!m || line.startsWith('#')) return line;
    const [, name, labels = '', sp, , ts] = m;
    let value: string | undefined;
    const f = factorFor(route, labels);
    // a series the capture marks unsupported (DCGM blank sentinels, 2^47 and up) stays unsupported
    if (Number(m[4]) >= 2 ** 47) return line;
    if (name === route.powerMetric) value = (trace.powerAt(tS) * f).toFixed(3);
    else if (route.energyMetric && name === route.energyMetric.name) {
      const j = 1e6 + trace.energyJ(0, tS) * f;
      const v = j / route.energyMetric.scale;
      value = route.energyMetric.integer ? Math.round(v).toString() : v.toExponential(9);
    }
    if (value === undefined) return route.restampMs && ts ? `${name}${labels}${sp}${m[4]} ${Math.round(nowMs)}` : line;
    return `${name}${labels}${sp}${value}${ts ? (route.restampMs ? ` ${Math.round(nowMs)}` : ts) : ''}`;
  }).join('\n');
}

export async function startExporter(routes: Record<string, ExporterRoute>, trace = TEST_TRACE): Promise<Exporter> {
  const t0WallMs = Date.now();
  const ex = { requests: 0 } as Exporter;
  const server = http.createServer((req, res) => {
    ex.requests++;
    const route = routes[(req.url ?? '/').split('?')[0]!];
    if (!route) { res.writeHead(404).end('not found\n'); return; }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(renderExposition(route, trace, t0WallMs, Date.now()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return Object.assign(ex, { url: `http://127.0.0.1:${port}`, port, t0WallMs, trace, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) });
}

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * A static Redfish service: every JSON file in the given folders is served at its own "@odata.id".
 * `live` overrides let a test make a reading follow a trace.
 */
export async function startRedfish(dirs: string[], opts: { live?: (path: string, doc: any) => any; requireAuth?: { user: string; password: string } } = {}) {
  const docs = new Map<string, any>();
  for (const d of dirs) {
    for (const f of (await readdir(d)).filter((n) => n.endsWith('.json'))) {
      const doc = JSON.parse(await readFile(join(d, f), 'utf8'));
      if (typeof doc['@odata.id'] === 'string') docs.set(doc['@odata.id'], doc);
    }
  }
  const seenAuth: string[] = [];
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/$/, '');
    if (req.headers.authorization) seenAuth.push(req.headers.authorization);
    if (opts.requireAuth) {
      const want = `Basic ${Buffer.from(`${opts.requireAuth.user}:${opts.requireAuth.password}`).toString('base64')}`;
      if (req.headers.authorization !== want) { res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"code":"Base.1.8.NoValidSession"}}'); return; }
    }
    const doc = docs.get(path);
    if (!doc) { res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"Base.1.8.ResourceMissingAtURI"}}'); return; }
    const body = opts.live ? opts.live(path, structuredClone(doc)) : doc;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, paths: [...docs.keys()], seenAuth, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}
