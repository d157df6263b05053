import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMxSmi, parseMxSmiList, mxDevice, mxPower, mxSmi } from '../../drivers/mx-smi.js';
import { FIXTURES, HAVE_FIXTURES, ROOT } from '../helpers/cli.js';
import { makeFakeTool } from './fake-vendor-tool.js';

const OWN = join(ROOT, 'tests', 'fixtures', 'mx-smi');

describe.skipIf(!HAVE_FIXTURES)('mx-smi parser over ../shared/fixtures', () => {
  it('reads the 2.1.6 table: "Power" column only ("44W"), "810/65536 MiB", versions from the banner', () => {
    const t = parseMxSmi(readFileSync(join(FIXTURES, 'others/mx-smi__MetaX-MXC550x8__mx-smi-2.1.6__PaddleNLP-docs.txt'), 'utf8'));
    expect(t).toMatchObject({ mxSmiVersion: '2.1.6', driverVersion: '2.5.014', macaVersion: '2.23.0.1018', biosVersion: '1.13.4.0' });
    expect(t.gpus.map((g) => g.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(t.gpus.map((g) => g.powerW)).toEqual([44, 46, 47, 46, 46, 47, 46, 47]);
    expect(t.gpus[4]).toEqual({ index: 4, name: 'MXC550', busId: '0000:aa:00.0', utilizationPct: 0, temperatureC: 30, powerW: 46, memoryUsedMiB: 810, memoryTotalMiB: 65536 });
    expect(t.gpus[0]!.powerCapW).toBeUndefined(); // 2.1.x prints no cap
    expect(mxDevice(t.gpus[7]!, t)).toMatchObject({ id: 'mx-smi:7', vendor: 'MetaX', name: 'MXC550', busId: '0000:da:00.0', driverVersion: '2.5.014', firmwareVersion: '1.13.4.0', memoryMiB: 65536 });
  });
});

describe('mx-smi parser over own fixtures', () => {
  it('2.2 layout: "Pwr:Usage/Cap" ("287W / 350W"), GPU-State, "N/A / 350W" is missing power', () => {
    const t = parseMxSmi(readFileSync(join(OWN, 'mx-smi-2.2__2x-C500.txt'), 'utf8'));
    expect(t.mxSmiVersion).toBe('2.2.9');
    expect(t.gpus[0]).toEqual({ index: 0, name: 'MetaX C500', busId: '0000:08:00.0', utilizationPct: 97, temperatureC: 63, powerW: 287, powerCapW: 350, memoryUsedMiB: 51200, memoryTotalMiB: 65536, state: 'Available' });
    expect(t.gpus[1]!.powerW).toBeUndefined();
    expect(t.gpus[1]!.powerCapW).toBe(350);
    expect(t.gpus).toHaveLength(2); // the process table is not read as GPUs
  });
  it('mx-smi -L gives UUIDs', () => {
    const l = parseMxSmiList(readFileSync(join(OWN, 'mx-smi-L__2x-C500.txt'), 'utf8'));
    expect(l.get(1)).toEqual({ name: 'MetaX C500', busId: '0000:09:00.0', uuid: 'GPU-0e715b45-bcef-1500-e2db-752724095700' });
  });
  it('mxPower spellings', () => {
    expect(mxPower('44W')).toEqual({ usage: 44 });
    expect(mxPower('48W / 350W')).toEqual({ usage: 48, cap: 350 });
    expect(mxPower('N/A')).toEqual({});
  });
});

describe('mx-smi probe (fake mx-smi on PATH)', () => {
  it('joins the table with the -L UUIDs; MACA_VISIBLE_DEVICES selects devices', async () => {
    const fake = await makeFakeTool('mx-smi', {
      '': { file: join(OWN, 'mx-smi-2.2__2x-C500.txt'), mode: 'once' },
      '-L': { file: join(OWN, 'mx-smi-L__2x-C500.txt'), mode: 'once' },
    });
    const p = await mxSmi.probe({ env: fake.env, options: {} });
    expect(p.state).toBe('ok');
    if (p.state !== 'ok') return;
    expect(p.devices[0]).toEqual({ id: 'mx-smi:0', index: 0, vendor: 'MetaX', name: 'MetaX C500', kind: 'accelerator', uuid: 'GPU-e702f06b-bbd6-bc06-5196-90a5554a24ba', busId: '0000:08:00.0', driverVersion: '3.3.12', firmwareVersion: '1.27.5.0', memoryMiB: 65536, powerLimitW: 350 });
    expect(p.software).toEqual({ 'mx-smi': '2.2.9', 'MetaX kernel driver': '3.3.12', MACA: '3.5.3.20' });
    expect(mxSmi.meta.visibilityEnv).toEqual(['MACA_VISIBLE_DEVICES']);
  });
});
