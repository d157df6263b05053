// rapl: Linux powercap energy counters (Intel RAPL, and AMD's compatible interface) for the CPU package and DRAM.
// energy_uj is a counter in µJ that wraps at max_energy_range_uj; since CVE-2020-8694 it is readable by root
// only on most kernels, and that is reported as permission denied, never replaced by an estimate.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Driver, ProbeResult } from './driver.js';
import type { Device } from '../results/types.gen.js';
import { sleepMs } from '../lib/clock.js';

export interface RaplZone { dir: string; name: string; maxEnergyUj: number; kind: 'cpu' | 'dram' }

/** Find the zones to sample: top-level packages, plus DRAM subzones (not core/uncore, which the package includes). */
export async function discoverZones(root: string): Promise<RaplZone[]> {
  const entries = await readdir(root);
  const zones: RaplZone[] = [];
  const seenPackages = new Set<string>();
  // intel-rapl before intel-rapl-mmio, so an MMIO duplicate of a package is skipped
  const sorted = entries.filter((e) => /^intel-rapl(-mmio)?:[^:]+(:[^:]+)?$/.test(e)).sort((a, b) => Number(a.includes('mmio')) - Number(b.includes('mmio')) || a.localeCompare(b));
  for (const e of sorted) {
    const dir = join(root, e);
    let name: string, max: number;
    try {
      name = (await readFile(join(dir, 'name'), 'utf8')).trim();
      max = Number((await readFile(join(dir, 'max_energy_range_uj'), 'utf8')).trim());
    } catch { continue; }
    const sub = e.split(':').length === 3;
    if (sub && name !== 'dram') continue;
    if (!sub && name.startsWith('package')) {
      if (e.includes('mmio') && seenPackages.has(name)) continue;
      seenPackages.add(name);
    }
    zones.push({ dir, name: sub ? `${name}-${e.split(':')[1]}` : name, maxEnergyUj: max, kind: name === 'dram' || name.startsWith('dram') ? 'dram' : 'cpu' });
  }
  return zones;
}

export async function readEnergyUj(zone: RaplZone): Promise<number> {
  const v = Number((await readFile(join(zone.dir, 'energy_uj'), 'utf8')).trim());
  if (!Number.isFinite(v)) throw new Error(`bad energy_uj in ${zone.dir}`);
  return v;
}

export const rapl: Driver = {
  meta: {
    id: 'rapl', title: 'Linux powercap (RAPL) energy counters', vendor: 'CPU', scope: 'host-cpu', priority: 20,
    defaultIntervalMs: 100, minIntervalMs: 1,
    options: { root: 'powercap sysfs folder (default /sys/class/powercap)' },
  },
  async probe(ctx): Promise<ProbeResult> {
    const root = ctx.options.root ?? '/sys/class/powercap';
    let zones: RaplZone[];
    try { zones = await discoverZones(root); } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES') return { state: 'unavailable', code: 'permission-denied', reason: `${root} is not readable — run as root or grant read access` };
      return { state: 'unavailable', code: 'not-installed', reason: `no powercap interface at ${root} (not Linux, no RAPL driver, or a container without /sys/class/powercap)` };
    }
    if (zones.length === 0) return { state: 'unavailable', code: 'no-devices', reason: `no RAPL zones under ${root}` };
    try { await readEnergyUj(zones[0]!); } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EACCES') {
        return { state: 'unavailable', code: 'permission-denied', reason: `permission denied reading ${zones[0]!.dir}/energy_uj (root-only since CVE-2020-8694) — run as root, or: sudo chmod o+r ${root}/intel-rapl:*/energy_uj` };
      }
      return { state: 'unavailable', code: 'error', reason: (err as Error).message };
    }
    const devices: Device[] = zones.map((z, i) => ({ id: `rapl:${z.name}`, index: i, vendor: 'CPU', name: `RAPL ${z.name}`, kind: z.kind }));
    return {
      state: 'ok', devices,
      semantics: { kind: 'energy-counter', updatePeriodMs: 1, counterResolutionJ: 1e-6, counterMaxJ: zones[0]!.maxEnergyUj / 1e6, field: 'energy_uj' },
      private: zones,
    };
  },
  async start(opts) {
    const zones = (opts.probe.private as RaplZone[]).filter((z) => opts.devices.some((d) => d.id === `rapl:${z.name}`));
    const last = new Map<string, { tS: number; uj: number }>();
    let stopped = false;
    const run = (async () => {
      let next = opts.clock.nowS();
      while (!stopped && !opts.signal.aborted) {
        for (const z of zones) {
          const tS = opts.clock.nowS();
          let uj: number;
          try { uj = await readEnergyUj(z); } catch (err) { opts.sink.note(`rapl: ${(err as Error).message}`); continue; }
          const prev = last.get(z.name);
          let powerW: number | undefined;
          if (prev && tS > prev.tS) {
            let d = uj - prev.uj;
            if (d < 0) d += z.maxEnergyUj; // wrapped
            powerW = d / 1e6 / (tS - prev.tS);
          }
          last.set(z.name, { tS, uj });
          opts.sink.sample({ tS, sourceId: 'rapl', deviceId: `rapl:${z.name}`, energyJ: uj / 1e6, ...(powerW !== undefined ? { powerW } : {}) });
        }
        next += opts.intervalMs / 1000;
        const now = opts.clock.nowS();
        if (next < now) next = now;
        await sleepMs((next - now) * 1000, opts.signal);
      }
    })();
    return { stop: async () => { stopped = true; await run; } };
  },
};
