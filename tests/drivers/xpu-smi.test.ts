import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseXpuDiscovery, xpuDevice, parseXpuDump, parseXpuStats, parseXpuDumpHeader, parseXpuDumpRow, parseXpuVersion, xpuTimeOfDay, classifyEnergy, EnergyTracker, xpuSmi } from '../../drivers/xpu-smi.js';
import type { Sample } from '../../results/samples.js';
import { createRunClock } from '../../lib/clock.js';
import { FIXTURES, HAVE_FIXTURES, ROOT } from '../helpers/cli.js';
import { makeFakeTool, recordingSink, waitFor, type FakeRoute } from './fake-vendor-tool.js';

const OWN = join(ROOT, 'tests', 'fixtures', 'xpu-smi');
const ownText = (f: string) => readFileSync(join(OWN, f), 'utf8');
const shared = (f: string) => readFileSync(join(FIXTURES, 'intel', f), 'utf8');

describe.skipIf(!HAVE_FIXTURES)('xpu-smi parsers over ../shared/fixtures', () => {
  it('discovery on Aurora: six Max 1550 with SOC UUID and BDF', () => {
    const found = parseXpuDiscovery(shared('alcf-aurora__xpu-smi_discovery.txt'));
    expect(found.map((d) => d.id)).toEqual([0, 1, 2, 3, 4, 5]);
    const devs = found.map(xpuDevice);
    expect(devs[0]).toMatchObject({ id: 'xpu-smi:0', name: 'Intel(R) Data Center GPU Max 1550', uuid: '00000000-0000-0000-926a-83c28645e226', busId: '0000:18:00.0' });
    expect(devs[5]).toMatchObject({ index: 5, uuid: '00000000-0000-0000-cec2-eaa8508708c5', busId: '0001:6c:00.0' });
    expect(found[3]!.props['DRM Device']).toBe('/dev/dri/card3');
  });
  it('dump on Aurora: right-aligned device ids, unbracketed " N/A" on the first utilization rows, 11 × 6 rows, "^C" ignored', () => {
    const d = parseXpuDump(shared('alcf-aurora__xpu-smi_dump-d-0..5-m-0-1-2-5__DataCenterGPUMax1550.txt'))!;
    expect(d.cols.width).toBe(6);
    expect(d.rows).toHaveLength(66);
    expect(d.rows[0]).toEqual({ timestamp: '23:48:25.043', timeOfDayS: 23 * 3600 + 48 * 60 + 25.043, deviceId: 0, powerW: 280.5, smClockMHz: 1600 });
    expect(d.rows[0]!.utilizationPct).toBeUndefined(); // "N/A", not 0
    expect(d.rows[7]).toMatchObject({ deviceId: 1, powerW: 287.57 });
    expect(d.rows[65]).toMatchObject({ timestamp: '23:48:35.043', deviceId: 5, powerW: 285.54 });
  });
  it('dump in the 1.x user guide: the older "Average % utilization of all GPU Engines" header, integer frequency', () => {
    const d = parseXpuDump(shared('xpumanager-smi_user_guide__xpu-smi_dump-d0-m0,1,2-i1-n5.txt'))!;
    expect(d.rows.map((r) => r.powerW)).toEqual([14.61, 14.59, 14.61, 14.61, 14.61]);
    expect(d.rows[0]).toMatchObject({ deviceId: 0, utilizationPct: 0, smClockMHz: 0, timeOfDayS: 6 * 3600 + 14 * 60 + 46 });
  });
  it('stats -d 0 (Flex, 1.x guide): key/value box, blank values stay blank', () => {
    const st = parseXpuStats(shared('xpumanager-smi_user_guide__xpu-smi_stats-d0.txt'));
    expect(st['Device ID']).toBe('0');
    expect(st['GPU Power (W)']).toBe('15');
    expect(st['GPU Core Temperature (C)']).toBe('41');
    expect(st['GPU Memory Used (MiB)']).toBe('24');
    expect(st['GPU Memory Temperature (C)']).toBe('');
    expect(st['Average % utilization of']).toBe('0');
  });
  it('--version: CLI version', () => {
    expect(parseXpuVersion(shared('alcf-aurora__xpu-smi_--version.txt'))).toBe('1.2.39.20240906');
  });
  it('help texts list metric 8 as "GPU Energy Consumed (J)" and --ims as file-only (the facts the driver relies on)', () => {
    for (const f of ['alcf-aurora__xpu-smi_-h-dump.txt', 'xpumanager-smi_user_guide__xpu-smi_dump-h.txt']) {
      const h = shared(f);
      expect(h).toMatch(/8\. GPU Energy Consumed \(J\)/);
      expect(h).toMatch(/--ims\s+The interval \(in milliseconds\) to dump the device statistics to file/);
    }
  });
});

describe('xpu-smi parsers over own fixtures', () => {
  it('detailed discovery: driver, GFX firmware (not GFX_DATA), memory, serial "unknown" dropped', () => {
    const [d] = parseXpuDiscovery(ownText('discovery-d-0__Flex-170.txt'));
    expect(d!.firmware).toEqual([{ name: 'GFX', version: 'DG02_2.2315' }, { name: 'GFX_DATA', version: '101.651.1' }]);
    const dev = xpuDevice(d!);
    expect(dev).toMatchObject({ id: 'xpu-smi:0', driverVersion: 'I915_24.1.11_PSB_240117.14', firmwareVersion: 'DG02_2.2315', memoryMiB: 14248, busId: '0000:4d:00.0', uuid: '00000000-0000-0000-0000-56c000008086' });
    expect(dev.serial).toBeUndefined();
    expect(dev.partition).toBeUndefined(); // one tile
  });
  it('dump with energy and memory columns; first-row N/A stays missing', () => {
    const d = parseXpuDump(ownText('dump-d-0,1-m-0,1,2,3,8,18__cumulative-energy.txt'))!;
    expect(d.rows).toHaveLength(8);
    expect(d.rows[0]).toEqual({ timestamp: '10:02:11.512', timeOfDayS: 36131.512, deviceId: 0, powerW: 41.2, smClockMHz: 2050, temperatureC: 44, energyJ: 918234.55 });
    expect(d.rows[4]).toMatchObject({ utilizationPct: 97.3, powerW: 119.4, memoryUsedMiB: 6144, energyJ: 918417.95 });
  });
  it('rows that do not fit the header are rejected', () => {
    const cols = parseXpuDumpHeader('Timestamp, DeviceId, GPU Power (W), GPU Energy Consumed (J)')!;
    expect(parseXpuDumpRow('23:59:58.250,    0, 101.10', cols)).toBeUndefined(); // truncated
    expect(parseXpuDumpRow('Error: Device not found', cols)).toBeUndefined();
    expect(parseXpuDumpRow('^C', cols)).toBeUndefined();
    expect(parseXpuDumpHeader('23:59:58.250,    0, 101.10, 100.95')).toBeUndefined();
    expect(xpuTimeOfDay('2024-09-06 00:00:00.250')).toBe(0.25); // --date form
  });
});

describe('energy column: running total or per-interval amounts', () => {
  const cum = parseXpuDump(ownText('dump-d-0,1-m-0,1,2,3,8,18__cumulative-energy.txt'))!.rows.filter((r) => r.deviceId === 0);
  const per = parseXpuDump(ownText('dump-d-0-m-1,8__per-interval-energy__midnight.txt'))!.rows;
  const pts = (rows: typeof cum) => rows.map((r, i) => ({ tS: i, energyJ: r.energyJ!, powerW: r.powerW }));
  it('classifies a counter that grows by about power × Δt as cumulative', () => {
    expect(classifyEnergy(pts(cum).slice(0, 3))).toBe('cumulative');
    expect(classifyEnergy(pts(cum).slice(0, 2))).toBeUndefined(); // too early to tell
  });
  it('classifies values that hover around power × Δt as per-interval (across midnight)', () => {
    expect(per.map((r) => r.timeOfDayS)).toEqual([86398.25, 86399.25, 0.25, 1.25]);
    expect(classifyEnergy(pts(per).slice(0, 3))).toBe('interval');
  });
  it('EnergyTracker holds the first readings, then emits a cumulative energyJ in order', () => {
    const out: Sample[] = [];
    const t = new EnergyTracker(undefined, (s) => out.push(s));
    per.forEach((r, i) => t.push({ tS: i, sourceId: 'xpu-smi', deviceId: 'xpu-smi:0', powerW: r.powerW, energyJ: r.energyJ }));
    expect(t.decided).toBe('interval');
    expect(out.map((s) => s.tS)).toEqual([0, 1, 2, 3]);
    expect(out.map((s) => s.energyJ)).toEqual([100.95, 100.95 + 101.8, 100.95 + 101.8 + 99.02, 100.95 + 101.8 + 99.02 + 149.6]);
    const out2: Sample[] = [];
    const t2 = new EnergyTracker(undefined, (s) => out2.push(s));
    cum.slice(0, 2).forEach((r, i) => t2.push({ tS: i, sourceId: 'xpu-smi', deviceId: 'xpu-smi:0', powerW: r.powerW, energyJ: r.energyJ }));
    expect(out2).toEqual([]); // still undecided
    t2.flush();
    expect(out2.map((s) => s.energyJ)).toEqual([918234.55, 918298.7]);
  });
});

describe('xpu-smi process level (fake xpu-smi on PATH)', () => {
  async function fakeWith(dumpFile: string, plans = {}, extra: Record<string, FakeRoute> = {}) {
    const dir = (await makeFakeTool('unused', {})).dir;
    const version = join(dir, 'version.txt');
    await writeFile(version, 'CLI:\n    Version: 1.2.39.20240906\n    Build ID: 11f3c29a\n');
    const routes: Record<string, FakeRoute> = {
      discovery: { file: join(OWN, 'discovery__2x-Flex-170.txt'), mode: 'once' },
      'discovery -d 0': { file: join(OWN, 'discovery-d-0__Flex-170.txt'), mode: 'once' },
      'dump -d 0,1 -m 1,8 -i 1 -n 2': { file: dumpFile, mode: 'once' },
      'dump -d 0 -m 1,8 -i 1 -n 2': { file: dumpFile, mode: 'once' },
      '--version': { file: version, mode: 'once' },
      'dump -d *': { file: dumpFile, mode: 'stream', headerLines: 1 },
      ...extra,
    };
    return makeFakeTool('xpu-smi', routes, plans, 60);
  }

  it('probe: devices from discovery (+ detail where it answers), energy counter semantics, version', async () => {
    const fake = await fakeWith(join(OWN, 'dump-d-0,1-m-0,1,2,3,8,18__cumulative-energy.txt'));
    const p = await xpuSmi.probe({ env: fake.env, options: {} });
    expect(p.state).toBe('ok');
    if (p.state !== 'ok') return;
    expect(p.devices.map((d) => d.id)).toEqual(['xpu-smi:0', 'xpu-smi:1']);
    expect(p.devices[0]).toMatchObject({ memoryMiB: 14248, driverVersion: 'I915_24.1.11_PSB_240117.14' });
    expect(p.devices[1]).toMatchObject({ busId: '0000:9a:00.0' }); // "discovery -d 1" is unknown to the fake: list facts only
    expect(p.devices[1]!.memoryMiB).toBeUndefined();
    expect(p.semantics).toMatchObject({ kind: 'energy-counter', field: 'GPU Energy Consumed (J)' });
    expect(p.software).toMatchObject({ 'xpu-smi': '1.2.39.20240906' });
  });

  it('one long-lived dump: cumulative energy passes through, power and diagnostics per device, one device selected', async () => {
    const fake = await fakeWith(join(OWN, 'dump-d-0,1-m-0,1,2,3,8,18__cumulative-energy.txt'));
    const probe = await xpuSmi.probe({ env: fake.env, options: {} });
    if (probe.state !== 'ok') throw new Error(probe.reason);
    const sink = recordingSink();
    const ctrl = new AbortController();
    const s = await xpuSmi.start({ devices: probe.devices.slice(0, 1), intervalMs: 1000, clock: createRunClock(), signal: ctrl.signal, sink, options: {}, env: fake.env, probe });
    expect(await waitFor(() => sink.samples.length >= 4, 20_000)).toBe(true);
    ctrl.abort();
    await s.stop();
    expect(s.command!.slice(1)).toEqual(['dump', '-d', '0', '-m', '0,1,2,3,8,18', '-i', '1']);
    expect(sink.samples.map((x) => x.deviceId)).toEqual(['xpu-smi:0', 'xpu-smi:0', 'xpu-smi:0', 'xpu-smi:0']);
    expect(sink.samples.map((x) => x.energyJ)).toEqual([918234.55, 918298.7, 918417.95, 918538.2]);
    expect(sink.samples.map((x) => x.powerW)).toEqual([41.2, 64.1, 119.4, 120.2]);
    expect(sink.samples[3]).toMatchObject({ temperatureC: 55, smClockMHz: 2050, utilizationPct: 99.1, memoryUsedMiB: 6144 });
    expect(sink.notes.some((n) => /running total/.test(n))).toBe(true);
  });

  it('per-interval energy is summed into a running counter', async () => {
    const fake = await fakeWith(join(OWN, 'dump-d-0-m-1,8__per-interval-energy__midnight.txt'));
    const probe = await xpuSmi.probe({ env: fake.env, options: {} });
    if (probe.state !== 'ok') throw new Error(probe.reason);
    const sink = recordingSink();
    const ctrl = new AbortController();
    const s = await xpuSmi.start({ devices: probe.devices.slice(0, 1), intervalMs: 1000, clock: createRunClock(), signal: ctrl.signal, sink, options: { metrics: '1,8' }, env: fake.env, probe });
    expect(await waitFor(() => sink.samples.length >= 4, 20_000)).toBe(true);
    ctrl.abort();
    await s.stop();
    const e = sink.samples.map((x) => x.energyJ!);
    expect(e[3]).toBeCloseTo(100.95 + 101.8 + 99.02 + 149.6, 6);
    expect(sink.notes.some((n) => /per-interval/.test(n))).toBe(true);
  });

  it('a dump that dies is restarted with a gap; its header is read again', async () => {
    // invocations: 0 discovery, 1 discovery -d 0, 2 discovery -d 1, 3 probe dump, 4 --version, 5 first sampler run
    const fake = await fakeWith(join(OWN, 'dump-d-0,1-m-0,1,2,3,8,18__cumulative-energy.txt'), { 5: { exitAfter: 2, exitCode: 1 } });
    const probe = await xpuSmi.probe({ env: fake.env, options: {} });
    if (probe.state !== 'ok') throw new Error(probe.reason);
    const sink = recordingSink();
    const ctrl = new AbortController();
    const s = await xpuSmi.start({ devices: probe.devices, intervalMs: 1000, clock: createRunClock(), signal: ctrl.signal, sink, options: {}, env: fake.env, probe });
    expect(await waitFor(() => sink.restarts.length >= 1 && sink.samples.length >= 6, 20_000)).toBe(true);
    ctrl.abort();
    await s.stop();
    expect(sink.restarts[0]).toMatch(/exited \(code 1\)/);
    expect(sink.gaps.length).toBeGreaterThanOrEqual(1);
    expect(sink.samples.every((x) => x.powerW === undefined || x.powerW > 30)).toBe(true);
  });

  it('probe: first dump rows still N/A but stats shows power → usable, power-only semantics', async () => {
    const dir = (await makeFakeTool('unused', {})).dir;
    const na = join(dir, 'na.txt');
    await writeFile(na, 'Timestamp, DeviceId, GPU Power (W), GPU Energy Consumed (J)\n10:00:00.000,    0,  N/A,  N/A\n10:00:00.000,    1,  N/A,  N/A\n');
    const fake = await fakeWith(na, {}, { 'stats -d 0': { file: join(OWN, 'stats-d-0__Flex-170__partial.txt'), mode: 'once' } });
    const p = await xpuSmi.probe({ env: fake.env, options: {} });
    expect(p).toMatchObject({ state: 'ok', semantics: { kind: 'windowed-average', field: 'GPU Power (W)' } });
  });

  it('probe: a dump with neither power nor energy → "no power sensor through this CLI"', async () => {
    const dir = (await makeFakeTool('unused', {})).dir;
    const na = join(dir, 'na.txt');
    await writeFile(na, 'Timestamp, DeviceId, GPU Power (W), GPU Energy Consumed (J)\n10:00:00.000,    0,  N/A,  N/A\n10:00:00.000,    1,  N/A,  N/A\n');
    const fake = await fakeWith(na);
    expect(await xpuSmi.probe({ env: fake.env, options: {} })).toEqual({ state: 'unavailable', code: 'no-power-field', reason: 'no power sensor through this CLI' });
  });
});
