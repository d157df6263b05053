// Clocks across nodes. Each node samples on its own monotonic run clock; to put every node's samples and rank 0's
// events on one time line, each sampler measures its clock's offset from a reference node (the one that merges)
// at start and at end, NTP-style over UDP: the probe with the shortest round trip wins, and its error is at most
// half that round trip. The merge maps each node's times through those offsets, and refuses a run whose offsets
// exceed the allowed skew (a cluster without working time sync).
import dgram from 'node:dgram';
import dns from 'node:dns/promises';
import { performance } from 'node:perf_hooks';
import type { RunClock } from '../../lib/clock.js';

/** Wall-clock ms with sub-ms resolution, advancing monotonically (the same base a RunClock uses). */
export function wallNowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** A run clock whose anchor is on the same wall base as wallNowMs(), so samples and stamped events agree. */
export function createWallRunClock(): RunClock {
  const anchorNs = process.hrtime.bigint();
  const anchorWallMs = wallNowMs();
  return {
    anchorWallMs,
    nowS: () => Number(process.hrtime.bigint() - anchorNs) / 1e9,
    toIso: (tS: number) => new Date(anchorWallMs + tS * 1000).toISOString(),
  };
}

export interface OffsetMeasurement {
  /** Reference clock minus this node's clock, ms. */
  offsetMs: number;
  /** Round trip of the probe used, ms: the offset is good to ± half of it. */
  rttMs: number;
  /** Local wall time of the measurement, ms. */
  atWallMs: number;
  probes: number;
}

export interface TimeServer { port: number; address: string; close(): Promise<void> }

/** Answer each datagram `{"q":N}` with `{"q":N,"t":<wall ms>}`: stateless, so a slow client cannot hold it up. */
export async function startTimeServer(bind: string, port = 0): Promise<TimeServer> {
  const sock = dgram.createSocket(bind.includes(':') ? 'udp6' : 'udp4');
  sock.on('message', (msg, rinfo) => {
    const t = wallNowMs();
    let q: unknown;
    try { q = (JSON.parse(msg.toString('utf8')) as { q?: unknown }).q; } catch { return; }
    if (typeof q !== 'number') return;
    sock.send(JSON.stringify({ q, t }), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => { sock.once('error', reject); sock.bind(port, bind, () => { sock.off('error', reject); resolve(); }); });
  const a = sock.address();
  return { port: a.port, address: a.address, close: () => new Promise<void>((r) => sock.close(() => r())) };
}

/** Measure (reference − local) against a time server. Throws when no probe is answered. */
export async function measureOffset(host: string, port: number, opts: { probes?: number; timeoutMs?: number } = {}): Promise<OffsetMeasurement> {
  const probes = opts.probes ?? 12;
  const timeoutMs = opts.timeoutMs ?? 500;
  const { address, family } = await dns.lookup(host);
  const sock = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
  const pending = new Map<number, { t0: number; resolve: (v: { t0: number; t1: number; t3: number } | undefined) => void }>();
  sock.on('message', (msg) => {
    const t3 = wallNowMs();
    let r: { q?: number; t?: number };
    try { r = JSON.parse(msg.toString('utf8')); } catch { return; }
    const p = r.q !== undefined ? pending.get(r.q) : undefined;
    if (p && typeof r.t === 'number') { pending.delete(r.q!); p.resolve({ t0: p.t0, t1: r.t, t3 }); }
  });
  await new Promise<void>((r) => sock.bind(0, r));
  let best: OffsetMeasurement | undefined;
  let answered = 0;
  try {
    for (let i = 0; i < probes; i++) {
      const q = Math.floor(Math.random() * 2 ** 31);
      const got = await new Promise<{ t0: number; t1: number; t3: number } | undefined>((resolve) => {
        const t0 = wallNowMs();
        pending.set(q, { t0, resolve });
        sock.send(JSON.stringify({ q }), port, address);
        setTimeout(() => { if (pending.delete(q)) resolve(undefined); }, timeoutMs);
      });
      if (!got) continue;
      answered++;
      const rtt = got.t3 - got.t0;
      const cand = { offsetMs: got.t1 - (got.t0 + got.t3) / 2, rttMs: rtt, atWallMs: (got.t0 + got.t3) / 2, probes };
      if (!best || cand.rttMs < best.rttMs) best = cand;
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    sock.close();
  }
  if (!best) throw new Error(`no answer from the time server at ${host}:${port} (UDP) to ${probes} probes`);
  return { ...best, probes: answered };
}

export interface ChronyTracking {
  reference?: string;
  stratum?: number;
  /** This clock minus NTP time, ms (chrony's "fast" is positive). */
  systemOffsetMs?: number;
  rmsOffsetMs?: number;
  leapStatus?: string;
}

/** Parse `chronyc tracking`: how far the node's clock was from its NTP source when the shard started. */
export function parseChronyTracking(text: string): ChronyTracking {
  const out: ChronyTracking = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const key = line.slice(0, i).trim();
    const val = line.slice(i + 1).trim();
    if (key === 'Reference ID') out.reference = val;
    else if (key === 'Stratum') out.stratum = Number(val);
    else if (key === 'System time') {
      const m = /^([\d.]+) seconds (fast|slow)/.exec(val);
      if (m) out.systemOffsetMs = Number(m[1]) * 1000 * (m[2] === 'fast' ? 1 : -1);
    } else if (key === 'RMS offset') {
      const m = /^([\d.]+) seconds/.exec(val);
      if (m) out.rmsOffsetMs = Number(m[1]) * 1000;
    } else if (key === 'Leap status') out.leapStatus = val;
  }
  return out;
}

/** Offset (reference − local, ms) at local wall time t, interpolated between the start and end measurements. */
export function offsetAt(start: OffsetMeasurement | null, end: OffsetMeasurement | null, atWallMs: number): number {
  if (start && end && end.atWallMs > start.atWallMs) {
    const f = Math.min(1, Math.max(0, (atWallMs - start.atWallMs) / (end.atWallMs - start.atWallMs)));
    return start.offsetMs + f * (end.offsetMs - start.offsetMs);
  }
  return (start ?? end)?.offsetMs ?? 0;
}
