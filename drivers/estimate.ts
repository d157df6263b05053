// estimate: for machines with no power sensor at all. Power = CPU utilization × a TDP figure. Always recorded
// with scope 'estimated' and grade D; reports never rank it beside measured figures without a mark.
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import type { Driver, ProbeResult } from './driver.js';
import { sleepMs } from '../lib/clock.js';

/** Default TDP when none is given: 10 W per logical CPU, a rough server-core figure. Override with tdp-w. */
export const DEFAULT_WATTS_PER_THREAD = 10;

interface CpuTimes { busy: number; total: number }

/** Aggregate CPU times from /proc/stat's first line (jiffies), or os.cpus() elsewhere. */
export async function readCpuTimes(procStat = '/proc/stat'): Promise<CpuTimes> {
  try {
    const text = await readFile(procStat, 'utf8');
    return parseProcStat(text);
  } catch {
    let busy = 0, total = 0;
    for (const c of os.cpus()) {
      const t = c.times;
      busy += t.user + t.nice + t.sys + t.irq;
      total += t.user + t.nice + t.sys + t.irq + t.idle;
    }
    return { busy, total };
  }
}

export function parseProcStat(text: string): CpuTimes {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('no aggregate cpu line in /proc/stat');
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  const idleAll = idle + iowait;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idleAll };
}

export function utilization(a: CpuTimes, b: CpuTimes): number {
  const dt = b.total - a.total;
  if (dt <= 0) return 0;
  return Math.min(1, Math.max(0, (b.busy - a.busy) / dt));
}

const MAX_TDP_W = 10_000;

export const estimate: Driver = {
  meta: {
    id: 'estimate', title: 'Estimate from CPU utilization × TDP', vendor: 'CPU', scope: 'estimated', priority: 1,
    defaultIntervalMs: 200, minIntervalMs: 50,
    options: { 'tdp-w': `TDP of the CPU in watts (default ${DEFAULT_WATTS_PER_THREAD} W × logical CPUs)` },
  },
  async probe(ctx): Promise<ProbeResult> {
    const threads = os.cpus().length || 1;
    const tdp = ctx.options['tdp-w'] !== undefined ? Number(ctx.options['tdp-w']) : DEFAULT_WATTS_PER_THREAD * threads;
    // a CPU package draws tens to hundreds of watts; beyond MAX_TDP_W the value is a typo, not a chip
    if (!Number.isFinite(tdp) || tdp <= 0 || tdp > MAX_TDP_W) return { state: 'unavailable', code: 'not-configured', reason: `tdp-w must be a number of watts above 0 and at most ${MAX_TDP_W}, got '${ctx.options['tdp-w']}' — pass e.g. --source-opt tdp-w=280` };
    return {
      state: 'ok',
      devices: [{ id: 'estimate:cpu', index: 0, vendor: 'CPU', name: os.cpus()[0]?.model?.trim() || 'CPU', kind: 'cpu', tdpW: tdp }],
      semantics: { kind: 'estimated', updatePeriodMs: 10, note: `power = CPU utilization × ${tdp} W (${ctx.options['tdp-w'] !== undefined ? 'given' : `assumed ${DEFAULT_WATTS_PER_THREAD} W per logical CPU`}); not a measurement` },
      private: tdp,
    };
  },
  async start(opts) {
    const tdp = opts.probe.private as number;
    let stopped = false;
    const run = (async () => {
      let prev = await readCpuTimes();
      let next = opts.clock.nowS();
      while (!stopped && !opts.signal.aborted) {
        next += opts.intervalMs / 1000;
        const now = opts.clock.nowS();
        if (next < now) next = now;
        await sleepMs((next - now) * 1000, opts.signal);
        if (stopped || opts.signal.aborted) break;
        const cur = await readCpuTimes();
        const u = utilization(prev, cur);
        prev = cur;
        opts.sink.sample({ tS: opts.clock.nowS(), sourceId: 'estimate', deviceId: 'estimate:cpu', powerW: u * tdp, utilizationPct: u * 100 });
      }
    })();
    return { stop: async () => { stopped = true; await run; } };
  },
};
