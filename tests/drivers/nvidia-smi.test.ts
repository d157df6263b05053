// nvidia-smi parsers against every nvidia-smi capture in ../shared/fixtures/nvidia (skipped with a note on a fresh
// clone) and against the small fixtures of our own in tests/fixtures/nvidia; the MIG slice choice for the workload's
// CUDA_VISIBLE_DEVICES on the MIG captures, on our own `-L` text, and through `wattbench run` with a fake nvidia-smi.
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync, existsSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import {
  parseQueryCsv, rowObject, nvNumber, parseLoopRow, parseQueryText, parseQueryXml, parseGpuList, parseHexMask, decodeThrottleReasons,
  choosePowerField, semanticsFor, powerDrawIsAveraged, weakestSemantics, canonicalField, FIELD_ALIASES, parseNvTimestamp, StampMapper,
  invalidField, isCompleteMissing, looksLikeHeader, migSlices, nvidiaSmi,
  type PowerField, type NvDevicePlan, type NvPrivate,
} from '../../drivers/nvidia-smi.js';
import { nvidiaVisibility, parseMigChoice } from '../../drivers/nvidia-mig.js';
import { isMissing, type ProbeResult, type WorkloadVisibility } from '../../drivers/driver.js';
import type { Device } from '../../results/types.gen.js';
import { WattbenchError, EXIT } from '../../lib/errors.js';
import { FIXTURES, HAVE_FIXTURES, ROOT, runCli, tempDir, writeScript, readJson, writeEnvWorkload } from '../helpers/cli.js';
import { expectBadInput } from '../helpers/expect.js';

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

// ───────────────────────────── MIG: which slice the workload is given ─────────────────────────────

/** A device and its sampling plan as the probe builds them, from one --query-gpu row and the `-L` listing. */
function migFixture(row: Record<string, string>, listed: ReturnType<typeof parseGpuList>, index = Number(row.index)): { device: Device; plan: NvDevicePlan } {
  const mig = migSlices(row, listed.find((l) => l.index === Number(row.index)));
  const device: Device = { id: `nvidia-smi:${index}`, index, vendor: 'NVIDIA', name: row.name ?? 'GPU', ...(row.uuid ? { uuid: row.uuid } : {}) };
  return { device, plan: { index, field: 'power.draw.instant', ...(mig ? { mig } : {}) } };
}

function visible(r: WorkloadVisibility | WattbenchError): WorkloadVisibility {
  if (r instanceof WattbenchError) throw new Error(`unexpected ${r.describe()}`);
  return r;
}


describe.skipIf(!HAVE_FIXTURES)('MIG: the slice the workload runs on (shared H100/H200 MIG captures)', () => {
  const capture = (key: string) => {
    const dir = join(NV, `sections__linux-x86_64__nvidia-${key}__590.48.01`);
    const csv = parseQueryCsv(read(join(dir, 'idle__query-gpu.txt')));
    const text = read(join(dir, 'capabilities__list.txt'));
    // the slices read straight off the text, not through the parser under test
    const slices = [...text.matchAll(/^\s+MIG\s+(\S+)\s+Device\s+(\d+): \(UUID: (MIG-[^)]+)\)/gm)].map((m) => ({ profile: m[1]!, device: Number(m[2]), uuid: m[3]! }));
    return { row: rowObject(csv, csv.rows[0]!), listed: parseGpuList(text), slices };
  };

  for (const [key, count] of [['h100-mig', 4], ['h200-mig', 5]] as const) {
    it(`${key}: the first slice's MIG UUID by default; every slice by GPU:DEVICE and by UUID; a slice that is not there is exit 2`, () => {
      const { row, listed, slices } = capture(key);
      expect(row['mig.mode.current']).toBe('Enabled');
      expect(slices).toHaveLength(count);
      const { device, plan } = migFixture(row, listed);
      expect(plan.mig).toEqual(slices);
      const v = visible(nvidiaVisibility([device], [plan]));
      expect(v.env).toEqual({ CUDA_VISIBLE_DEVICES: slices[0]!.uuid });
      const partition = v.devices![0]!.partition!;
      expect(partition).toBe(`MIG slice 0:0 ${slices[0]!.profile} ${slices[0]!.uuid} (of ${slices.map((s) => s.profile).join(', ')})`);
      expect(partition.length).toBeLessThanOrEqual(128); // results/schema.json Device.partition
      expect(v.devices![0]).toMatchObject({ id: device.id, uuid: row.uuid }); // still the physical GPU: its board sensor is read
      expect(device.partition).toBeUndefined(); // the probe's device is not changed in place
      for (const s of slices) {
        expect(visible(nvidiaVisibility([device], [plan], `0:${s.device}`)).env.CUDA_VISIBLE_DEVICES).toBe(s.uuid);
        const byUuid = visible(nvidiaVisibility([device], [plan], ` ${s.uuid} `));
        expect(byUuid.env.CUDA_VISIBLE_DEVICES).toBe(s.uuid);
        expect(byUuid.devices![0]!.partition).toMatch(new RegExp(`^MIG slice 0:${s.device} ${s.profile.replace(/\./g, '\\.')} ${s.uuid}`));
      }
      expectBadInput(nvidiaVisibility([device], [plan], `0:${count}`), 'MIG_NO_SUCH_SLICE', new RegExp(`no MIG slice 0:${count} .*0:0 ${slices[0]!.profile.replace(/\./g, '\\.')} ${slices[0]!.uuid}`), /mig=GPU:DEVICE or mig=MIG-UUID/);
      expectBadInput(nvidiaVisibility([device], [plan], '1:0'), 'MIG_NO_SUCH_SLICE', /no MIG slice 1:0/, /nvidia-smi -L/);
      expectBadInput(nvidiaVisibility([device], [plan], 'MIG-ffffffff-0000-0000-0000-000000000000'), 'MIG_NO_SUCH_SLICE', /no MIG slice MIG-ffffffff/, /mig=/);
    });
  }

  it('the H100 and the H200 capture as GPUs 0 and 1: two GPUs in MIG mode are exit 2, with or without mig=; one of them alone is fine', () => {
    const a = capture('h100-mig'), b = capture('h200-mig');
    const g0 = migFixture(a.row, a.listed, 0), g1 = migFixture(b.row, b.listed, 1);
    const both = [g0.device, g1.device], plans = [g0.plan, g1.plan];
    expectBadInput(nvidiaVisibility(both, plans), 'MIG_SEVERAL_GPUS', /GPUs 0, 1 are in MIG mode.*only one MIG slice/, /--devices N/);
    expectBadInput(nvidiaVisibility(both, plans, '1:3'), 'MIG_SEVERAL_GPUS', /GPUs 0, 1/, /--devices 1\b/);
    expect(visible(nvidiaVisibility([g1.device], plans, '1:3')).env.CUDA_VISIBLE_DEVICES).toBe(b.slices[3]!.uuid);
    // the anonymized captures share UUIDs: the first GPU that lists it owns it, and GPU 1 is not selected
    expectBadInput(nvidiaVisibility([g1.device], plans, a.slices[0]!.uuid), 'MIG_NO_SUCH_SLICE', /is on GPU 0, which is not selected \(selected: 1\)/, /--devices 0/);
  });

  it('the H100 without MIG keeps today\'s CUDA_VISIBLE_DEVICES: its index, nothing narrowed', () => {
    const { row, listed, slices } = capture('h100-80gb-hbm3');
    expect(row['mig.mode.current']).toBe('Disabled');
    expect(slices).toEqual([]);
    const { device, plan } = migFixture(row, listed);
    expect(plan.mig).toBeUndefined();
    expect(nvidiaVisibility([device], [plan])).toEqual({ env: { CUDA_VISIBLE_DEVICES: '0' } });
    expectBadInput(nvidiaVisibility([device], [plan], '0:0'), 'MIG_NO_SUCH_SLICE', /no GPU is in MIG mode/, /leave out --source-opt mig=/);
  });

  it('netdata A100 MIG XML (driver 510): MIG on; with no slice listed by -L the run is refused with how to make one', () => {
    const [g] = parseQueryXml(read(join(NV, 'netdata-testdata__a100-sxm4-mig.xml')));
    expect(g!.migMode).toBe('Enabled');
    expect(g!.migDevices).toHaveLength(2); // the XML has GPU/compute instance ids but no MIG UUIDs: -L is where those come from
    const { device, plan } = migFixture({ index: '0', name: g!.name!, uuid: g!.uuid!, 'mig.mode.current': g!.migMode! }, []);
    expect(plan.mig).toEqual([]);
    expectBadInput(nvidiaVisibility([device], [plan]), 'MIG_NO_SLICES', /GPU 0 is in MIG mode but `nvidia-smi -L` lists no MIG slice/, /nvidia-smi mig -i 0 -cgi PROFILE -C.*-mig 0/);
  });

  it('through the probe: a fake nvidia-smi answering with the H100 MIG capture\'s --query-gpu row and -L', async () => {
    const { row, listed, slices } = capture('h100-mig');
    chmodSync(join(ROOT, 'tests', 'fakes', 'nvidia', 'nvidia-smi'), 0o755); // a checkout may drop the bit
    const env = { PATH: `${join(ROOT, 'tests', 'fakes', 'nvidia')}:${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? '/tmp', FAKE_NVSMI_GPUS: JSON.stringify([{ ...row, index: 0, mig: listed[0]!.mig }]) };
    const probe = await nvidiaSmi.probe({ env, options: {} });
    expect(probe.state).toBe('ok');
    if (probe.state !== 'ok') return;
    expect(probe.devices[0]!.partition).toBe(`MIG: ${slices.map((s) => s.profile).join(', ')}`);
    expect((probe.private as NvPrivate).devices[0]!.mig).toEqual(slices);
    const v = visible(nvidiaSmi.workloadVisibility!(probe.devices, probe, { mig: slices[2]!.uuid }));
    expect(v.env).toEqual({ CUDA_VISIBLE_DEVICES: slices[2]!.uuid });
    expect(v.devices![0]!.partition).toMatch(/^MIG slice 0:2 1g\.10gb MIG-00000002-/);
  });
});

describe('MIG: the slice the workload runs on (our own `nvidia-smi -L` text)', () => {
  // GPU 0 without MIG; GPU 1 in MIG mode (R470+ naming); GPU 2 in MIG mode as drivers < 470 name slices (its row
  // lacks mig.mode.current: the listed slices say it); GPU 3 in MIG mode with no instance created; GPU 4 a slice
  // printed without a UUID.
  const LIST = [
    'GPU 0: NVIDIA GeForce RTX 4090 (UUID: GPU-4a3b2c1d-0000-1111-2222-333344445555)',
    'GPU 1: NVIDIA A100-SXM4-80GB (UUID: GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77)',
    '  MIG 3g.40gb     Device  0: (UUID: MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f)',
    '  MIG 2g.20gb     Device  1: (UUID: MIG-0f8e2b4a-7d55-5a8e-b1a0-6d3c7e9f1a22)',
    'GPU 2: A100-SXM4-40GB (UUID: GPU-63feeb45-94c6-b9cb-78ea-98e9b7a5be6b)',
    '  MIG 1g.5gb Device 0: (UUID: MIG-GPU-63feeb45-94c6-b9cb-78ea-98e9b7a5be6b/7/0)',
    '  MIG 1g.5gb Device 1: (UUID: MIG-GPU-63feeb45-94c6-b9cb-78ea-98e9b7a5be6b/8/0)',
    'GPU 3: NVIDIA H100 80GB HBM3 (UUID: GPU-9a8b7c6d-1111-2222-3333-444455556666)',
    'GPU 4: NVIDIA A30 (UUID: GPU-1b2c3d4e-5555-6666-7777-888899990000)',
    '  MIG 4g.24gb     Device  0:',
  ].join('\n');
  const ROWS: Record<string, string>[] = [
    { index: '0', name: 'NVIDIA GeForce RTX 4090', uuid: 'GPU-4a3b2c1d-0000-1111-2222-333344445555', 'mig.mode.current': '[N/A]' },
    { index: '1', name: 'NVIDIA A100-SXM4-80GB', uuid: 'GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77', 'mig.mode.current': 'Enabled' },
    { index: '2', name: 'A100-SXM4-40GB', uuid: 'GPU-63feeb45-94c6-b9cb-78ea-98e9b7a5be6b' },
    { index: '3', name: 'NVIDIA H100 80GB HBM3', uuid: 'GPU-9a8b7c6d-1111-2222-3333-444455556666', 'mig.mode.current': 'Enabled' },
    { index: '4', name: 'NVIDIA A30', uuid: 'GPU-1b2c3d4e-5555-6666-7777-888899990000', 'mig.mode.current': 'Enabled' },
  ];
  const listed = parseGpuList(LIST);
  const fx = ROWS.map((r) => migFixture(r, listed));
  const plans = fx.map((f) => f.plan);
  const dev = (...ix: number[]) => ix.map((i) => fx[i]!.device);
  const cvd = (r: WorkloadVisibility | WattbenchError) => visible(r).env.CUDA_VISIBLE_DEVICES;

  it('which GPUs are in MIG mode, from mig.mode.current or slices under them in -L', () => {
    expect(plans.map((p) => p.mig?.length)).toEqual([undefined, 2, 2, 0, 1]);
  });

  it('no GPU in MIG mode selected: the indices, as before, devices unchanged', () => {
    expect(nvidiaVisibility(dev(0), plans)).toEqual({ env: { CUDA_VISIBLE_DEVICES: '0' } });
  });

  it('one GPU in MIG mode: its first slice, or the one mig= picks by GPU:DEVICE or UUID (any case); drivers < 470 names as listed', () => {
    const v = visible(nvidiaVisibility(dev(1), plans));
    expect(v.env.CUDA_VISIBLE_DEVICES).toBe('MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f');
    expect(v.devices![0]!.partition).toBe('MIG slice 1:0 3g.40gb MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f (of 3g.40gb, 2g.20gb)');
    expect(cvd(nvidiaVisibility(dev(1), plans, '1:1'))).toBe('MIG-0f8e2b4a-7d55-5a8e-b1a0-6d3c7e9f1a22');
    expect(cvd(nvidiaVisibility(dev(1), plans, 'mig-0F8E2B4A-7D55-5A8E-B1A0-6D3C7E9F1A22'))).toBe('MIG-0f8e2b4a-7d55-5a8e-b1a0-6d3c7e9f1a22');
    expect(cvd(nvidiaVisibility(dev(2), plans))).toBe('MIG-GPU-63feeb45-94c6-b9cb-78ea-98e9b7a5be6b/7/0');
    expect(cvd(nvidiaVisibility(dev(2), plans, '2:1'))).toBe('MIG-GPU-63feeb45-94c6-b9cb-78ea-98e9b7a5be6b/8/0');
    expect(cvd(nvidiaVisibility(dev(2), plans, 'MIG-GPU-63feeb45-94c6-b9cb-78ea-98e9b7a5be6b/8/0'))).toBe('MIG-GPU-63feeb45-94c6-b9cb-78ea-98e9b7a5be6b/8/0');
  });

  it('a GPU in MIG mode beside one without: refused (one CUDA process cannot use a slice with another device), exit 2', () => {
    expectBadInput(nvidiaVisibility(dev(0, 1), plans, '1:1'), 'MIG_WITH_OTHER_GPUS', /GPU 1 is in MIG mode and GPUs 0 are selected with it/, /--devices 1/);
    expect(cvd(nvidiaVisibility(dev(1), plans, '1:1'))).toBe('MIG-0f8e2b4a-7d55-5a8e-b1a0-6d3c7e9f1a22');
  });

  it('bad input, exit 2, each with its remedy: several MIG GPUs, a slice elsewhere or nowhere, no slice at all, no UUID, a malformed mig=', () => {
    expectBadInput(nvidiaVisibility(dev(1, 2), plans), 'MIG_SEVERAL_GPUS', /GPUs 1, 2 are in MIG mode/, /select one of them with --devices N/);
    expectBadInput(nvidiaVisibility(dev(0, 1, 2), plans, '2:0'), 'MIG_SEVERAL_GPUS', /GPUs 1, 2/, /--devices 2 /);
    expectBadInput(nvidiaVisibility(dev(1), plans, '2:0'), 'MIG_NO_SUCH_SLICE', /MIG slice 2:0 is on GPU 2, which is not selected \(selected: 1\)/, /--devices 2/);
    expectBadInput(nvidiaVisibility(dev(0), plans, 'MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f'), 'MIG_NO_SUCH_SLICE', /is on GPU 1, which is not selected/, /--devices 1/);
    expectBadInput(nvidiaVisibility(dev(1), plans, '1:2'), 'MIG_NO_SUCH_SLICE', /no MIG slice 1:2 on this machine \(slices: 1:0 3g\.40gb MIG-c6d4f1ef.*; 1:1 2g\.20gb .*; 2:0 1g\.5gb MIG-GPU-63feeb45/, /nvidia-smi -L/);
    expectBadInput(nvidiaVisibility(dev(0), plans, '0:0'), 'MIG_NO_SUCH_SLICE', /no MIG slice 0:0/, /mig=GPU:DEVICE/);
    expectBadInput(nvidiaVisibility(dev(3), plans), 'MIG_NO_SLICES', /GPU 3 is in MIG mode but `nvidia-smi -L` lists no MIG slice/, /nvidia-smi mig -i 3 -cgi PROFILE -C/);
    expectBadInput(nvidiaVisibility(dev(4), plans), 'MIG_NO_SLICES', /prints no UUID for MIG slice 4:0 4g\.24gb/, /--devices/);
    for (const bad of ['GPU-5d5ba0d6', '1', '1:x', 'first', '1:0:0']) expectBadInput(nvidiaVisibility(dev(1), plans, bad), 'MIG_BAD_OPTION', new RegExp(`mig=${bad} names no MIG slice`), /MIG UUID.*GPU:DEVICE/);
    expect(parseMigChoice(' 3:12 ')).toEqual({ gpu: 3, device: 12 });
    expect(parseMigChoice('MIG-GPU-63feeb45-94c6-b9cb-78ea-98e9b7a5be6b/7/0')).toEqual({ uuid: 'MIG-GPU-63feeb45-94c6-b9cb-78ea-98e9b7a5be6b/7/0' });
    // an empty mig= is no choice: the default slice
    expect(cvd(nvidiaVisibility(dev(1), plans, ''))).toBe('MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f');
  });

  it('the driver hook reads the plans the probe kept and the mig option; meta.options documents mig', () => {
    const probe: Extract<ProbeResult, { state: 'ok' }> = { state: 'ok', devices: fx.map((f) => f.device), semantics: { kind: 'instantaneous' }, private: { exe: 'nvidia-smi', devices: plans, diagFields: [] } satisfies NvPrivate };
    expect(cvd(nvidiaSmi.workloadVisibility!(dev(1), probe, { mig: '1:1' }))).toBe('MIG-0f8e2b4a-7d55-5a8e-b1a0-6d3c7e9f1a22');
    expect(nvidiaSmi.workloadVisibility!(dev(0), probe, {})).toEqual({ env: { CUDA_VISIBLE_DEVICES: '0' } });
    expect(nvidiaSmi.meta.visibilityEnv).toEqual(['CUDA_VISIBLE_DEVICES']);
    expect(nvidiaSmi.meta.options!.mig).toMatch(/MIG-.*GPU:DEVICE/);
  });
});

describe('MIG through `wattbench run --workload command` with a fake nvidia-smi (process level)', () => {
  const FAKE = join(ROOT, 'tests', 'fakes', 'nvidia');
  const slice = (profile: string, device: number, uuid: string) => ({ profile, device, uuid });
  const GPUS = JSON.stringify([
    { index: 0, name: 'NVIDIA H100 80GB HBM3', uuid: 'GPU-0a1b2c3d-0000-1111-2222-333344445555', 'pci.bus_id': '00000000:19:00.0', compute_cap: '9.0', 'mig.mode.current': 'Enabled', 'power.draw.instant': '447.35',
      mig: [slice('3g.40gb', 0, 'MIG-1a2b3c4d-0000-5555-6666-777788889999'), slice('1g.10gb', 1, 'MIG-2b3c4d5e-1111-6666-7777-88889999aaaa')] },
    { index: 1, name: 'NVIDIA H100 80GB HBM3', uuid: 'GPU-7e6d5c4b-0000-1111-2222-333344445555', 'pci.bus_id': '00000000:2A:00.0', compute_cap: '9.0', 'mig.mode.current': 'Enabled', 'power.draw.instant': '121.5',
      mig: [slice('4g.40gb', 0, 'MIG-3c4d5e6f-2222-7777-8888-9999aaaabbbb'), slice('2g.20gb', 1, 'MIG-4d5e6f70-3333-8888-9999-aaaabbbbcccc')] },
  ]);

  it('the workload sees the chosen slice\'s MIG UUID and the result names it; a selection it cannot run on exits 2 before sampling or the workload', async () => {
    chmodSync(join(FAKE, 'nvidia-smi'), 0o755);
    const dir = await tempDir('wb-mig-');
    const { script: wl, seen } = await writeEnvWorkload(dir, ['CUDA_VISIBLE_DEVICES', 'CUDA_DEVICE_ORDER']);
    const env = { PATH: `${FAKE}:${process.env.PATH ?? ''}`, FAKE_NVSMI_GPUS: GPUS, FAKE_STATE_DIR: dir };
    const run = (id: string, ...more: string[]) => runCli(['run', '--source', 'nvidia-smi', '--source-opt', 'stdbuf=false', '--idle', '0', '--cooldown', '0', '--repetitions', '1', '--quiet',
      '--run-id', id, '--out', join(dir, id), '--workload', 'command', '--set', `command=${JSON.stringify([process.execPath, wl])}`, ...more], { env });
    const loops = () => read(join(dir, 'nvidia-smi.argv')).trim().split('\n').filter((l) => l.includes('"-lms"')).length;

    const ok = await run('one', '--devices', '1', '--source-opt', 'mig=1:1');
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(JSON.parse(read(seen))).toEqual({ CUDA_VISIBLE_DEVICES: 'MIG-4d5e6f70-3333-8888-9999-aaaabbbbcccc', CUDA_DEVICE_ORDER: 'PCI_BUS_ID' });
    const res = await readJson(join(dir, 'one', 'one.json'));
    expect(res.devices.map((d: Device) => [d.id, d.partition])).toEqual([['nvidia-smi:1', 'MIG slice 1:1 2g.20gb MIG-4d5e6f70-3333-8888-9999-aaaabbbbcccc (of 4g.40gb, 2g.20gb)']]);
    expect(res.sources[0].note).toMatch(/charged the whole board/);
    expect(loops()).toBe(1);

    for (const [id, more, re] of [
      ['both', [], /MIG_SEVERAL_GPUS: GPUs 0, 1 are in MIG mode, and one CUDA process sees only one MIG slice — select one of them with --devices N/],
      ['nowhere', ['--devices', '0', '--source-opt', 'mig=0:7'], /MIG_NO_SUCH_SLICE: no MIG slice 0:7 on this machine/],
    ] as const) {
      const bad = await run(id, ...more);
      expect(bad.exitCode, bad.stderr).toBe(2);
      expect(bad.stderr).toMatch(re);
      expect(JSON.parse(read(seen)).CUDA_VISIBLE_DEVICES).toBe('MIG-4d5e6f70-3333-8888-9999-aaaabbbbcccc'); // the workload did not run again
      expect(existsSync(join(dir, id, `${id}.json`))).toBe(false);
      expect(loops()).toBe(1); // no sampling loop was started either
    }
  }, 60_000);
});
