// nvidia-smi parsers against every nvidia-smi capture in ../shared/fixtures/nvidia (skipped with a note on a fresh
// clone) and against the small fixtures of our own in tests/fixtures/nvidia.
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  parseQueryCsv, rowObject, nvNumber, parseLoopRow, parseQueryText, parseQueryXml, parseGpuList, parseHexMask, decodeThrottleReasons,
  choosePowerField, semanticsFor, powerDrawIsAveraged, weakestSemantics, canonicalField, FIELD_ALIASES, parseNvTimestamp, StampMapper,
  invalidField, isCompleteMissing, looksLikeHeader, type PowerField,
} from '../../drivers/nvidia-smi.js';
import { isMissing } from '../../drivers/driver.js';
import { FIXTURES, HAVE_FIXTURES, ROOT } from '../helpers/cli.js';

const NV = join(FIXTURES, 'nvidia');
const OWN = join(ROOT, 'tests', 'fixtures', 'nvidia');
const read = (p: string) => readFileSync(p, 'utf8');
const sections = () => readdirSync(NV).filter((d) => d.startsWith('sections__') && !d.endsWith('.index'));

/** Every cell spelled as missing parses to no number — never 0. */
function expectMissingNeverZero(cells: string[]): Set<string> {
  const seen = new Set<string>();
  for (const c of cells) {
    if (isMissing(c) || /^\[.*\]$/.test(c)) { expect(nvNumber(c), `'${c}'`).toBeUndefined(); seen.add(c); }
  }
  return seen;
}

// Values read off each capture's --query-gpu section (idle and load) — name, power fields, diagnostics.
const QUERY_GPU: Record<string, Record<'idle' | 'load', { draw: number; instant: number; average?: number; temp: number; sm: number; used: number; util?: number; mask: string; cc: number; driver: string }>> = {
  'linux-x86_64__nvidia-geforce-rtx-2080-super__595.71.05': {
    idle: { draw: 39.32, instant: 39.32, temp: 40, sm: 765, used: 214, util: 0, mask: '0x0000000000000004', cc: 7.5, driver: '595.71.05' },
    load: { draw: 111.5, instant: 111.5, temp: 45, sm: 2055, used: 819, util: 8, mask: '0x0000000000000000', cc: 7.5, driver: '595.71.05' },
  },
  'linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04': {
    idle: { draw: 39.17, instant: 39.17, temp: 33, sm: 765, used: 211, util: 0, mask: '0x0000000000000001', cc: 7.5, driver: '610.57.04' },
    load: { draw: 98.14, instant: 98.14, temp: 38, sm: 2070, used: 815, util: 8, mask: '0x0000000000000000', cc: 7.5, driver: '610.57.04' },
  },
  'linux-x86_64__nvidia-geforce-rtx-4080-super__595.71.05': {
    idle: { draw: 26.2, instant: 28.77, average: 26.2, temp: 43, sm: 210, used: 596, util: 0, mask: '0x0000000000000001', cc: 8.9, driver: '595.71.05' },
    load: { draw: 84.24, instant: 86.41, average: 84.24, temp: 46, sm: 2805, used: 1474, util: 7, mask: '0x0000000000000000', cc: 8.9, driver: '595.71.05' },
  },
  'linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01': {
    idle: { draw: 69.85, instant: 69.62, average: 69.85, temp: 41, sm: 345, used: 0, util: 0, mask: '0x0000000000000001', cc: 9.0, driver: '590.48.01' },
    load: { draw: 631.95, instant: 625.68, average: 631.95, temp: 59, sm: 1980, used: 19818, util: 100, mask: '0x0000000000000000', cc: 9.0, driver: '590.48.01' },
  },
  'linux-x86_64__nvidia-h100-mig__590.48.01': {
    idle: { draw: 71.15, instant: 70.72, average: 71.15, temp: 42, sm: 345, used: 59, mask: '0x0000000000000001', cc: 9.0, driver: '590.48.01' },
    load: { draw: 433.78, instant: 447.35, average: 433.78, temp: 53, sm: 1980, used: 11125, mask: '0x0000000000000000', cc: 9.0, driver: '590.48.01' },
  },
  'linux-x86_64__nvidia-h200-mig__590.48.01': {
    idle: { draw: 78.28, instant: 78.21, average: 78.28, temp: 28, sm: 345, used: 55, mask: '0x0000000000000001', cc: 9.0, driver: '590.48.01' },
    load: { draw: 295.01, instant: 294.14, average: 295.01, temp: 36, sm: 1980, used: 16959, mask: '0x0000000000000000', cc: 9.0, driver: '590.48.01' },
  },
  'windows-x86_64__nvidia-geforce-rtx-2080-super__591.86': {
    idle: { draw: 38.92, instant: 38.92, temp: 40, sm: 300, used: 702, util: 0, mask: '0x0000000000000001', cc: 7.5, driver: '591.86' },
    load: { draw: 97.43, instant: 97.43, temp: 45, sm: 2055, used: 1296, util: 7, mask: '0x0000000000000001', cc: 7.5, driver: '591.86' },
  },
};

describe.skipIf(!HAVE_FIXTURES)('nvidia-smi --query-gpu CSV (shared captures)', () => {
  it('parses every capture\'s idle and load --query-gpu section with units and every missing spelling', () => {
    const spellings = new Set<string>();
    const dirs = sections();
    expect(dirs.length).toBe(7);
    for (const dir of dirs) {
      const key = dir.slice('sections__'.length);
      for (const state of ['idle', 'load'] as const) {
        const csv = parseQueryCsv(read(join(NV, dir, `${state}__query-gpu.txt`)));
        expect(csv.rejected, `${dir} ${state}`).toEqual([]);
        expect(csv.rows).toHaveLength(1);
        const r = rowObject(csv, csv.rows[0]!);
        const e = QUERY_GPU[key]![state];
        const name = parseGpuList(read(join(NV, dir, 'capabilities__list.txt')))[0]!.name;
        expect(r.name).toBe(name);
        expect(csv.units[csv.fields.indexOf('power.draw')]).toBe('W');
        expect(nvNumber(r['power.draw'])).toBe(e.draw);
        expect(nvNumber(r['power.draw.instant'])).toBe(e.instant);
        expect(nvNumber(r['power.draw.average'])).toBe(e.average);
        expect(nvNumber(r['temperature.gpu'])).toBe(e.temp);
        expect(nvNumber(r['clocks.current.sm'])).toBe(e.sm);
        expect(nvNumber(r['memory.used'])).toBe(e.used);
        expect(nvNumber(r['utilization.gpu'])).toBe(e.util); // [N/A] under MIG: undefined, not 0
        expect(r['clocks_event_reasons.active']).toBe(e.mask);
        expect(nvNumber(r.compute_cap)).toBe(e.cc);
        expect(r.driver_version).toBe(e.driver);
        // the preferred field and what it means on this GPU
        expect(choosePowerField(r)).toBe('power.draw.instant');
        const sem = semanticsFor('power.draw', { computeCap: e.cc, name });
        expect(sem.kind).toBe(e.cc >= 8.9 ? 'windowed-average' : 'instantaneous');
        for (const c of csv.rows[0]!) if (/^\[.*\]$|^N\/A$/.test(c)) spellings.add(c);
        expectMissingNeverZero(csv.rows[0]!);
      }
    }
    // the corpus holds these spellings, and none of them became a number above
    for (const s of ['[N/A]', 'N/A', '[Requested functionality has been deprecated]']) expect(spellings.has(s), s).toBe(true);
  });

  it('[Not Supported] and [Function Not Found] (documented, not in these captures\' values) are missing too', () => {
    // the help text names [Not Supported] as the spelling for an unsupported field; FORMATS.md cites
    // [Function Not Found] from a Windows 610.62 capture that is not in the corpus
    const help = read(join(NV, 'sections__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01', 'capabilities__help-query-gpu.txt'));
    expect(help).toContain('"[Not Supported]"');
    for (const s of ['[Not Supported]', '[Function Not Found]', '[GPU is lost]', '[Unknown Error]', 'NA', '-']) {
      expect(nvNumber(s), s).toBeUndefined();
      expect(isCompleteMissing(s), s).toBe(true);
    }
  });

  it('the monolithic capture files hold the same --query-gpu sections', () => {
    for (const dir of sections()) {
      const capture = read(join(NV, `capture__${dir.slice('sections__'.length)}.txt`));
      for (const state of ['idle', 'load']) {
        const section = read(join(NV, dir, `${state}__query-gpu.txt`)).trimEnd();
        expect(capture.includes(section), `${dir} ${state}`).toBe(true);
      }
    }
  });

  it('parses the H100 PCIe -lms logs: header with units, thousands of rows, a new value about every 100 ms', () => {
    const half = parseQueryCsv(read(join(NV, 'yqg9651-cuda_test__h100-pcie-350w__lms-loop__fp16_half_maxpower.csv')));
    expect(half.fields).toEqual(['timestamp', 'utilization.gpu', 'temperature.gpu', 'temperature.memory', 'power.draw', 'power.draw.instant', 'clocks.current.sm', 'clocks.current.memory']);
    expect(half.rows.length).toBe(3042);
    expect(half.rejected).toEqual([]);
    const first = rowObject(half, half.rows[0]!);
    expect(first.timestamp).toBe('2023/08/23 09:22:46.526');
    expect(nvNumber(first['power.draw'])).toBe(48.32);
    expect(nvNumber(first['clocks.current.memory'])).toBe(1593);
    const peak = Math.max(...half.rows.map((r) => nvNumber(rowObject(half, r)['power.draw.instant'])!));
    expect(peak).toBeGreaterThan(300); // it ran at full power
    expect(peak).toBeLessThan(500);
    const rnd = parseQueryCsv(read(join(NV, 'yqg9651-cuda_test__h100-pcie__lms1-loop__util_dvfs_random.csv')));
    expect(rnd.fields).toEqual(['timestamp', 'power.draw.instant', 'clocks.current.sm']);
    expect(rnd.rows.length).toBe(51373);
    // rows every ~3 ms, but the value changes about every 100 ms (FORMATS.md §1)
    const ts = rnd.rows.map((r) => parseNvTimestamp(r[0]!)!);
    const changes: number[] = [];
    for (let i = 1; i < rnd.rows.length; i++) if (rnd.rows[i]![1] !== rnd.rows[i - 1]![1]) changes.push(ts[i]!);
    const gaps = changes.slice(1).map((t, i) => t - changes[i]!).sort((a, b) => a - b);
    const median = gaps[Math.floor(gaps.length / 2)]!;
    expect(median).toBeGreaterThan(80);
    expect(median).toBeLessThan(130);
  });

  it('feeds the real log rows through the strict loop-row parser unchanged', () => {
    const csv = parseQueryCsv(read(join(NV, 'yqg9651-cuda_test__h100-pcie-350w__lms-loop__fp16_half_maxpower.csv')));
    // the loop asks for timestamp,index,... ; give each row an index and strip the units, as noheader,nounits would
    const fields = ['timestamp', 'index', 'power.draw.instant', 'temperature.gpu', 'clocks.sm', 'clocks.mem', 'utilization.gpu'];
    for (const row of csv.rows.slice(600, 900)) {
      const o = rowObject(csv, row);
      const bare = (c: string) => c.replace(/ (W|MHz|%)$/, '');
      const line = [o.timestamp, '0', bare(o['power.draw.instant']!), o['temperature.gpu'], bare(o['clocks.current.sm']!), bare(o['clocks.current.memory']!), bare(o['utilization.gpu']!)].join(', ');
      const r = parseLoopRow(line, fields, () => 'power.draw.instant');
      expect(r.ok, line).toBe(true);
      if (r.ok) {
        expect(r.sample.powerW).toBe(nvNumber(o['power.draw.instant']));
        expect(r.sample.smClockMHz).toBe(nvNumber(o['clocks.current.sm']));
        expect(r.stampWallMs).toBe(parseNvTimestamp(o.timestamp!));
      }
    }
  });

  it('reads the older formats: netdata P100 (nounits, header units), exporter test query, Ricks-Lab noheader,nounits', () => {
    const p100 = parseQueryCsv(read(join(NV, 'netdata-testdata__tesla-p100.csv')));
    const r = rowObject(p100, p100.rows[0]!);
    expect(r.name).toBe('Tesla P100-PCIE-16GB');
    expect(nvNumber(r['fan.speed'])).toBeUndefined(); // [N/A]
    expect(nvNumber(r['power.draw'])).toBe(28.16);
    expect(nvNumber(r['clocks.current.memory'])).toBe(715);
    expect(p100.units[p100.fields.indexOf('memory.used')]).toBe('MiB');
    expect(choosePowerField(r)).toBe('power.draw');
    expect(semanticsFor('power.draw', { name: r.name }).kind).toBe('instantaneous'); // Pascal

    const q = parseQueryCsv(read(join(NV, 'exporter-testdata-query.txt')));
    expect(q.rows).toHaveLength(2);
    const [a, b] = q.rows.map((x) => rowObject(q, x));
    expect(a!.name).toBe('NVIDIA GeForce RTX 2080 SUPER');
    expect(nvNumber(a!['fan.speed'])).toBe(38);
    expect(nvNumber(b!['memory.used'])).toBe(1234);
    expect(nvNumber(a!.serial)).toBeUndefined();
    expect(nvNumber(b!.compute_cap)).toBe(8.6);
    expect(choosePowerField(a!)).toBeUndefined(); // no power field asked: no power sensor, not 0 W

    const text = read(join(NV, 'nvidia-smi_csv-noheader-nounits__3GPU__Ricks-Lab-gpu-utils-issue-83__EXCERPT.txt'));
    const blocks = text.split(/^\$ .*$/m).slice(1);
    const [draw, limit, max] = ['power.draw', 'power.limit', 'power.max_limit'].map((f, i) => parseQueryCsv(blocks[i]!, [f]).rows.map((x) => nvNumber(x[0])));
    expect(draw).toEqual([133.91, 189.84, 104.34]);
    expect(limit).toEqual([200, 200, 200]);
    expect(max).toEqual([292, 292, 292]);
  });

  it('every alias the driver maps appears as such in the --help-query-gpu of every capture that has both names', () => {
    const helps = [...sections().map((d) => read(join(NV, d, 'capabilities__help-query-gpu.txt'))), read(join(NV, 'netdata-testdata__help-query-gpu.txt'))];
    let checked = 0;
    for (const h of helps) {
      const pairs = [...h.matchAll(/^"([^"]+)" or "([^"]+)"$/gm)].map((m) => [m[1]!, m[2]!] as const);
      for (const [alias, canonical] of Object.entries(FIELD_ALIASES)) {
        const p = pairs.find(([x, y]) => x === alias || y === alias);
        if (!p) continue;
        expect(p[0]).toBe(canonical);
        checked++;
      }
      for (const [canon, alias] of pairs) if (alias.startsWith('clocks_throttle_reasons')) expect(canonicalField(alias)).toBe(canon);
      expect(h).toMatch(/"power\.draw"/);
    }
    expect(checked).toBeGreaterThan(20);
  });
});

describe.skipIf(!HAVE_FIXTURES)('nvidia-smi -q, -q -x and -L (shared captures)', () => {
  // [name, driver, average, instant, limit, MIG devices] per capture, idle/load
  const TEXT: Record<string, [string, string, Record<'idle' | 'load', [number | undefined, number]>, number, number]> = {
    'linux-x86_64__nvidia-geforce-rtx-2080-super__595.71.05': ['NVIDIA GeForce RTX 2080 SUPER', '595.71.05', { idle: [undefined, 37.62], load: [undefined, 98.55] }, 250, 0],
    'linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04': ['NVIDIA GeForce RTX 2080 SUPER', '610.57.04', { idle: [undefined, 38.89], load: [undefined, 97.75] }, 250, 0],
    'linux-x86_64__nvidia-geforce-rtx-4080-super__595.71.05': ['NVIDIA GeForce RTX 4080 SUPER', '595.71.05', { idle: [25.92, 27.74], load: [84.03, 86.41] }, 320, 0],
    'linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01': ['NVIDIA H100 80GB HBM3', '590.48.01', { idle: [69.85, 69.62], load: [629.45, 588.39] }, 700, 0],
    'linux-x86_64__nvidia-h100-mig__590.48.01': ['NVIDIA H100 80GB HBM3', '590.48.01', { idle: [71.27, 72.63], load: [432.21, 444.72] }, 700, 4],
    'linux-x86_64__nvidia-h200-mig__590.48.01': ['NVIDIA H200', '590.48.01', { idle: [78.28, 77.88], load: [294.94, 292.14] }, 700, 5],
    'windows-x86_64__nvidia-geforce-rtx-2080-super__591.86': ['NVIDIA GeForce RTX 2080 SUPER', '591.86', { idle: [undefined, 38.92], load: [undefined, 97.49] }, 250, 0],
  };
  it('parses every capture\'s -q report: names, driver (610 marks it deprecated), average/instant power, limits, MIG slices', () => {
    for (const dir of sections()) {
      const [name, driver, power, limit, mig] = TEXT[dir.slice('sections__'.length)]!;
      for (const state of ['idle', 'load'] as const) {
        const [g, ...more] = parseQueryText(read(join(NV, dir, `${state}__query.txt`)));
        expect(more).toEqual([]);
        expect(g).toMatchObject({ name, driverVersion: driver, instantPowerDrawW: power[state][1], powerLimitW: limit });
        expect(g!.averagePowerDrawW).toBe(power[state][0]); // "N/A" on Turing: absent, not 0
        expect(g!.powerDrawW).toBeUndefined();
        expect(g!.migDevices).toHaveLength(mig);
        expect(parseGpuList(read(join(NV, dir, 'capabilities__list.txt')))[0]!.mig).toHaveLength(mig);
      }
    }
    const mig = parseQueryText(read(join(NV, 'sections__linux-x86_64__nvidia-h100-mig__590.48.01', 'load__query.txt')))[0]!;
    expect(mig.migDevices.map((m) => [m.gpuInstanceId, m.memoryMiB])).toEqual([[2, 40448], [3, 20096], [9, 9984], [10, 9984]]);
  });

  it('parses the multi-GPU -q reports of drivers 555/565 (one Power Draw line)', () => {
    const a100 = parseQueryText(read(join(NV, 'thamada-nvsim__A100SXMx4_smi__out_a.txt')));
    expect(a100).toHaveLength(4);
    expect(a100.map((g) => g.powerDrawW)).toEqual([59.77, expect.any(Number), expect.any(Number), 62.21]);
    expect(a100[0]).toMatchObject({ name: 'NVIDIA A100-SXM4-80GB', architecture: 'Ampere', driverVersion: '555.42.02', powerLimitW: 500, busId: '00000000:68:00.0' });
    expect(powerDrawIsAveraged({ architecture: a100[0]!.architecture, name: a100[0]!.name })).toBe(false); // GA100
    const h100 = parseQueryText(read(join(NV, 'thamada-nvsim__H100SXMx8_smi__out_a.txt')));
    expect(h100).toHaveLength(8);
    expect(h100[0]).toMatchObject({ name: 'NVIDIA H100 80GB HBM3', driverVersion: '565.57.01', powerDrawW: 100.89, powerLimitW: 700 });
    expect(h100[7]!.powerDrawW).toBe(75.09);
    expect(new Set(h100.map((g) => g.uuid)).size).toBe(8);
    expect(powerDrawIsAveraged({ architecture: 'Hopper', name: h100[0]!.name })).toBe(true);
  });

  // [file, GPUs, name, driver, power_draw | [average, instant], limit, MIG devices, architecture]
  const XML: Array<[string, number, string, string | undefined, number | [number | undefined, number] | undefined, number | undefined, number, string | undefined]> = [
    ['netdata-testdata__a100-sxm4-mig.xml', 1, 'NVIDIA A100-SXM4-40GB', '510.47.03', 66.92, 400, 2, 'Ampere'],
    ['netdata-testdata__rtx-2080-win.xml', 1, 'NVIDIA GeForce RTX 2080', '516.59', 14.5, 275, 0, 'Turing'],
    ['netdata-testdata__rtx-3060.xml', 1, 'NVIDIA GeForce RTX 3060 Laptop GPU', '515.65.01', 8.7, undefined, 0, 'Ampere'],
    ['netdata-testdata__rtx-4090-driver-535.xml', 1, 'NVIDIA GeForce RTX 4090', '535.86.05', 26.84, 450, 0, 'Ada Lovelace'],
    ['netdata-testdata__tesla-p100.xml', 1, 'Tesla P100-PCIE-16GB', '510.47.03', 26.16, 250, 0, 'Pascal'],
    ['telegraf-testdata__3090-v13.xml', 1, 'NVIDIA GeForce RTX 3090', '590.44.01', [35.06, 35.15], 350, 0, 'Ampere'],
    ['telegraf-testdata__a10g.xml', 1, 'NVIDIA A10G', '515.105.01', 25.58, 300, 0, 'Ampere'],
    ['telegraf-testdata__dual_2070-v13.xml', 2, 'NVIDIA GeForce RTX 2070', '590.44.01', [undefined, 9.23], 175, 0, 'Turing'],
    ['telegraf-testdata__dual_2080-v13.xml', 2, 'NVIDIA GeForce RTX 2080', '590.44.01', [undefined, 1], 215, 0, 'Turing'],
    ['telegraf-testdata__gtx-1070-ti.xml', 1, 'GeForce GTX 1070 Ti', undefined, undefined, undefined, 0, undefined],
    ['telegraf-testdata__gtx-1660-ti.xml', 1, 'Graphics Device', '418.43', 8.93, 130, 0, undefined],
    ['telegraf-testdata__quadro-p2000-v12.xml', 1, 'Quadro P2000', '525.125.06', 4.61, 75, 0, 'Pascal'],
    ['telegraf-testdata__quadro-p400.xml', 1, 'Quadro P400', '418.43', undefined, undefined, 0, undefined],
    ['telegraf-testdata__rtx-3060-v12.xml', 1, 'NVIDIA GeForce RTX 3060', '570.124.04', [11.6, 11.63], 170, 0, 'Ampere'],
    ['telegraf-testdata__rtx-3080-v12.xml', 1, 'NVIDIA GeForce RTX 3080', '536.40', 22.78, 336, 0, 'Ampere'],
    ['telegraf-testdata__rtx-3080-v13.xml', 1, 'NVIDIA GeForce RTX 3080', '595.58.03', [139.62, 142.33], 320, 0, 'Ampere'],
    ['telegraf-testdata__rtx-3090-v12.xml', 1, 'NVIDIA GeForce RTX 3090', '525.147.05', 27.23, 200, 0, 'Ampere'],
    ['telegraf-testdata__tesla-t4.xml', 1, 'Tesla T4', '515.105.01', 26.78, 70, 0, 'Turing'],
  ];
  it('parses every -q -x XML across the schema drift (power_readings, gpu_power_readings, average/instant)', () => {
    const files = readdirSync(NV).filter((f) => f.endsWith('.xml')).sort();
    expect(files).toEqual(XML.map((x) => x[0]).sort());
    for (const [file, n, name, driver, power, limit, mig, arch] of XML) {
      const gpus = parseQueryXml(read(join(NV, file)));
      expect(gpus, file).toHaveLength(n);
      const g = gpus[0]!;
      expect(g.name, file).toBe(name);
      expect(g.driverVersion, file).toBe(driver);
      expect(g.architecture, file).toBe(arch);
      expect(g.powerLimitW, file).toBe(limit);
      expect(g.migDevices, file).toHaveLength(mig);
      if (Array.isArray(power)) {
        expect([g.averagePowerDrawW, g.instantPowerDrawW], file).toEqual(power);
        expect(g.powerDrawW).toBeUndefined();
      } else {
        expect(g.powerDrawW, file).toBe(power); // N/A (P400, 1070 Ti): undefined, never 0
      }
      expect(g.uuid).toMatch(/^GPU-[0-9a-f-]{36}$/);
    }
  });
});

describe('nvidia-smi parsers on our own fixtures (fresh clone)', () => {
  it('a probe CSV: two GPUs, MIG on one, missing spellings, which power field each gets', () => {
    const csv = parseQueryCsv(read(join(OWN, 'query-gpu__2gpu__csv-nounits.txt')));
    const [h100, rtx] = csv.rows.map((r) => rowObject(csv, r));
    expect(h100!['mig.mode.current']).toBe('Enabled');
    expect(nvNumber(h100!['utilization.gpu'])).toBeUndefined();
    expect(nvNumber(rtx!['power.draw.average'])).toBeUndefined();
    expect(nvNumber(rtx!.serial)).toBeUndefined();
    expect(choosePowerField(h100!)).toBe('power.draw.instant');
    expect(choosePowerField(rtx!, 'power.draw')).toBe('power.draw');
    expect(choosePowerField(rtx!, 'power.draw.average')).toBeUndefined(); // [N/A]: not a sensor on Turing
    expect(choosePowerField({ 'power.draw': '[Not Supported]', 'power.draw.instant': '[N/A]' })).toBeUndefined();
    expect(decodeThrottleReasons(parseHexMask(rtx!['clocks_event_reasons.active'])!)).toEqual(['sw_power_cap']);
    // semantics: H100 instant is instantaneous with the part-time sensor; power.draw on the 2080 is instantaneous
    expect(semanticsFor('power.draw.instant', { computeCap: 9.0, name: h100!.name })).toMatchObject({ kind: 'instantaneous', updatePeriodMs: 100, dutyCyclePct: 25 });
    expect(semanticsFor('power.draw', { computeCap: 7.5 })).toMatchObject({ kind: 'instantaneous' });
    expect(semanticsFor('power.draw', { computeCap: 8.0, name: 'NVIDIA A100-SXM4-80GB' }).kind).toBe('instantaneous'); // GA100
    expect(semanticsFor('power.draw', { computeCap: 8.6 })).toMatchObject({ kind: 'windowed-average', averagingWindowMs: 1000 });
    expect(semanticsFor('power.draw', { name: 'NVIDIA H100 PCIe' }).kind).toBe('windowed-average');
    expect(weakestSemantics([semanticsFor('power.draw.instant', { computeCap: 9 }), semanticsFor('power.draw', { computeCap: 8.9 })]).kind).toBe('windowed-average');
  });

  it('the -lms log through the strict row parser: power, diagnostics, throttle reasons (never gpu_idle), [N/A] is no reading', () => {
    const csv = parseQueryCsv(read(join(OWN, 'lms-loop__2gpu__csv.csv')));
    expect(csv.rows).toHaveLength(24);
    const fields = ['timestamp', 'index', 'power.draw.instant', 'temperature.gpu', 'clocks.sm', 'clocks.mem', 'utilization.gpu', 'memory.used', 'clocks_event_reasons.active'];
    const parsed = csv.rows.map((row) => {
      const o = rowObject(csv, row);
      const bare = (c: string) => c.replace(/ (W|MHz|MiB|%)$/, '');
      return parseLoopRow([o.timestamp, o.index, bare(o['power.draw.instant']!), o['temperature.gpu'], bare(o['clocks.current.sm']!), bare(o['clocks.current.memory']!), bare(o['utilization.gpu']!), bare(o['memory.used']!), o['clocks_event_reasons.active']].join(', '), fields, () => 'power.draw.instant');
    });
    expect(parsed.every((p) => p.ok)).toBe(true);
    const ok = parsed.filter((p): p is Extract<typeof p, { ok: true }> => p.ok);
    const gpu0 = ok.filter((p) => p.index === 0);
    expect(gpu0.map((p) => p.sample.powerW)).toEqual([70.72, 70.9, 210.05, 401.77, 560.21, 695.43, 702.11, 700.98, 698.63, 699.12, 701.4, 250.66]);
    expect(gpu0[0]!.sample.throttleReasons).toEqual([]); // 0x1 is gpu_idle: not throttling
    expect(gpu0[5]!.sample.throttleReasons).toEqual(['sw_power_cap']);
    expect(gpu0[7]!.sample.throttleReasons).toEqual(['sw_power_cap', 'hw_power_brake_slowdown']);
    expect(gpu0[4]!.sample).toMatchObject({ temperatureC: 48, smClockMHz: 1980, memClockMHz: 2619, utilizationPct: 100, memoryUsedMiB: 11125 });
    const gpu1 = ok.filter((p) => p.index === 1);
    expect(gpu1[3]!.sample.powerW).toBeUndefined(); // [N/A]
    expect(gpu1.filter((p) => p.sample.powerW === 0)).toEqual([]);
  });

  it('rejects a truncated, garbled or short row instead of inventing a value', () => {
    const fields = ['timestamp', 'index', 'power.draw.instant', 'temperature.gpu', 'clocks_event_reasons.active'];
    const good = '2026/03/02 14:05:07.120, 0, 512.33, 48, 0x0000000000000004';
    const field = (): PowerField => 'power.draw.instant';
    expect(parseLoopRow(good, fields, field)).toMatchObject({ ok: true, index: 0, sample: { powerW: 512.33, temperatureC: 48, throttleReasons: ['sw_power_cap'] } });
    for (const bad of [
      good.slice(0, 40), // cut in the power cell
      good.slice(0, good.length - 5), // cut in the mask: the mask's width shows it
      '2026/03/02 14:05:07.120, 0, 512.33, 48, [N/', // cut inside a missing spelling
      '2026/03/02 14:05:0, 0, 512.33, 48, 0x0000000000000004', // timestamp garbled
      'NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver.',
      '2026/03/02 14:05:07.120, 0, 5x2.33, 48, 0x0000000000000004',
      '',
    ]) expect(parseLoopRow(bad, fields, field).ok, bad).toBe(false);
    expect(parseLoopRow('2026/03/02 14:05:07.120, 0, [N/A], 48, [N/A]', fields, field)).toMatchObject({ ok: true, sample: {} });
    expect(isCompleteMissing('[N/')).toBe(false);
    expect(isCompleteMissing('[Not Supported]')).toBe(true);
  });

  it('-L with MIG, -q text and -q -x XML of our own', () => {
    const list = parseGpuList(read(join(OWN, 'list__mig.txt')));
    expect(list.map((g) => [g.index, g.name, g.mig.map((m) => m.profile)])).toEqual([[0, 'NVIDIA H100 80GB HBM3', ['3g.40gb', '1g.10gb']], [1, 'NVIDIA GeForce RTX 2080 SUPER', []]]);
    const [q] = parseQueryText(read(join(OWN, 'query__1gpu.txt')));
    expect(q).toMatchObject({ busId: '00000000:19:00.0', architecture: 'Hopper', driverVersion: '590.48.01', averagePowerDrawW: 432.21, instantPowerDrawW: 444.72, powerLimitW: 700, memoryTotalMiB: 81559, migMode: 'Enabled', serial: '1650923000123' });
    expect(q!.migDevices).toEqual([{ index: 0, gpuInstanceId: 2, computeInstanceId: 0, memoryMiB: 40448 }]);
    const x = parseQueryXml(read(join(OWN, 'query-x__2gpu.xml')));
    expect(x[0]).toMatchObject({ name: 'NVIDIA GeForce RTX 3090', averagePowerDrawW: 35.06, instantPowerDrawW: 35.15, powerLimitW: 350, driverVersion: '590.44.01' });
    expect(x[0]!.serial).toBeUndefined();
    expect(x[0]!.migMode).toBeUndefined();
    expect(x[1]).toMatchObject({ name: 'Quadro P400', architecture: 'Pascal', serial: '0324417034546' });
    expect(x[1]!.powerDrawW).toBeUndefined(); // " N/A " padded: still missing
    expect(() => parseQueryXml('<nvidia_smi_log><gpu id="x"><product_name>A</gpu></nvidia_smi_log>')).toThrow(/XML/);
  });

  it('small helpers: header detection, invalid-field message, aliases, timestamps, stamp mapping', () => {
    expect(looksLikeHeader(['timestamp', 'power.draw [W]'])).toBe(true);
    expect(looksLikeHeader(['2026/03/02 14:05:07.120', '0', '512.33'])).toBe(false);
    expect(looksLikeHeader(['P0', 'Enabled'])).toBe(false);
    expect(invalidField('Field "power.draw.instant" is not a valid field to query.\n\n')).toBe('power.draw.instant');
    expect(canonicalField('clocks_throttle_reasons.active')).toBe('clocks_event_reasons.active');
    expect(canonicalField('clocks.current.sm [MHz]')).toBe('clocks.current.sm');
    expect(canonicalField('clocks.sm')).toBe('clocks.current.sm');
    const t = parseNvTimestamp('2026/03/02 14:05:07.120')!;
    expect(new Date(t).getMilliseconds()).toBe(120);
    expect(new Date(t).getHours()).toBe(14); // local time, as nvidia-smi prints it
    expect(parseNvTimestamp('2026-03-02 14:05:07')).toBeUndefined();
    // stamps: arrival may be late (buffered), never early; the tool's spacing is kept
    const m = new StampMapper({ anchorWallMs: t - 10_000 });
    expect(m.map(t, 10.050)).toBeCloseTo(10.050, 9); // first row 50 ms late: offset 50 ms so far
    expect(m.map(t + 100, 10.110)).toBeCloseTo(10.110, 9); // 10 ms late: offset shrinks
    expect(m.map(t + 200, 10.900)).toBeCloseTo(10.210, 9); // a burst after buffering keeps the tool's spacing
    expect(m.map(undefined, 11)).toBe(11);
  });
});
