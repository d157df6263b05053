import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseTtSmiSnapshot, ttRows, ttVisibility, hexTag, ttSmi, TT_SNAPSHOT_ARGS } from '../../drivers/tt-smi.js';
import { WattbenchError } from '../../lib/errors.js';
import { createRunClock } from '../../lib/clock.js';
import { FIXTURES, HAVE_FIXTURES, ROOT, runCli, tempDir, resultFiles, readJson, writeScript, writeEnvWorkload } from '../helpers/cli.js';
import { validateResult } from '../../results/validate.js';
import { makeFakeTool, recordingSink, waitFor } from './fake-vendor-tool.js';

const OWN = join(ROOT, 'tests', 'fixtures', 'tt-smi');
const MIXED = join(OWN, 'tt-smi-s__n300-plus-p150a-no-TDP.json');
const P300C = join(FIXTURES, 'others', 'tt-smi-s__p300c-Blackhole__compact-real-world-snapshot__tt-toplike-test.json');
const S = TT_SNAPSHOT_ARGS.join(' ');

describe.skipIf(!HAVE_FIXTURES)('tt-smi over ../shared/fixtures', () => {
  it('reads the p300c snapshot: " 16.0" W, 34.8 °C, AICLK 800, BOARD_POWER_LIMIT 0x226 = 550 W, board id and bundle version from the hex tags', () => {
    const text = readFileSync(P300C, 'utf8');
    const s = parseTtSmiSnapshot(text)!;
    expect(s.chips).toEqual([{ index: 0, boardType: 'p300c', boardId: '0000046131924062', busId: '0000:04:00.0', powerW: 16, temperatureC: 34.8, aiclkMHz: 800, powerLimitW: 550, firmwareVersion: '19.7.99.0' }]);
    // the telemetry power is the low 16 bits of the file's own TDP tag, and the clock those of AICLK
    const smbus = JSON.parse(text).device_info[0].smbus_telem;
    expect(s.chips[0]!.powerW).toBe(hexTag(smbus.TDP)! & 0xffff);
    expect(s.chips[0]!.aiclkMHz).toBe(hexTag(smbus.AICLK)! & 0xffff);
    expect(ttRows(s)).toEqual([{ index: 0, powerW: 16, temperatureC: 34.8, smClockMHz: 800 }]);
  });

  it('probes the p300c through a fake tt-smi', async () => {
    const fake = await makeFakeTool('tt-smi', { [S]: { file: P300C, mode: 'once' } });
    const p = await ttSmi.probe({ env: fake.env, options: {} });
    expect(p.state).toBe('ok');
    if (p.state !== 'ok') return;
    expect(p.devices).toEqual([{ id: 'tt-smi:0', index: 0, vendor: 'Tenstorrent', name: 'Tenstorrent p300c', kind: 'accelerator', serial: '0000046131924062', busId: '0000:04:00.0', firmwareVersion: '19.7.99.0', powerLimitW: 550 }]);
  });
});

describe('tt-smi parser over own fixtures', () => {
  it('n300 L/R and a p150a without TDP: null tags are no reading (tt-smi prints 0.0 for them), never 0 W', () => {
    const s = parseTtSmiSnapshot(readFileSync(MIXED, 'utf8'))!;
    expect(s).toMatchObject({ ttSmiVersion: '3.0.12', kmdVersion: 'TT-KMD 1.31' });
    expect(s.chips[0]).toEqual({ index: 0, boardType: 'n300 L', boardId: '010001451170801d', busId: '0000:01:00.0', powerW: 48, temperatureC: 52.7, aiclkMHz: 1000, powerLimitW: 150, firmwareVersion: '80.13.0.0' });
    expect(s.chips[1]).toMatchObject({ index: 1, boardType: 'n300 R', boardId: '010001451170801d', powerW: 44 });
    expect(s.chips[1]!.busId).toBeUndefined(); // "N/A"
    expect(s.chips[2]).toEqual({ index: 2, boardType: 'p150a', boardId: '0000040021526038', busId: '0000:41:00.0', firmwareVersion: '18.3.0.0' });
    expect(ttRows(s)[2]).toEqual({ index: 2 });
  });

  it('text that is no snapshot gives nothing', () => {
    expect(parseTtSmiSnapshot('usage: tt-smi [-h] ...')).toBeUndefined();
    expect(parseTtSmiSnapshot('{"device_info": {}}')).toBeUndefined();
    expect(hexTag(null)).toBeUndefined();
    expect(hexTag('N/A')).toBeUndefined();
  });
});

describe('tt-smi probe, workload visibility and polling (fake tt-smi on PATH)', () => {
  it('probe: the chips with power, the p150a without TDP named as having no power sensor through this CLI', async () => {
    const fake = await makeFakeTool('tt-smi', { [S]: { file: MIXED, mode: 'once' } });
    const p = await ttSmi.probe({ env: fake.env, options: {} });
    expect(p.state).toBe('ok');
    if (p.state !== 'ok') return;
    expect(p.devices.map((d) => [d.id, d.name, d.busId, d.serial, d.powerLimitW, d.driverVersion])).toEqual([
      ['tt-smi:0', 'Tenstorrent n300 L', '0000:01:00.0', '010001451170801d', 150, 'TT-KMD 1.31'],
      ['tt-smi:1', 'Tenstorrent n300 R', undefined, '010001451170801d', 150, 'TT-KMD 1.31'],
    ]);
    expect(p.devices[1]!.partition).toMatch(/without its own PCI address/);
    expect(p.note).toBe('left out, no power sensor through this CLI: chip 2 (Tenstorrent p150a) (no TDP telemetry)');
    expect(p.semantics).toMatchObject({ kind: 'instantaneous', field: 'telemetry.power' });
    expect(p.software).toEqual({ 'tt-smi': '3.0.12', 'tt-kmd': 'TT-KMD 1.31' });
  });

  it('TT_VISIBLE_DEVICES names PCI addresses; a remote chip is reached through its board\'s local chip; none at all is bad input', async () => {
    const fake = await makeFakeTool('tt-smi', { [S]: { file: MIXED, mode: 'once' } });
    const p = await ttSmi.probe({ env: fake.env, options: {} });
    if (p.state !== 'ok') throw new Error(p.reason);
    expect(ttSmi.workloadVisibility!(p.devices, p, {})).toEqual({ env: { TT_VISIBLE_DEVICES: '0000:01:00.0' } });
    expect(ttSmi.workloadVisibility!([p.devices[1]!], p, {})).toEqual({ env: { TT_VISIBLE_DEVICES: '0000:01:00.0' } });
    const orphan = ttVisibility([{ id: 'tt-smi:5', index: 5, vendor: 'Tenstorrent', name: 'Tenstorrent n300 R', serial: 'ffff' }], p.devices);
    expect(orphan).toBeInstanceOf(WattbenchError);
    expect((orphan as WattbenchError).code).toBe('TT_NO_PCI_ADDRESS');
    expect(ttSmi.meta.visibilityEnv).toEqual(['TT_VISIBLE_DEVICES']);
  });

  it('polling `tt-smi -s --snapshot_no_tty` returns the selected chip\'s replayed power, temperature and AI clock', async () => {
    const fake = await makeFakeTool('tt-smi', { [S]: { file: MIXED, mode: 'once' } });
    const p = await ttSmi.probe({ env: fake.env, options: {} });
    if (p.state !== 'ok') throw new Error(p.reason);
    const sink = recordingSink();
    const ctrl = new AbortController();
    const s = await ttSmi.start({ devices: [p.devices[1]!], intervalMs: 500, clock: createRunClock(), signal: ctrl.signal, sink, options: {}, env: fake.env, probe: p });
    expect(await waitFor(() => sink.samples.length >= 2, 20_000)).toBe(true);
    ctrl.abort();
    await s.stop();
    expect(s.command!.slice(1)).toEqual(TT_SNAPSHOT_ARGS);
    expect(sink.samples.every((x) => x.deviceId === 'tt-smi:1' && x.powerW === 44 && x.temperatureC === 50.1 && x.smClockMHz === 1000)).toBe(true);
  });

  it('a tt-smi too old for --snapshot_no_tty says so; one that sees no TDP anywhere has no power field', async () => {
    const old = await makeFakeTool('tt-smi', { [S]: { file: MIXED, mode: 'once' } }, { 0: { fail: 'tt-smi: error: unrecognized arguments: --snapshot_no_tty', exitCode: 2 } });
    const o = await ttSmi.probe({ env: old.env, options: {} });
    expect(o).toMatchObject({ state: 'unavailable', code: 'error' });
    expect((o as { reason: string }).reason).toMatch(/too old to print a snapshot to stdout/);
    const doc = JSON.parse(readFileSync(MIXED, 'utf8'));
    doc.device_info = [doc.device_info[2]];
    const noTdp = join(old.dir, 'no-tdp.json');
    await writeFile(noTdp, JSON.stringify(doc));
    const fake = await makeFakeTool('tt-smi', { [S]: { file: noTdp, mode: 'once' } });
    const p = await ttSmi.probe({ env: fake.env, options: {} });
    expect(p).toMatchObject({ state: 'unavailable', code: 'no-power-field' });
    expect((p as { reason: string }).reason).toBe('no power sensor through this CLI: chip 0 (Tenstorrent p150a) — the firmware gave no TDP telemetry');
  });
});

describe('wattbench run through tt-smi', () => {
  it('picks tt-smi by itself, gives the workload TT_VISIBLE_DEVICES=<PCI address> for a remote chip, records a valid result', async () => {
    const fake = await makeFakeTool('tt-smi', { [S]: { file: MIXED, mode: 'once' } });
    const dir = await tempDir();
    const { script, seen } = await writeEnvWorkload(dir, ['TT_VISIBLE_DEVICES'], 1500);
    const out = join(dir, 'out');
    const r = await runCli(['run', '--workload', 'command', '--set', `command=["${process.execPath}","${script}"]`, '--devices', '1', '--idle', '0', '--repetitions', '1', '--cooldown', '0', '--interval', '500', '--out', out, '--quiet'], { env: fake.env as Record<string, string> });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await readJson(seen)).toEqual({ TT_VISIBLE_DEVICES: '0000:01:00.0' });
    const res = await readJson((await resultFiles(out))[0]!);
    expect(validateResult(res).ok).toBe(true);
    expect(res.sources[0]).toMatchObject({ id: 'tt-smi', state: 'used', deviceIds: ['tt-smi:1'], semantics: { kind: 'instantaneous', field: 'telemetry.power' } });
    expect(res.sources[0].command.slice(1)).toEqual(TT_SNAPSHOT_ARGS);
    expect(res.devices[0]).toMatchObject({ id: 'tt-smi:1', name: 'Tenstorrent n300 R', vendor: 'Tenstorrent', serial: '010001451170801d' });
  });
});
