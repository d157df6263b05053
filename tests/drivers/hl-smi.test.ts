import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseHlSmiCsv, parseHlSmiLine, hlDevice, hlReading, hlSmi, HL_PROBE_FIELDS } from '../../drivers/hl-smi.js';
import { createRunClock } from '../../lib/clock.js';
import { FIXTURES, HAVE_FIXTURES, ROOT } from '../helpers/cli.js';
import { makeFakeTool, recordingSink, waitFor } from './fake-vendor-tool.js';

const OWN = join(ROOT, 'tests', 'fixtures', 'hl-smi');
// the query all-smi ran to produce the shared capture (SOURCES.md)
const ALL_SMI_FIELDS = ['index', 'uuid', 'name', 'driver_version', 'memory.total', 'memory.used', 'memory.free', 'power.draw', 'power.max', 'temperature.aip', 'utilization.aip'];
const LOOP_FIELDS = ['module_id', 'power.draw', 'temperature.aip', 'utilization.aip', 'memory.used'];

describe.skipIf(!HAVE_FIXTURES)('hl-smi parser over ../shared/fixtures', () => {
  it('reads the Gaudi 3 HL-325L capture: units glued with a space, driver version with git hash', () => {
    const rows = parseHlSmiCsv(readFileSync(join(FIXTURES, 'intel/hl-smi-Q-csv-noheader__Gaudi3-HL-325Lx2__all-smi-test-fixture.txt'), 'utf8'), ALL_SMI_FIELDS);
    expect(rows).toHaveLength(2);
    const [d0, d1] = rows.map(hlDevice);
    expect(d0).toMatchObject({ id: 'hl-smi:0', index: 0, name: 'HL-325L', uuid: '01P4-HL3090A0-18-U4V193-22-07-00', driverVersion: '1.22.1-97ec1a4', memoryMiB: 131072, powerLimitW: 850 });
    expect(d1!.uuid).toBe('01P4-HL3090A0-18-U4V298-03-04-04');
    expect(hlReading(rows[0]!, 'index')).toEqual({ key: 0, powerW: 226, temperatureC: 36, utilizationPct: 0, memoryUsedMiB: 672 });
    expect(hlReading(rows[1]!, 'index')).toEqual({ key: 1, powerW: 230, temperatureC: 39, utilizationPct: 0, memoryUsedMiB: 672 });
  });
});

describe('hl-smi parser over own fixtures', () => {
  it('probe rows: module ids become the device index (HABANA_VISIBLE_MODULES), missing spellings stay missing', () => {
    const rows = parseHlSmiCsv(readFileSync(join(OWN, 'probe__2x-HL-225__module-ids.txt'), 'utf8'), HL_PROBE_FIELDS);
    const devs = rows.map(hlDevice);
    expect(devs[0]).toMatchObject({ id: 'hl-smi:2', index: 2, serial: 'AN23011234', busId: '0000:b3:00.0', powerLimitW: 600, memoryMiB: 98304, partition: 'hl-smi index 0, module id 2' });
    expect(devs[1]).toMatchObject({ id: 'hl-smi:0', index: 0, busId: '0000:19:00.0' });
    expect(devs[1]!.serial).toBeUndefined(); // "N/A"
    expect(hlReading(rows[1]!, 'module_id')!.powerW).toBeUndefined(); // "[N/A]" is not 0 W
  });
  it('rejects headers, short rows and foreign lines rather than shifting columns', () => {
    expect(parseHlSmiLine('module_id, power.draw [W], temperature.aip [C], utilization.aip [%], memory.used [MiB]', LOOP_FIELDS)).toBeUndefined();
    expect(parseHlSmiLine('2, 98 W, 31 C', LOOP_FIELDS)).toBeUndefined();
    expect(parseHlSmiLine('hl-smi: failed to open device', LOOP_FIELDS)).toBeUndefined();
    expect(parseHlSmiLine('2, 98 W, 31 C, 0 %, 512 MiB\r', LOOP_FIELDS)).toEqual({ module_id: '2', 'power.draw': '98 W', 'temperature.aip': '31 C', 'utilization.aip': '0 %', 'memory.used': '512 MiB' });
    // nounits output reads the same
    expect(hlReading(parseHlSmiLine('2, 98, 31, 0, 512', LOOP_FIELDS)!, 'module_id')).toEqual({ key: 2, powerW: 98, temperatureC: 31, utilizationPct: 0, memoryUsedMiB: 512 });
  });
});

describe('hl-smi process level (fake hl-smi on PATH)', () => {
  const routes = (probeFile: string) => ({
    [`-Q ${HL_PROBE_FIELDS.join(',')} -f csv,noheader`]: { file: probeFile, mode: 'once' as const },
    '-Q module_id,*': { file: join(OWN, 'loop__module_id-power-temp-util-mem.txt'), mode: 'loop' as const },
  });

  it('probes, then one looping hl-smi streams every card keyed by module id; N/A gives no power', async () => {
    // the fake prints one row per 50 ms instead of per second: the tool's pace is not what is tested
    const fake = await makeFakeTool('hl-smi', routes(join(OWN, 'probe__2x-HL-225__module-ids.txt')), {}, 50);
    const probe = await hlSmi.probe({ env: fake.env, options: {} });
    expect(probe.state).toBe('ok');
    if (probe.state !== 'ok') return;
    expect(probe.devices.map((d) => d.id)).toEqual(['hl-smi:0', 'hl-smi:2']);
    const sink = recordingSink();
    const ctrl = new AbortController();
    const s = await hlSmi.start({ devices: probe.devices, intervalMs: 1000, clock: createRunClock(), signal: ctrl.signal, sink, options: {}, env: fake.env, probe });
    expect(await waitFor(() => sink.samples.length >= 8, 20_000)).toBe(true);
    ctrl.abort();
    await s.stop();
    expect(s.command!.slice(1)).toEqual(['-Q', LOOP_FIELDS.join(','), '-f', 'csv,noheader', '-l', '1']);
    const m2 = sink.samples.filter((x) => x.deviceId === 'hl-smi:2').map((x) => x.powerW);
    const m0 = sink.samples.filter((x) => x.deviceId === 'hl-smi:0').map((x) => x.powerW);
    expect(m2.slice(0, 4)).toEqual([98, 212, 388, 391]);
    expect(m0.slice(0, 4)).toEqual([101, 205, undefined, 379]);
    expect(sink.samples.find((x) => x.deviceId === 'hl-smi:0' && x.powerW === undefined)).toMatchObject({ temperatureC: 45, utilizationPct: 100, memoryUsedMiB: 81920 });
  });

  it('samples only the selected module', async () => {
    const fake = await makeFakeTool('hl-smi', routes(join(OWN, 'probe__2x-HL-225__module-ids.txt')), {}, 50);
    const probe = await hlSmi.probe({ env: fake.env, options: {} });
    if (probe.state !== 'ok') throw new Error(probe.reason);
    const sink = recordingSink();
    const ctrl = new AbortController();
    const s = await hlSmi.start({ devices: probe.devices.filter((d) => d.index === 2), intervalMs: 1000, clock: createRunClock(), signal: ctrl.signal, sink, options: {}, env: fake.env, probe });
    expect(await waitFor(() => sink.samples.length >= 3, 20_000)).toBe(true);
    ctrl.abort();
    await s.stop();
    expect(new Set(sink.samples.map((x) => x.deviceId))).toEqual(new Set(['hl-smi:2']));
  });

  it('no power reading on any card → "no power sensor through this CLI"; permission errors are named', async () => {
    const dir = (await makeFakeTool('unused', {})).dir;
    const noPower = join(dir, 'nopower.txt');
    await writeFile(noPower, '0, 0, 01P0-X, N/A, HL-205, 0000:19:00.0, 1.9.0-abc, 32768 MiB, N/A, N/A\n');
    const fake = await makeFakeTool('hl-smi', routes(noPower));
    expect(await hlSmi.probe({ env: fake.env, options: {} })).toEqual({ state: 'unavailable', code: 'no-power-field', reason: 'no power sensor through this CLI' });
    const denied = await makeFakeTool('hl-smi', routes(noPower), { 0: { fail: 'hl-smi: Permission denied opening /dev/accel/accel0' }, 1: { fail: 'hl-smi: Permission denied opening /dev/accel/accel0' } });
    expect(await hlSmi.probe({ env: denied.env, options: {} })).toMatchObject({ state: 'unavailable', code: 'permission-denied' });
    expect(await hlSmi.probe({ env: { PATH: '/nonexistent' }, options: {} })).toMatchObject({ state: 'unavailable', code: 'not-installed' });
    expect(await hlSmi.probe({ env: { PATH: '' }, options: { path: '/nonexistent/hl-smi' } })).toMatchObject({ state: 'unavailable', code: 'not-installed', reason: '/nonexistent/hl-smi is not an executable file' });
  });

  it('falls back to the minimal field list when an older hl-smi rejects the full query', async () => {
    const dir = (await makeFakeTool('unused', {})).dir;
    const minimal = join(dir, 'minimal.txt');
    await writeFile(minimal, '0, 01P0-HL2080A0-15-TNPS34-21-02-06, HL-205, 0000:19:00.0, 1.4.0-aaa, 32768 MiB, 87 W\n');
    const fake = await makeFakeTool('hl-smi', {
      '-Q index,uuid,name,bus_id,driver_version,memory.total,power.draw -f csv,noheader': { file: minimal, mode: 'once' },
      '-Q index,*': { file: minimal, mode: 'once' },
      '-Q module_id,*': { file: minimal, mode: 'once' },
    }, { 0: { fail: 'Invalid query type: module_id', exitCode: 22 } });
    const p = await hlSmi.probe({ env: fake.env, options: {} });
    expect(p.state).toBe('ok');
    if (p.state !== 'ok') return;
    expect(p.devices[0]).toMatchObject({ id: 'hl-smi:0', name: 'HL-205', driverVersion: '1.4.0-aaa', memoryMiB: 32768 });
    expect(p.note).toMatch(/module ids/);
    expect((p.private as { keyField: string }).keyField).toBe('index');
  });
});
