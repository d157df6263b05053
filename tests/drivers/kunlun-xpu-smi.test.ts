import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseXpuSmiTable, parseXpuSmiM, klPowerUnit, klBoards, klRows, kunlunXpuSmi, KL_MW_THRESHOLD } from '../../drivers/kunlun-xpu-smi.js';
import { DRIVERS } from '../../drivers/index.js';
import { WattbenchError } from '../../lib/errors.js';
import { createRunClock } from '../../lib/clock.js';
import type { ProbeResult } from '../../drivers/driver.js';
import { FIXTURES, HAVE_FIXTURES, ROOT } from '../helpers/cli.js';
import { makeFakeTool, recordingSink, waitFor, type FakeTool } from './fake-vendor-tool.js';

const OWN = join(ROOT, 'tests', 'fixtures', 'kunlun-xpu-smi');
const K200_TABLE = join(OWN, 'xpu_smi__K200-1card-2die.txt');
const K200_M = join(OWN, 'xpu_smi-m__K200-1card-2die__mW.txt');
const P800_M = join(OWN, 'xpu_smi-m__2x-P800__W.txt');
const R300 = join(FIXTURES, 'others', 'xpu_smi__Kunlunxin-R300x2__paddle-docs.txt');

describe.skipIf(!HAVE_FIXTURES)('kunlun-xpu-smi over ../shared/fixtures', () => {
  it('reads the R300 DEVICES table from the PaddlePaddle guide: versions, DevID, PCI Addr, Model, SN, "0 %", "0 / 32768 MB"; VIDEO is not read', () => {
    const t = parseXpuSmiTable(readFileSync(R300, 'utf8'));
    expect(t).toMatchObject({ runtimeVersion: '4.31', driverVersion: '4.0' });
    expect(t.devices).toEqual([
      { index: 0, busId: '0000:53:00.0', model: 'R300', serial: '02Kxxx', inode: '/dev/xpu0', utilizationPct: 0, memoryUsedMiB: 0, memoryTotalMiB: 32768 },
      { index: 1, busId: '0000:56:00.0', model: 'R300', serial: '02Kxxx', inode: '/dev/xpu1', utilizationPct: 0, memoryUsedMiB: 0, memoryTotalMiB: 32768 },
    ]);
  });

  it('an R300 whose xpu_smi has no -m view: "no power sensor through this CLI" naming both XPUs, never 0 W', async () => {
    const fake = await makeFakeTool('xpu_smi', { '': { file: R300, mode: 'once' } });
    const p = await kunlunXpuSmi.probe({ env: fake.env, options: {} });
    expect(p).toMatchObject({ state: 'unavailable', code: 'no-power-field' });
    const reason = (p as { reason: string }).reason;
    expect(reason).toMatch(/^no power sensor through this CLI: XPU 0 \(R300\), XPU 1 \(R300\) — the xpu_smi table has no power column and `xpu_smi -m` failed/);
    expect(reason).not.toMatch(/\b0(\.0+)? ?W\b/);
  });
});

describe('kunlun-xpu-smi parsers over own fixtures', () => {
  it('-m by position: bus, device id, serial, temperature, power, clock, memory, use, firmware, quoted model with a space', () => {
    const lines = parseXpuSmiM(readFileSync(P800_M, 'utf8'));
    expect(lines[0]).toEqual({ index: 0, busId: '00000000:03:00.0', serial: '02K15K624CV00304', temperatureC: 36, powerRaw: 86, smClockMHz: 1450, memoryUsedMiB: 90440, memoryTotalMiB: 98304, utilizationPct: 0, firmwareVersion: '1.0:2.6:1.39.1.7', model: 'P800 OAM' });
    expect(lines[1]!.index).toBe(1);
    expect(lines[1]!.powerRaw).toBeUndefined(); // printed 0: a column not filled, not 0 W
    expect(parseXpuSmiM('XPU-SMI\n\nnot a row\n')).toEqual([]);
  });

  it('the power unit: watts below the threshold, milliwatts at or above it, or as forced; a bad option is bad input', () => {
    expect(klPowerUnit([86, 97])).toBe('W');
    expect(klPowerUnit([78250])).toBe('mW');
    expect(klPowerUnit([KL_MW_THRESHOLD - 1])).toBe('W');
    expect(klPowerUnit([KL_MW_THRESHOLD])).toBe('mW');
    expect(klPowerUnit([86], 'mW')).toBe('mW');
    expect(klPowerUnit([78250], 'auto')).toBe('mW');
    const bad = klPowerUnit([86], 'kW');
    expect(bad).toBeInstanceOf(WattbenchError);
    expect((bad as WattbenchError).code).toBe('BAD_SOURCE_OPTION');
  });

  it('K200: the two dies share PCI address, serial and power → one board, whose power goes to the first selected die only', () => {
    const t = parseXpuSmiTable(readFileSync(K200_TABLE, 'utf8'));
    expect(t.devices.map((d) => [d.index, d.busId, d.serial, d.memoryUsedMiB, d.memoryTotalMiB])).toEqual([[0, '0000:06:00.0', '0200210302000998', 6120, 8064], [1, '0000:06:00.0', '0200210302000998', 6098, 8064]]);
    const lines = parseXpuSmiM(readFileSync(K200_M, 'utf8'));
    const boards = klBoards(lines);
    expect(boards.get(0)).toEqual([0, 1]);
    expect(boards.get(1)).toEqual([0, 1]);
    expect(klRows(lines, 'mW', boards, [0, 1])).toEqual([
      { index: 0, powerW: 78.25, temperatureC: 58, smClockMHz: 1300, utilizationPct: 88, memoryUsedMiB: 6120 },
      { index: 1, temperatureC: 55, smClockMHz: 1300, utilizationPct: 85, memoryUsedMiB: 6098 },
    ]);
    expect(klRows(lines, 'mW', boards, [1])[1]!.powerW).toBe(78.25); // die 1 alone is charged the board
    // dies that print different power are not one sensor: each keeps its own reading
    const split = lines.map((l, i) => ({ ...l, powerRaw: 78000 + i }));
    expect(klBoards(split).size).toBe(0);
  });
});

describe('kunlun-xpu-smi probe and polling (fake xpu_smi on PATH)', () => {
  async function k200(): Promise<{ fake: FakeTool; p: Extract<ProbeResult, { state: 'ok' }> }> {
    const fake = await makeFakeTool('xpu_smi', { '': { file: K200_TABLE, mode: 'once' }, '-m': { file: K200_M, mode: 'once' } });
    const p = await kunlunXpuSmi.probe({ env: fake.env, options: {} });
    if (p.state !== 'ok') throw new Error(p.reason);
    return { fake, p };
  }

  it('K200: devices with static facts, the board named, mW inferred and said so', async () => {
    const { p } = await k200();
    expect(p.devices[0]).toEqual({
      id: 'kunlun-xpu-smi:0', index: 0, vendor: 'Kunlunxin', name: 'Kunlunxin K200', kind: 'accelerator', serial: '0200210302000998', busId: '0000:06:00.0',
      driverVersion: '4.0', firmwareVersion: '1.0:2.1:1.12.0.4', memoryMiB: 8064,
      partition: "die 0 of a 2-die board (00000000:06:00.0, XPUs 0, 1); the board's power is recorded once, under its first selected die",
    });
    expect(p.devices[1]!.partition).toMatch(/^die 1 of a 2-die board/);
    expect(p.semantics).toMatchObject({ kind: 'instantaneous', field: 'xpu_smi -m power (column 9)' });
    expect(p.semantics.note).toMatch(/read as milliwatts \(inferred from its magnitude; Kunlunxin documents no unit\)/);
    expect(p.note).toMatch(/two-die board\(s\) 0\+1/);
    expect(p.software).toEqual({ 'Kunlunxin runtime': '4.0', 'Kunlunxin driver': '4.0' });
    expect(kunlunXpuSmi.meta.visibilityEnv).toEqual(['XPU_VISIBLE_DEVICES']);
  });

  it('polling `xpu_smi -m`: both dies selected → the board\'s 78.25 W once, under die 0; die 1 keeps its other readings', async () => {
    const { fake, p } = await k200();
    const sink = recordingSink();
    const ctrl = new AbortController();
    const s = await kunlunXpuSmi.start({ devices: p.devices, intervalMs: 100, clock: createRunClock(), signal: ctrl.signal, sink, options: {}, env: fake.env, probe: p });
    expect(await waitFor(() => sink.samples.length >= 4, 20_000)).toBe(true);
    ctrl.abort();
    await s.stop();
    expect(s.command!.slice(1)).toEqual(['-m']);
    const of = (id: string) => sink.samples.filter((x) => x.deviceId === id);
    expect(of('kunlun-xpu-smi:0').every((x) => x.powerW === 78.25 && x.temperatureC === 58)).toBe(true);
    expect(of('kunlun-xpu-smi:1').length).toBeGreaterThan(0);
    expect(of('kunlun-xpu-smi:1').every((x) => x.powerW === undefined && x.temperatureC === 55)).toBe(true);
  });

  it('P800: watts; a module that prints 0 power is left out and named; power-unit=mW forces the unit', async () => {
    // no P800 default view has been published: here it prints nothing the table parser knows, so every fact comes from -m
    const fake = await makeFakeTool('xpu_smi', { '': { file: P800_M, mode: 'once' }, '-m': { file: P800_M, mode: 'once' } });
    const p = await kunlunXpuSmi.probe({ env: fake.env, options: {} });
    expect(p.state).toBe('ok');
    if (p.state !== 'ok') return;
    expect(p.devices.map((d) => [d.id, d.name, d.busId, d.memoryMiB])).toEqual([['kunlun-xpu-smi:0', 'Kunlunxin P800 OAM', '00000000:03:00.0', 98304]]);
    expect(p.note).toBe('left out, no power sensor through this CLI: XPU 1 (power column 0 or missing)');
    expect(p.semantics.note).toMatch(/read as watts/);
    const forced = await kunlunXpuSmi.probe({ env: fake.env, options: { 'power-unit': 'mW' } });
    expect(forced.state === 'ok' && forced.semantics.note).toMatch(/read as milliwatts \(set by power-unit\)/);
    const bad = await kunlunXpuSmi.probe({ env: fake.env, options: { 'power-unit': 'kW' } });
    expect(bad).toMatchObject({ state: 'unavailable', code: 'not-configured' });
  });

  it('its own source id, not Intel\'s xpu-smi; not installed says where it looked', async () => {
    expect(kunlunXpuSmi.meta.id).toBe('kunlun-xpu-smi');
    expect(DRIVERS['kunlun-xpu-smi']).toBe(kunlunXpuSmi);
    expect(DRIVERS['xpu-smi']).not.toBe(kunlunXpuSmi);
    const none = await kunlunXpuSmi.probe({ env: { PATH: '/nonexistent' }, options: {} });
    expect(none).toMatchObject({ state: 'unavailable', code: 'not-installed' });
    expect((none as { reason: string }).reason).toMatch(/xpu_smi is not on PATH or in \/usr\/local\/xpu\/bin/);
  });
});
