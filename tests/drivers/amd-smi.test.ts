// amd-smi / rocm-smi parsers against every capture in ../shared/fixtures/amd (skipped with a note on a fresh clone)
// and against our own fixtures in tests/fixtures/amd: values, units, missing spellings, secondary dies, partitions.
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  amdValue, toJoules, toWatts, parseAmdSmiJson, parseAmdSmiText, readingsFromAmdSmi, staticFromAmdSmi, parseAmdMonitor, parseHelpFlags,
  parseRocmSmiJson, readingsFromRocmSmi, staticFromRocmSmi, parseRocmSmiConcise, powerGroups, reportingPlan, extractJson,
} from '../../drivers/amd-smi.js';
import { FIXTURES, HAVE_FIXTURES, ROOT } from '../helpers/cli.js';

const AMD = join(FIXTURES, 'amd');
const OWN = join(ROOT, 'tests', 'fixtures', 'amd');
const read = (p: string) => readFileSync(p, 'utf8');
const shared = (f: string) => read(join(AMD, f));
const own = (f: string) => read(join(OWN, f));

describe('amd-smi value shapes', () => {
  it('reads numbers, {value, unit} objects, "11 W", "55 °C", "(300Mhz)"; N/A and "N/A (Secondary die)" are no value', () => {
    expect(amdValue(10)).toEqual({ value: 10 });
    expect(amdValue({ value: 10, unit: 'W' })).toEqual({ value: 10, unit: 'W' });
    expect(amdValue({ value: 'N/A', unit: 'W' })).toEqual({ unit: 'W' });
    expect(amdValue('11 W')).toEqual({ value: 11, unit: 'W' });
    expect(amdValue('55 °C')).toEqual({ value: 55, unit: '°C' });
    expect(amdValue('(300Mhz)')).toEqual({ value: 300, unit: 'Mhz' });
    expect(amdValue('36.0')).toEqual({ value: 36 });
    for (const m of ['N/A', 'NA', '-', '', 'ENABLED', null, undefined]) expect(amdValue(m).value, String(m)).toBeUndefined();
    expect(amdValue('N/A (Secondary die)')).toEqual({ secondaryDie: true });
    expect(toWatts(amdValue('102675 mW'))).toBeCloseTo(102.675, 9);
    expect(toJoules(amdValue({ value: 1.004, unit: 'J' }))).toBe(1.004);
    expect(toJoules(amdValue('166127.84 kJ'))).toBeCloseTo(166127840, 3);
    expect(toJoules({ value: 5, unit: 'Wh' })).toBeUndefined(); // an unknown unit is not guessed
    expect(extractJson('WARNING: something\n[{"gpu": 0}]\n')).toEqual([{ gpu: 0 }]);
  });
});

describe.skipIf(!HAVE_FIXTURES)('amd-smi and rocm-smi (shared captures)', () => {
  it('amd-smi metric --power (text, 2 Navi GPUs) and metric -p --json with units', () => {
    const text = readingsFromAmdSmi(parseAmdSmiText(shared('amdsmi-CHANGELOG-example__amd-smi_metric--power__Navi-2GPU.txt')));
    expect(text.map((r) => [r.index, r.powerW, r.throttleReasons])).toEqual([[0, 11, []], [1, 17, []]]);
    const entries = parseAmdSmiText(shared('amdsmi-CHANGELOG-example__amd-smi_metric--power__Navi-2GPU.txt'));
    expect(amdValue((entries[1]!.power as Record<string, string>).mem_voltage)).toEqual({ value: 1250, unit: 'mV' });
    const json = shared('amdsmi-CHANGELOG-example__amd-smi_metric-p--json__units.txt');
    const [r] = readingsFromAmdSmi(parseAmdSmiJson(json));
    expect(r).toMatchObject({ index: 0, powerW: 10 });
    expect(r!.energyJ).toBeUndefined(); // -E was not asked: no counter, not 0 J
    expect((parseAmdSmiJson(json)[0]!.power as Record<string, unknown>).power_management).toBe('ENABLED');
  });

  it('amd-smi monitor tables: 32 CPX partitions and 8 GPUs, "248 W" and "55 °C" (UTF-8 degree sign)', () => {
    const cpx = parseAmdMonitor(shared('amdsmi-CHANGELOG-example__amd-smi_monitor-p-t-v__MI300X-CPX-32part.txt'));
    expect(cpx).toHaveLength(32);
    expect(cpx[0]!.POWER).toMatchObject({ value: 248, unit: 'W' });
    expect(cpx[0]!.GPU_TEMP).toMatchObject({ value: 55, unit: '°C' });
    expect(cpx[31]!.POWER!.value).toBe(227);
    expect(cpx[12]!.VRAM_TOTAL).toMatchObject({ value: 196300, unit: 'MB' });
    // partitions of one socket repeat its power (blocks of equal readings): summing them all would overcount
    expect(new Set(cpx.slice(4, 8).map((r) => r.POWER!.value))).toEqual(new Set([221, 222]));
    const eight = parseAmdMonitor(shared('amdsmi-CHANGELOG-example__amd-smi_monitor-ptumv.txt'));
    expect(eight.map((r) => r.POWER!.value)).toEqual([171, 175, 177, 172, 178, 176, 176, 175]);
    expect(eight[0]!.GFX_CLOCK).toMatchObject({ value: 114, unit: 'MHz' });
    expect(eight[7]!.MEM_CLOCK!.value).toBe(900);
    const viol = parseAmdMonitor(shared('amdsmi-CHANGELOG-example__amd-smi_monitor--violation.txt'));
    expect(viol).toHaveLength(16); // the trailing "..." is not a row
    expect(viol[15]!.PVIOL).toMatchObject({ value: 0, unit: '%' });
  });

  it('amd-smi static --limit, metric --throttle, and the CPU/PCIe metrics (no GPU power in them)', () => {
    const lim = staticFromAmdSmi(parseAmdSmiText(shared('amdsmi-CHANGELOG-example__amd-smi_static--limit.txt')));
    expect(lim.map((s) => [s.index, s.powerLimitW])).toEqual([[0, 203], [1, 213]]);
    const thr = parseAmdSmiText(shared('amdsmi-CHANGELOG-example__amd-smi_metric--throttle.txt'));
    expect(thr).toHaveLength(2);
    expect((thr[1]!.throttle as Record<string, string>).socket_thermal_accumulated).toBe('18010');
    expect(readingsFromAmdSmi(thr).map((r) => r.throttleReasons)).toEqual([[], []]); // NOT ACTIVE
    const pcie = readingsFromAmdSmi(parseAmdSmiText(shared('amdsmi-CHANGELOG-example__amd-smi_metric-P.txt')));
    expect(pcie).toEqual([{ index: 0 }]); // no power there: no reading, not 0 W
    const cpu = parseAmdSmiText(shared('amdsmi-CHANGELOG-example__amd-smi_metric-U-all.txt'));
    expect(cpu[0]!.cpu).toBe(0);
    expect(toWatts(amdValue((cpu[0]!.power_metrics as Record<string, string>).socket_power))).toBeCloseTo(102.675, 6);
    expect(readingsFromAmdSmi(cpu)).toEqual([]); // a CPU is not a GPU reading
    const cores = parseAmdSmiText(shared('amdsmi-CHANGELOG-example__amd-smi_metric-O.txt'));
    expect(cores.map((c) => c.core)).toEqual([0, 1, 2]);
    expect(amdValue((cores[0]!.core_energy as Record<string, string>).value).value).toBeUndefined(); // N/A
  });

  it('amd-smi --help: -w takes whole seconds; the flags the driver looks for are listed', () => {
    const metric = shared('amdsmi-cli-README__amd-smi_metric--help.txt');
    const flags = parseHelpFlags(metric);
    for (const f of ['-p', '-E', '--energy', '-t', '-c', '-u', '-m', '-w', '--json', '-g']) expect(flags.has(f), f).toBe(true);
    expect(flags.has('--throttle')).toBe(false); // this README predates --throttle: the driver will not ask for it
    expect(metric).toMatch(/-w, --watch INTERVAL\s+Reprint the command in a loop of INTERVAL seconds/);
    const monitor = parseHelpFlags(shared('amdsmi-cli-README__amd-smi_monitor--help.txt'));
    for (const f of ['-p', '--power-usage', '-w', '--csv']) expect(monitor.has(f), f).toBe(true);
  });

  // [file, GPUs, name of card0, power of card0, limit, driver, bus]
  const ROCM: Array<[string, number, string | undefined, number | 'secondary', number, string, string]> = [
    ['telegraf-testdata__rocm-smi__mi100_rocm571.json', 6, 'Arcturus GL-XL [Instinct MI100]', 39, 290, '6.2.4', '0000:1E:00.0'],
    ['telegraf-testdata__rocm-smi__rx6700xt_rocm430.json', 1, '67XA6S', 6, 211, '6.3.6', '0000:07:00.0'],
    ['telegraf-testdata__rocm-smi__rx6700xt_rocm571.json', 1, 'Navi 22 [Radeon RX 6700/6700 XT / 6800M]', 6, 211, '6.3.6', '0000:07:00.0'],
    ['telegraf-testdata__rocm-smi__rx6700xt_rocm602.json', 1, 'Navi 22 [Radeon RX 6700/6700 XT / 6800M]', 'secondary', 211, '6.3.6', '0000:07:00.0'],
    ['telegraf-testdata__rocm-smi__vega-10-XT.json', 1, 'D05101', 15, 170, '5.9.25', '0000:04:00.0'],
    ['telegraf-testdata__rocm-smi__vega-20-WKS-GL-XE.json', 1, 'Radeon Instinct MI50 32GB', 26, 225, '5.9.17', '0000:63:00.0'],
  ];
  it('rocm-smi --json of every captured card: strings with units in keys, "N/A (Secondary die)" is no reading', () => {
    expect(readdirSync(AMD).filter((f) => f.endsWith('.json')).sort()).toEqual(ROCM.map((r) => r[0]).sort());
    for (const [file, n, name, power, limit, driver, bus] of ROCM) {
      const { cards, system } = parseRocmSmiJson(shared(file));
      expect(cards, file).toHaveLength(n);
      const [s] = staticFromRocmSmi(cards, system);
      expect(s, file).toMatchObject({ index: 0, powerLimitW: limit, driverVersion: driver, busId: bus });
      expect(s!.name, file).toBe(name);
      const [r] = readingsFromRocmSmi(cards);
      if (power === 'secondary') {
        expect(r!.powerW, file).toBeUndefined();
        expect(r!.secondaryDie).toBe(true);
        // alone, a secondary die has no card before it: the probe reports no power field, not 0 W
        expect(powerGroups(staticFromRocmSmi(cards, system), readingsFromRocmSmi(cards))).toEqual([{ primary: 0, members: [0] }]);
      } else expect(r!.powerW, file).toBe(power);
      expect(r!.energyJ).toBeUndefined(); // these captures did not ask for --showenergycounter
    }
    const mi100 = readingsFromRocmSmi(parseRocmSmiJson(shared('telegraf-testdata__rocm-smi__mi100_rocm571.json')).cards);
    expect(mi100.map((r) => r.powerW)).toEqual([39, 37, 35, 39, 39, 40]);
    expect(mi100[0]).toMatchObject({ temperatureC: 34, smClockMHz: 300, memClockMHz: 1200, utilizationPct: 0 });
    const vega = staticFromRocmSmi(...Object.values(parseRocmSmiJson(shared('telegraf-testdata__rocm-smi__vega-20-WKS-GL-XE.json'))) as [never, never]);
    expect(vega[0]).toMatchObject({ serial: '692024000810', uuid: '0x2f048617326b1ea', memoryMiB: 32752 });
  });

  it('rocm-smi concise table (MI300X, 1 and 4 GPUs): socket power, cap, partitions', () => {
    expect(parseRocmSmiConcise(shared('thamada-nvsim__MI300X_smi__out.txt'))).toEqual([
      { index: 0, temperatureC: 41, powerW: 121, powerCapW: 750, memoryPartition: 'NPS1', computePartition: 'SPX', name: 'AMD Instinct MI300X' },
    ]);
    const four = parseRocmSmiConcise(shared('thamada-nvsim__MI300X_x4_smi__out.txt'));
    expect(four.map((g) => g.powerW)).toEqual([133, 131, 131, 137]);
    expect(four.map((g) => g.temperatureC)).toEqual([35, 37, 34, 38]);
    expect(four.every((g) => g.name === 'AMD Instinct MI300X' && g.computePartition === 'SPX')).toBe(true);
  });
});

describe('amd-smi / rocm-smi on our own fixtures (fresh clone)', () => {
  const cpxStatic = () => staticFromAmdSmi(parseAmdSmiJson(own('amd-smi_static--json__MI300X-2x-CPX.json')));
  it('MI300X CPX: 16 logical GPUs are 2 sockets; one reading per socket whether partitions print N/A or repeat it', () => {
    const st = cpxStatic();
    expect(st).toHaveLength(16);
    expect(st[0]).toMatchObject({ name: 'AMD Instinct MI300X', busId: '0000:0c:00.0', computePartition: 'CPX', memoryPartition: 'NPS1', partitionId: 0, powerLimitW: 750, memoryMiB: 24576 });
    expect(st[9]).toMatchObject({ busId: '0000:22:00.1', partitionId: 1 });
    expect(st[9]!.powerLimitW).toBeUndefined(); // "N/A" on a secondary partition
    for (const tag of ['na-secondaries', 'mirrored']) {
      const rd = readingsFromAmdSmi(parseAmdSmiJson(own(`amd-smi_metric-p-E-t-u-m--json__MI300X-2x-CPX__${tag}__frame1.json`)));
      expect(rd[0]).toMatchObject({ powerW: 402, energyJ: 1843211.734, temperatureC: 48 });
      expect(rd[8]).toMatchObject({ powerW: 389, energyJ: 2017733.102 });
      if (tag === 'na-secondaries') expect(rd[1]!.powerW).toBeUndefined(); else expect(rd[1]!.powerW).toBe(402);
      const groups = powerGroups(st, rd);
      expect(groups).toEqual([{ primary: 0, members: [0, 1, 2, 3, 4, 5, 6, 7] }, { primary: 8, members: [8, 9, 10, 11, 12, 13, 14, 15] }]);
      // a workload on partitions 3 and 5 of socket 0 and 9 of socket 1: read sockets 0 and 8 once each
      expect(reportingPlan(groups, [3, 5, 9])).toEqual([{ read: 0, recordAs: 3 }, { read: 8, recordAs: 9 }]);
    }
    // without partition ids, the shared bus:device of the PCI functions still groups them
    const noIds = st.map(({ partitionId: _drop, ...s }) => s);
    expect(powerGroups(noIds, []).map((g) => g.members.length)).toEqual([8, 8]);
    // SPX GPUs are each their own group even on one bus
    expect(powerGroups(st.map((s) => ({ ...s, computePartition: 'SPX', partitionId: undefined })), []).length).toBe(16);
  });

  it('MI250X through amd-smi: GCD 1 has N/A power and a zero counter — part of card 0, not 0 W', () => {
    const st = staticFromAmdSmi(parseAmdSmiJson(own('amd-smi_static--json__MI250X-1card.json')));
    expect(st.map((s) => [s.index, s.busId, s.driverVersion])).toEqual([[0, '0000:29:00.0', '6.2.4'], [1, '0000:2c:00.0', '6.2.4']]);
    const frames = [1, 2, 3].map((k) => readingsFromAmdSmi(parseAmdSmiJson(own(`amd-smi_metric-p-E--json__MI250X-1card__frame${k}.json`))));
    expect(frames.map((f) => f[0]!.powerW)).toEqual([89, 301, 318]);
    expect(frames.map((f) => f[0]!.energyJ)).toEqual([962825.0963, 963126.4418, 963444.2001]);
    expect(frames[0]![1]).toMatchObject({ index: 1, energyJ: 0 });
    expect(frames[0]![1]!.powerW).toBeUndefined();
    expect(powerGroups(st, frames[0]!)).toEqual([{ primary: 0, members: [0, 1] }]);
    expect(reportingPlan(powerGroups(st, frames[0]!), [1])).toEqual([{ read: 0, recordAs: 1 }]);
    // two different cards whose second one has no power are not merged
    const other = [st[0]!, { ...st[1]!, name: 'AMD Radeon PRO W7900' }];
    expect(powerGroups(other, frames[0]!)).toHaveLength(2);
  });

  it('the same MI250X through rocm-smi: "N/A (Secondary die)", Accumulated Energy (uJ) in joules', () => {
    const { cards, system } = parseRocmSmiJson(own('rocm-smi_static--json__MI250X-1card.json'));
    const st = staticFromRocmSmi(cards, system);
    expect(st[0]).toMatchObject({ name: 'AMD INSTINCT MI250 (MCM) OAM AC MBA', powerLimitW: 560, serial: 'PCB052715-0065', memoryMiB: 65520, driverVersion: '6.2.4' });
    const frames = [1, 2, 3].map((k) => readingsFromRocmSmi(parseRocmSmiJson(own(`rocm-smi_showpower-showenergycounter--json__MI250X-1card__frame${k}.json`)).cards));
    [962825.09629744, 963126.44181202, 963444.20014387].forEach((j, k) => expect(frames[k]![0]!.energyJ).toBeCloseTo(j, 6)); // µJ → J
    expect(frames.map((f) => f[0]!.smClockMHz)).toEqual([800, 1700, 1700]);
    expect(frames[2]![1]).toMatchObject({ secondaryDie: true, energyJ: 0 });
    expect(frames[2]![1]!.powerW).toBeUndefined();
    expect(powerGroups(st, frames[0]!)).toEqual([{ primary: 0, members: [0, 1] }]);
  });

  it('text forms: metric --power with N/A, monitor with an N/A partition row', () => {
    const r = readingsFromAmdSmi(parseAmdSmiText(own('amd-smi_metric--power__2gpu.txt')));
    expect(r[0]).toMatchObject({ powerW: 211, throttleReasons: ['throttled'] });
    expect(r[1]!.powerW).toBeUndefined();
    const m = parseAmdMonitor(own('amd-smi_monitor-ptv__4gpu.txt'));
    expect(m.map((x) => x.POWER!.value)).toEqual([512, undefined, 498, 187]);
    expect(m[1]!.POWER!.raw).toBe('N/A');
  });
});
