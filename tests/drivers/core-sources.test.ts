import { describe, it, expect } from 'vitest';
import { mkdir, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { discoverZones, rapl } from '../../drivers/rapl.js';
import { parseTrace, replay } from '../../drivers/replay.js';
import { parseProcStat, utilization, estimate } from '../../drivers/estimate.js';
import { createRunClock } from '../../lib/clock.js';
import type { Sample } from '../../results/samples.js';
import { FIXTURES, HAVE_FIXTURES, tempDir } from '../helpers/cli.js';

async function sysfs(root: string, zones: Record<string, { name: string; uj: number; max: number }>) {
  for (const [dir, z] of Object.entries(zones)) {
    await mkdir(join(root, dir), { recursive: true });
    await writeFile(join(root, dir, 'name'), `${z.name}\n`);
    await writeFile(join(root, dir, 'energy_uj'), `${z.uj}\n`);
    await writeFile(join(root, dir, 'max_energy_range_uj'), `${z.max}\n`);
  }
}

async function collect(driver: typeof rapl, options: Record<string, string>, ms: number, mutate?: (i: number) => Promise<void>) {
  const probe = await driver.probe({ env: process.env, options });
  if (probe.state !== 'ok') throw new Error(probe.reason);
  const samples: Sample[] = [];
  const ctrl = new AbortController();
  const s = await driver.start({ devices: probe.devices, intervalMs: 20, clock: createRunClock(), signal: ctrl.signal, options, env: process.env, probe,
    sink: { sample: (x) => samples.push(x), gap() {}, restarted() {}, note() {} } });
  for (let i = 0; i < ms / 50; i++) { await new Promise((r) => setTimeout(r, 50)); await mutate?.(i); }
  ctrl.abort();
  await s.stop();
  return { probe, samples };
}

describe('rapl', () => {
  it.skipIf(!HAVE_FIXTURES)('reads the Kepler sysfs capture: packages, not core subzones, not MMIO duplicates', async () => {
    const root = join(FIXTURES, 'others/rapl-sysfs__kepler-testdata/sys/class/powercap');
    const zones = await discoverZones(root);
    expect(zones.map((z) => z.name).sort()).toEqual(['package-0', 'package-10']);
    expect(zones[0]!.maxEnergyUj).toBe(262143328850);
    const p = await rapl.probe({ env: {}, options: { root } });
    expect(p.state).toBe('ok');
    if (p.state === 'ok') {
      expect(p.semantics.kind).toBe('energy-counter');
      expect(p.semantics.counterMaxJ).toBeCloseTo(262143.32885, 5);
    }
  });
  it('keeps DRAM subzones, samples counters and derives power across a wraparound', async () => {
    const root = await tempDir();
    const max = 1_000_000_000;
    await sysfs(root, {
      'intel-rapl:0': { name: 'package-0', uj: max - 3_000_000, max },
      'intel-rapl:0:0': { name: 'core', uj: 5, max },
      'intel-rapl:0:1': { name: 'dram', uj: 7, max },
    });
    let uj = max - 3_000_000;
    const { probe, samples } = await collect(rapl, { root }, 600, async () => {
      uj = (uj + 1_000_000) % max; // 1 J per 50 ms tick
      await writeFile(join(root, 'intel-rapl:0', 'energy_uj'), `${uj}\n`);
    });
    expect(probe.state === 'ok' && probe.devices.map((d) => d.id)).toEqual(['rapl:package-0', 'rapl:dram-0']);
    const pkg = samples.filter((s) => s.deviceId === 'rapl:package-0');
    expect(pkg.length).toBeGreaterThan(5);
    // wrapped: a reading after the wrap shows the counter restarted near 0 (before it, it was within 3 J of the 1000 J
    // range). Below 1 J it is only until the next 50 ms tick, which a loaded machine can miss; below 100 J it stays
    expect(pkg.some((s) => s.energyJ! < 100)).toBe(true);
    expect(pkg.every((s) => s.powerW === undefined || s.powerW >= 0)).toBe(true);
  });
  it('reports a missing interface and permission problems as such', async () => {
    const none = await rapl.probe({ env: {}, options: { root: '/nonexistent/powercap' } });
    expect(none).toMatchObject({ state: 'unavailable', code: 'not-installed' });
    const root = await tempDir();
    await sysfs(root, { 'intel-rapl:0': { name: 'package-0', uj: 1, max: 10 } });
    await chmod(join(root, 'intel-rapl:0', 'energy_uj'), 0o000);
    const r = await rapl.probe({ env: {}, options: { root } });
    // root reads through mode 000; an ordinary user gets the permission message
    if (process.getuid?.() !== 0) expect(r).toMatchObject({ state: 'unavailable', code: 'permission-denied' });
    else expect(r.state).toBe('ok');
  });
});

describe('replay', () => {
  it('parses CSV with units in headers, several devices, and JSONL raw samples', () => {
    const csv = parseTrace('t_s,power_w [W],device\n0,10,a\n0,20,b\n0.1,11,a\n0.1,21,b\n');
    expect(csv).toHaveLength(4);
    expect(csv.filter((p) => p.deviceKey === 'b').map((p) => p.powerW)).toEqual([20, 21]);
    const jsonl = parseTrace('{"type":"phase","tS":0,"phase":"idle"}\n{"type":"sample","tS":0.5,"sourceId":"x","deviceId":"gpu0","powerW":300}\n');
    expect(jsonl).toEqual([{ tS: 0.5, deviceKey: 'gpu0', powerW: 300, energyJ: undefined }]);
  });
  it('names the line of a bad trace', () => {
    expect(() => parseTrace('t_s,power_w\n0,1\nabc,2\n', 'x.csv')).toThrow(/x.csv:3/);
    expect(() => parseTrace('a,b\n1,2\n', 'x.csv')).toThrow(/no time column/);
  });
  it('is unavailable until given a trace, and plays it on the run clock', async () => {
    expect(await replay.probe({ env: {}, options: {} })).toMatchObject({ state: 'unavailable', code: 'not-configured' });
    const dir = await tempDir();
    await writeFile(join(dir, 't.csv'), 't_s,power_w\n0,1\n0.1,2\n0.2,3\n');
    const { samples } = await collect(replay, { file: join(dir, 't.csv'), loop: 'false' }, 500);
    expect(samples.map((s) => s.powerW)).toEqual([1, 2, 3]);
    expect(samples[2]!.tS - samples[0]!.tS).toBeCloseTo(0.2, 6);
  });
  it('records the scope and semantics it is told, and refuses ones it does not know', async () => {
    const dir = await tempDir();
    const file = join(dir, 't.csv');
    await writeFile(file, 't_s,power_w\n0,1\n0.1,2\n');
    expect(await replay.probe({ env: {}, options: { file } })).toMatchObject({ state: 'ok', scope: 'device', semantics: { kind: 'instantaneous' } });
    expect(await replay.probe({ env: {}, options: { file, scope: 'node', semantics: 'windowed-average' } })).toMatchObject({ state: 'ok', scope: 'node', semantics: { kind: 'windowed-average' } });
    expect(await replay.probe({ env: {}, options: { file, scope: 'rack' } })).toMatchObject({ state: 'unavailable', code: 'not-configured', reason: expect.stringMatching(/scope=rack .*--source-opt scope=device\|node\|host-cpu/) });
    expect(await replay.probe({ env: {}, options: { file, semantics: 'avg' } })).toMatchObject({ state: 'unavailable', reason: expect.stringMatching(/semantics=avg/) });
  });
});

describe('estimate', () => {
  it('computes utilization from /proc/stat deltas', () => {
    const a = parseProcStat('cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1 2 3\n');
    const b = parseProcStat('cpu  150 0 150 900 0 0 0 0 0 0\n');
    expect(utilization(a, b)).toBeCloseTo(0.5, 12);
    expect(() => parseProcStat('nothing')).toThrow();
  });
  it('is always labelled estimated, with the TDP it assumed', async () => {
    const p = await estimate.probe({ env: {}, options: { 'tdp-w': '65' } });
    expect(p.state === 'ok' && p.semantics.kind).toBe('estimated');
    expect(estimate.meta.scope).toBe('estimated');
    expect(p.state === 'ok' && p.devices[0]!.tdpW).toBe(65);
    expect(await estimate.probe({ env: {}, options: { 'tdp-w': 'lots' } })).toMatchObject({ state: 'unavailable' });
  });
});
