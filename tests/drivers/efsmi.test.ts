import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEfsmi, efsmiDevice, efsmiPower, efsmi } from '../../drivers/efsmi.js';
import { FIXTURES, HAVE_FIXTURES, ROOT } from '../helpers/cli.js';
import { makeFakeTool } from './fake-vendor-tool.js';

const OWN = join(ROOT, 'tests', 'fixtures', 'efsmi');

describe.skipIf(!HAVE_FIXTURES)('efsmi parser over ../shared/fixtures', () => {
  it('reads the V1.2 S60 table: banner, "105W  300W" without a slash, "39 C", Sleep/Active, ECC-reduced memory', () => {
    const t = parseEfsmi(readFileSync(join(FIXTURES, 'others/efsmi__Enflame-S60x2__EFSMI-V1.2.0.301__paddle-docs.txt'), 'utf8'));
    expect(t.efsmiVersion).toBe('1.2.0.301');
    expect(t.driverVersion).toBe('1.2.0.301');
    expect(t.cards).toHaveLength(2);
    expect(t.cards[0]).toEqual({ index: 0, name: 'S60', firmwareVersion: '33.6.2', busId: '00:01:00.0', ecc: 'Disable', temperatureC: 39, powerState: 'Sleep', powerW: 105, powerCapW: 300, memoryTotalMiB: 49120, virtualization: 'Disable', utilizationPct: 0, serial: 'A073640510015' });
    expect(t.cards[1]).toMatchObject({ index: 1, firmwareVersion: '33.6.5', ecc: 'Enable', temperatureC: 46, powerState: 'Active', powerW: 128, memoryTotalMiB: 42976, serial: 'C807J40510285' });
    expect(efsmiDevice(t.cards[1]!, t)).toMatchObject({ id: 'efsmi:1', vendor: 'Enflame', name: 'S60', serial: 'C807J40510285', busId: '00:09:00.0', driverVersion: '1.2.0.301', memoryMiB: 42976, powerLimitW: 300 });
  });
});

describe('efsmi parser over own fixtures', () => {
  it('1.7 layout: "EFSMI:" banner, "Boot FW VER", "231W / 300W", "52℃", two-word names', () => {
    const t = parseEfsmi(readFileSync(join(OWN, 'efsmi-1.7__2x-L300.txt'), 'utf8'));
    expect(t.efsmiVersion).toBe('1.7.2.14');
    expect(t.cards[0]).toMatchObject({ index: 0, name: 'Enflame L300', firmwareVersion: '40.2.8.3', temperatureC: 52, powerState: 'LP0', powerW: 231, powerCapW: 300, memoryTotalMiB: 147456, utilizationPct: 88, serial: 'A098Q50610048' });
    expect(t.cards[1]).toMatchObject({ index: 1, busId: '00:2e:00.0', powerW: 69, utilizationPct: 0 });
  });
  it('SR-IOV host: a bare "N/A" power cell is missing, not 0 W', () => {
    const t = parseEfsmi(readFileSync(join(OWN, 'efsmi-1.6__SRIOV__power-NA.txt'), 'utf8'));
    expect(t.cards).toHaveLength(1);
    expect(t.cards[0]).toMatchObject({ temperatureC: 35, powerState: 'LP0', virtualization: 'SRIOV', memoryTotalMiB: 23552 });
    expect(t.cards[0]!.powerW).toBeUndefined();
    expect(t.cards[0]!.powerCapW).toBeUndefined();
  });
  it('efsmiPower spellings', () => {
    expect(efsmiPower('105W  300W')).toEqual({ usage: 105, cap: 300 });
    expect(efsmiPower('68W / 300W')).toEqual({ usage: 68, cap: 300 });
    expect(efsmiPower('N/A')).toEqual({});
    expect(efsmiPower('120W / N/A')).toEqual({ usage: 120 });
  });
});

describe('efsmi probe (fake efsmi on PATH)', () => {
  it('lists cards with serials and caps, TOPS_VISIBLE_DEVICES for the workload', async () => {
    const fake = await makeFakeTool('efsmi', { '': { file: join(OWN, 'efsmi-1.7__2x-L300.txt'), mode: 'once' } });
    const p = await efsmi.probe({ env: fake.env, options: {} });
    expect(p.state).toBe('ok');
    if (p.state !== 'ok') return;
    expect(p.devices.map((d) => [d.id, d.serial, d.powerLimitW])).toEqual([['efsmi:0', 'A098Q50610048', 300], ['efsmi:1', 'A098Q50610051', 300]]);
    expect(efsmi.meta.visibilityEnv).toEqual(['TOPS_VISIBLE_DEVICES']);
  });
  it('no power on any card → "no power sensor through this CLI"', async () => {
    const fake = await makeFakeTool('efsmi', { '': { file: join(OWN, 'efsmi-1.6__SRIOV__power-NA.txt'), mode: 'once' } });
    expect(await efsmi.probe({ env: fake.env, options: {} })).toEqual({ state: 'unavailable', code: 'no-power-field', reason: 'no power sensor through this CLI' });
  });
});
