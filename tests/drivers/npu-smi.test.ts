// npu-smi parsers against every capture in ../shared/fixtures/ascend (skipped with a note on a fresh clone) and
// our own Atlas A3 fixtures: two dies per card, the card's power on chip 0 only, `-` is no reading.
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseNpuSmiInfo, parseNpuSmiKeyValues, powerFromKeyValues, parseNpuSmiMap, npuDevices, npuCards } from '../../drivers/npu-smi.js';
import { FIXTURES, HAVE_FIXTURES, ROOT } from '../helpers/cli.js';

const ASC = join(FIXTURES, 'ascend');
const OWN = join(ROOT, 'tests', 'fixtures', 'ascend');
const read = (p: string) => readFileSync(p, 'utf8');

describe.skipIf(!HAVE_FIXTURES)('npu-smi (shared captures)', () => {
  it('covers every file in the folder', () => {
    expect(readdirSync(ASC).sort()).toEqual([
      'npu-smi-info-t-power-i-0-c-0__Atlas-200I-A2__hiascend-doc-example.txt',
      'npu-smi-info-t-power-i-0__Atlas-200I-A2__hiascend-doc-example.txt',
      'npu-smi-info-t-usages__910B-65536MB-HBM__msserviceprofiler-test-fixture.txt',
      'npu-smi-info__910B2Cx2__npu-smi-23.0.3__paddle-docs.txt',
      'npu-smi-info__910B3x8__npu-smi-23.0.7__idle__vllm-ascend-issue-198.txt',
    ]);
  });

  it('910B3 ×8 (npu-smi 23.0.7): one chip per NPU, power, temperature, HBM "3338 / 65536"; the process table is skipped', () => {
    const info = parseNpuSmiInfo(read(join(ASC, 'npu-smi-info__910B3x8__npu-smi-23.0.7__idle__vllm-ascend-issue-198.txt')));
    expect(info.version).toBe('23.0.7');
    expect(info.chips).toHaveLength(8);
    expect(info.chips.map((c) => c.powerW)).toEqual([102.8, 97.6, 96.5, 108.7, 103.9, 99.3, 107.7, 105.1]);
    expect(info.chips.map((c) => c.temperatureC)).toEqual([55, 54, 56, 57, 58, 56, 58, 59]);
    expect(info.chips.map((c) => c.busId)).toEqual(['0000:C1:00.0', '0000:C2:00.0', '0000:81:00.0', '0000:82:00.0', '0000:01:00.0', '0000:02:00.0', '0000:41:00.0', '0000:42:00.0']);
    expect(info.chips[0]).toMatchObject({ npuId: 0, chipId: 0, name: '910B3', health: 'OK', aicorePct: 0, hbmUsedMiB: 3338, hbmTotalMiB: 65536 });
    expect(info.chips.every((c) => c.phyId === undefined)).toBe(true);
    // without `npu-smi info -m`, table order gives the device index; every card is measured on its one chip
    const devs = npuDevices(info, []);
    expect(devs.map((d) => d.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(npuCards(devs).every((c) => c.measured && c.members.length === 1)).toBe(true);
  });

  it('910B2C ×2 (npu-smi 23.0.3, a doc example)', () => {
    const info = parseNpuSmiInfo(read(join(ASC, 'npu-smi-info__910B2Cx2__npu-smi-23.0.3__paddle-docs.txt')));
    expect(info.version).toBe('23.0.3');
    expect(info.chips.map((c) => [c.npuId, c.name, c.powerW, c.temperatureC, c.busId, c.hbmUsedMiB])).toEqual([
      [0, '910B2C', 89.9, 53, '0000:5A:00.0', 3317],
      [1, '910B2C', 93.8, 53, '0000:29:00.0', 3316],
    ]);
  });

  it('-t power with and without -c (Atlas 200I A2): the chip\'s real-time power, not the MCU\'s dissipation', () => {
    const all = parseNpuSmiKeyValues(read(join(ASC, 'npu-smi-info-t-power-i-0__Atlas-200I-A2__hiascend-doc-example.txt')));
    expect(all).toEqual([['NPU ID', '0'], ['Chip Count', '1'], ['Chip ID', '0'], ['NPU Real-time Power(W)', '9.1'], ['Power Dissipation(W)', '16.9'], ['Chip Name', 'MCU']]);
    expect(powerFromKeyValues(all)).toEqual({ powerW: 9.1, label: 'NPU Real-time Power(W)' });
    const one = parseNpuSmiKeyValues(read(join(ASC, 'npu-smi-info-t-power-i-0-c-0__Atlas-200I-A2__hiascend-doc-example.txt')));
    expect(powerFromKeyValues(one).powerW).toBe(9.1);
    expect(powerFromKeyValues([['Power Dissipation(W)', '16.9']]).powerW).toBe(16.9); // a card with only the MCU reading
  });

  it('-t usages: key/value lines (HBM capacity and usage rates); no power in it', () => {
    const kv = parseNpuSmiKeyValues(read(join(ASC, 'npu-smi-info-t-usages__910B-65536MB-HBM__msserviceprofiler-test-fixture.txt')));
    const get = (k: string) => kv.find(([key]) => key === k)?.[1];
    expect(get('HBM Capacity(MB)')).toBe('65536');
    expect(get('HBM Usage Rate(%)')).toBe('3');
    expect(get('Ctrlcpu Usage Rate(%)')).toBe('2');
    expect(get('Chip ID')).toBe('0');
    expect(kv).toHaveLength(15);
    expect(powerFromKeyValues(kv)).toEqual({});
  });
});

describe('npu-smi on our own fixtures (fresh clone)', () => {
  const frame = (k: number) => parseNpuSmiInfo(read(join(OWN, `npu-smi-info__AtlasA3-2cards__frame${k}.txt`)));
  it('Atlas A3: two dies per card, power on chip 0 only; `-` on chip 1 is no reading; the card is never summed', () => {
    const info = frame(2);
    expect(info.version).toBe('24.1.rc3.3');
    expect(info.chips.map((c) => [c.npuId, c.chipId, c.phyId, c.powerW])).toEqual([[0, 0, 0, 352.4], [0, 1, 1, undefined], [1, 0, 2, 171], [1, 1, 3, undefined]]);
    expect(info.chips[1]).toMatchObject({ temperatureC: 43, aicorePct: 94, hbmUsedMiB: 47991, hbmTotalMiB: 65536 }); // "47991/ 65536"
    const map = parseNpuSmiMap(read(join(OWN, 'npu-smi-info-m__AtlasA3-2cards.txt')));
    expect(map.filter((m) => m.logicId !== undefined).map((m) => [m.npuId, m.chipId, m.logicId, m.name])).toEqual([[0, 0, 0, 'Ascend910'], [0, 1, 1, 'Ascend910'], [1, 0, 2, 'Ascend910'], [1, 1, 3, 'Ascend910']]);
    expect(map.find((m) => m.name === 'Mcu')!.logicId).toBeUndefined();
    const cards = npuCards(npuDevices(info, map));
    expect(cards).toEqual([{ npuId: 0, chipId: 0, members: [0, 1], measured: true }, { npuId: 1, chipId: 0, members: [2, 3], measured: true }]);
    // the three polls: the card's power is the chip-0 number each time
    expect([1, 2, 3].map((k) => frame(k).chips.filter((c) => c.chipId === 0).map((c) => c.powerW))).toEqual([[161.8, 167.2], [352.4, 171], [389.9, 402.6]]);
  });

  it('a card whose chips all print `-` is unmeasured, not 0 W', () => {
    const text = read(join(OWN, 'npu-smi-info__AtlasA3-2cards__frame1.txt')).replace('| 161.8       ', '| -           ');
    const cards = npuCards(npuDevices(parseNpuSmiInfo(text), []));
    expect(cards.map((c) => c.measured)).toEqual([false, true]);
  });

  it('-t power on a 910B3, and NA', () => {
    expect(powerFromKeyValues(parseNpuSmiKeyValues(read(join(OWN, 'npu-smi-info-t-power-i-3__910B3.txt'))))).toEqual({ powerW: 108.7, label: 'NPU Real-time Power(W)' });
    expect(powerFromKeyValues(parseNpuSmiKeyValues(read(join(OWN, 'npu-smi-info-t-power-i-0__NA.txt')))).powerW).toBeUndefined();
  });

  it('the -m map in the older layout (no Phy-ID column, names with spaces)', () => {
    const m = parseNpuSmiMap('\tNPU ID                         Chip ID                        Chip Logic ID                  Chip Name                     \n\t0                              0                              0                              Ascend 910B3\n\t0                              1                              -                              Mcu                           \n\t1                              0                              1                              Ascend 910B3\n');
    expect(m).toEqual([{ npuId: 0, chipId: 0, logicId: 0, name: 'Ascend 910B3' }, { npuId: 0, chipId: 1, name: 'Mcu' }, { npuId: 1, chipId: 0, logicId: 1, name: 'Ascend 910B3' }]);
  });
});
