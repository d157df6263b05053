import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCnmon, cnmonDevice, usageCap, cnmon } from '../../drivers/cnmon.js';
import { createRunClock } from '../../lib/clock.js';
import { FIXTURES, HAVE_FIXTURES, ROOT } from '../helpers/cli.js';
import { makeFakeTool, recordingSink, waitFor } from './fake-vendor-tool.js';

const OWN = join(ROOT, 'tests', 'fixtures', 'cnmon');
const V4 = join(OWN, 'cnmon-v4__2x-MLU370-X4.txt');

describe.skipIf(!HAVE_FIXTURES)('cnmon parser over ../shared/fixtures', () => {
  it('reads the v5.10 table (Bus-Id, SR-IOV columns): "106 W/ 250 W", "32C", "0 MiB/ 23374 MiB"', () => {
    const t = parseCnmon(readFileSync(join(FIXTURES, 'others/cnmon__MLU370-X8x2__CNMON-v5.10.13__paddle-docs.txt'), 'utf8'));
    expect(t.cnmonVersion).toBe('5.10.13');
    expect(t.driverVersion).toBe('5.10.13');
    expect(t.cards).toHaveLength(2);
    expect(t.cards[0]).toMatchObject({ index: 0, name: 'MLU370-X8', firmwareVersion: '1.1.6', busId: '0000:39:00.0', utilizationPct: 0, temperatureC: 32, powerW: 106, powerCapW: 250, memoryUsedMiB: 0, memoryTotalMiB: 23374 });
    expect(t.cards[1]).toMatchObject({ index: 1, busId: '0000:3D:00.0', temperatureC: 39, powerW: 106 });
    expect(cnmonDevice(t.cards[1]!, t)).toMatchObject({ id: 'cnmon:1', vendor: 'Cambricon', name: 'MLU370-X8', driverVersion: '5.10.13', firmwareVersion: '1.1.6', memoryMiB: 23374, powerLimitW: 250 });
  });
});

describe('cnmon parser over own fixtures', () => {
  it('v4 layout: "Inited Driver" and "vMemory-Usage" columns, date line first, per-card driver, N/A power', () => {
    const t = parseCnmon(readFileSync(V4, 'utf8'));
    expect(t.cnmonVersion).toBe('4.20.18');
    expect(t.driverVersion).toBeUndefined(); // the v4 banner has no driver; each card row has it
    expect(t.cards.map((c) => c.index)).toEqual([0, 1]);
    expect(t.cards[0]).toMatchObject({ name: 'MLU370-X4', firmwareVersion: '1.1.4', driverVersion: '4.20.18', utilizationPct: 37, temperatureC: 41, powerW: 72, powerCapW: 150, memoryUsedMiB: 6120, memoryTotalMiB: 23308 });
    expect(t.cards[0]!.busId).toBeUndefined();
    expect(t.cards[1]!.powerW).toBeUndefined(); // "N/A/ 150 W"
    expect(t.cards[1]!.powerCapW).toBe(150);
    // the vMemory-Usage cell (10240 MiB/1048576 MiB) must not be read as the card's memory
    expect(t.cards[1]!.memoryTotalMiB).toBe(23308);
  });
  it('a virtual function without sensors reads as missing, not zero', () => {
    const t = parseCnmon(readFileSync(join(OWN, 'cnmon-v5__1x-MLU370-S4__no-power.txt'), 'utf8'));
    expect(t.cards).toHaveLength(1);
    expect(t.cards[0]).toMatchObject({ index: 0, vf: '1', busId: '0000:1A:00.1', memoryTotalMiB: 11520 });
    expect(t.cards[0]!.powerW).toBeUndefined();
    expect(t.cards[0]!.temperatureC).toBeUndefined();
    expect(cnmonDevice(t.cards[0]!, t).partition).toBe('virtual function 1');
  });
  it('usageCap handles the spacing variants', () => {
    expect(usageCap(' 0%   32C        106 W/ 250 W')).toEqual({ usage: 106, cap: 250 });
    expect(usageCap('N/A / N/A')).toEqual({});
    expect(usageCap('no slash here')).toBeUndefined();
  });
});

describe('cnmon process level (fake cnmon on PATH, polled)', () => {
  it('probe lists the cards with their static facts; polling returns the replayed values, card 1 without power', async () => {
    const fake = await makeFakeTool('cnmon', { '': { file: V4, mode: 'once' } });
    const probe = await cnmon.probe({ env: fake.env, options: {} });
    expect(probe.state).toBe('ok');
    if (probe.state !== 'ok') return;
    expect(probe.devices).toEqual([
      { id: 'cnmon:0', index: 0, vendor: 'Cambricon', name: 'MLU370-X4', kind: 'accelerator', driverVersion: '4.20.18', firmwareVersion: '1.1.4', memoryMiB: 23308, powerLimitW: 150 },
      { id: 'cnmon:1', index: 1, vendor: 'Cambricon', name: 'MLU370-X4', kind: 'accelerator', driverVersion: '4.20.18', firmwareVersion: '1.1.4', memoryMiB: 23308, powerLimitW: 150 },
    ]);
    expect(probe.software).toEqual({ cnmon: '4.20.18' });
    const sink = recordingSink();
    const ctrl = new AbortController();
    const s = await cnmon.start({ devices: probe.devices, intervalMs: 100, clock: createRunClock(), signal: ctrl.signal, sink, options: {}, env: fake.env, probe });
    expect(await waitFor(() => sink.samples.length >= 6, 20_000)).toBe(true);
    ctrl.abort();
    await s.stop();
    const c0 = sink.samples.filter((x) => x.deviceId === 'cnmon:0');
    const c1 = sink.samples.filter((x) => x.deviceId === 'cnmon:1');
    expect(c0.every((x) => x.powerW === 72 && x.temperatureC === 41 && x.utilizationPct === 37 && x.memoryUsedMiB === 6120)).toBe(true);
    expect(c1.every((x) => x.powerW === undefined && x.temperatureC === 33)).toBe(true);
    expect(sink.restarts).toEqual([]);
  });

  it('a cnmon that fails once, then prints garbage before its table, gives one restart and one gap, then samples resume', async () => {
    // invocation 0 is the probe; 1 exits 1; 2 prints garbage lines before a good table
    const fake = await makeFakeTool('cnmon', { '': { file: V4, mode: 'once' } }, {
      1: { fail: 'cnmon: driver not loaded', exitCode: 1 },
      2: { garbage: ['\u0000\u0001 garbage', 'Segmentation fault'], exitCode: 0 },
    });
    const probe = await cnmon.probe({ env: fake.env, options: {} });
    if (probe.state !== 'ok') throw new Error(probe.reason);
    const sink = recordingSink();
    const ctrl = new AbortController();
    const s = await cnmon.start({ devices: probe.devices, intervalMs: 100, clock: createRunClock(), signal: ctrl.signal, sink, options: {}, env: fake.env, probe });
    expect(await waitFor(() => sink.gaps.length >= 1 && sink.samples.length >= 2, 20_000)).toBe(true);
    ctrl.abort();
    await s.stop();
    expect(sink.restarts).toHaveLength(1);
    expect(sink.restarts[0]).toMatch(/cnmon exited \(code 1\)$/);
    expect(sink.gaps[0]!.reason).toBe(sink.restarts[0]);
    expect(sink.gaps[0]!.endS).toBeGreaterThan(sink.gaps[0]!.startS);
    // the garbage run printed the full table after the garbage lines, so it counted as a good poll
    expect(sink.samples.every((x) => x.powerW === undefined || x.powerW === 72)).toBe(true);
    expect(sink.samples[0]!.tS).toBeGreaterThan(sink.gaps[0]!.startS); // nothing was sampled inside the failure
  });

  it('a cnmon whose output holds no card table is a failed poll, not a 0 W reading', async () => {
    const fake = await makeFakeTool('cnmon', { '': { file: V4, mode: 'once' } });
    const probe = await cnmon.probe({ env: fake.env, options: {} });
    if (probe.state !== 'ok') throw new Error(probe.reason);
    const junk = await makeFakeTool('cnmon', { '': { file: join(ROOT, 'tests', 'fixtures', 'tegrastats', 'garbage-and-truncated.txt'), mode: 'once' } });
    const sink = recordingSink();
    const ctrl = new AbortController();
    const s = await cnmon.start({ devices: probe.devices, intervalMs: 100, clock: createRunClock(), signal: ctrl.signal, sink, options: {}, env: junk.env, probe: { ...probe, private: { file: join(junk.dir, 'bin', 'cnmon') } } });
    expect(await waitFor(() => sink.restarts.length >= 1, 20_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    ctrl.abort();
    await s.stop();
    expect(sink.samples).toEqual([]);
    expect(sink.restarts).toHaveLength(1);
    expect(sink.restarts[0]).toMatch(/cnmon printed no reading$/);
    expect(sink.gaps).toHaveLength(1); // closed at stop
  });

  it('probe: no power on any card → "no power sensor through this CLI"; missing tool → not installed', async () => {
    const fake = await makeFakeTool('cnmon', { '': { file: join(OWN, 'cnmon-v5__1x-MLU370-S4__no-power.txt'), mode: 'once' } });
    expect(await cnmon.probe({ env: fake.env, options: {} })).toEqual({ state: 'unavailable', code: 'no-power-field', reason: 'no power sensor through this CLI' });
    const p = await cnmon.probe({ env: { PATH: '/nonexistent' }, options: {} });
    expect(p).toMatchObject({ state: 'unavailable', code: 'not-installed' });
    // an explicit path overrides PATH
    expect(await cnmon.probe({ env: { PATH: '/nonexistent' }, options: { path: join(fake.dir, 'bin', 'cnmon') } })).toMatchObject({ code: 'no-power-field' });
  });
});
