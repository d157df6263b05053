import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMthreadsGmi, parseMthreadsQuery, mtRows, mthreadsGmi, MT_QUERY_ARGS } from '../../drivers/mthreads-gmi.js';
import { createRunClock } from '../../lib/clock.js';
import { FIXTURES, HAVE_FIXTURES, ROOT, runCli } from '../helpers/cli.js';
import { makeFakeTool, recordingSink, waitFor } from './fake-vendor-tool.js';

const OWN = join(ROOT, 'tests', 'fixtures', 'mthreads-gmi');
const TABLE = join(OWN, 'mthreads-gmi__3x-S4000.txt');
const QUERY = join(OWN, 'mthreads-gmi-q-json__3x-S4000.json');
const S80 = join(FIXTURES, 'others', 'mthreads-gmi__MTT-S80__mthreads-gmi-1.14.0__Driver-2.7.0.txt');
const Q = MT_QUERY_ARGS.join(' ');

describe.skipIf(!HAVE_FIXTURES)('mthreads-gmi over ../shared/fixtures', () => {
  it('reads the real S80 table (mthreads-gmi 1.14.0): banner versions, "2MiB(16384MiB)", "49C", "0%", the PCI address', () => {
    const t = parseMthreadsGmi(readFileSync(S80, 'utf8'));
    expect(t.gmiVersion).toBe('1.14.0');
    expect(t.driverVersion).toBe('2.7.0');
    expect(t.gpus).toEqual([{ index: 0, name: 'MTT S80', busId: '00000000:04:00.0', utilizationPct: 0, memoryUsedMiB: 2, memoryTotalMiB: 16384, temperatureC: 49 }]);
  });

  it('an S80 whose mthreads-gmi has no JSON report: "no power sensor through this CLI", naming the GPU, never 0 W', async () => {
    // the fake answers `-q --json` with "unknown arguments" and exit 2, as a tool without that option would
    const fake = await makeFakeTool('mthreads-gmi', { '': { file: S80, mode: 'once' } });
    const p = await mthreadsGmi.probe({ env: fake.env, options: {} });
    expect(p).toMatchObject({ state: 'unavailable', code: 'no-power-field' });
    const reason = (p as { reason: string }).reason;
    expect(reason).toMatch(/^no power sensor through this CLI: GPU 0 \(MTT S80\) — the mthreads-gmi table has no power column and `mthreads-gmi -q --json` failed \(.*exited with code 2/);
    expect(reason).not.toMatch(/\b0(\.0+)? ?W\b/);
  });
});

describe('mthreads-gmi parsers over own fixtures', () => {
  it('the table: three GPUs, each from its three-line block; the process list is not read', () => {
    const t = parseMthreadsGmi(readFileSync(TABLE, 'utf8'));
    expect(t.gpus.map((g) => [g.index, g.name, g.busId, g.temperatureC, g.utilizationPct, g.memoryUsedMiB, g.memoryTotalMiB])).toEqual([
      [0, 'MTT S4000', '00000000:12:00.0', 63, 97, 40960, 49152],
      [1, 'MTT S4000', '00000000:13:00.0', 41, 12, 1024, 49152],
      [2, 'MTT S4000', '00000000:48:00.0', 38, 0, 2, 49152],
    ]);
  });

  it('-q --json: "Power Draw " (trailing space) is found, units stripped, N/A and a 0 W limit are no value', () => {
    const q = parseMthreadsQuery(readFileSync(QUERY, 'utf8'))!;
    expect(q.driverVersion).toBe('2.7.0');
    expect(q.gpus[0]).toEqual({
      index: 0, name: 'MTT S4000', uuid: '7d5a1c02-3b64-4f0e-9a21-5c0b8e4d1f33', serial: 'MY1VE2411A0012', firmwareVersion: '3.4.8', busId: '00000000:12:00.0',
      memoryTotalMiB: 49152, memoryUsedMiB: 40960, utilizationPct: 97, temperatureC: 63, powerW: 412.37, powerLimitW: 450, smClockMHz: 1750, memClockMHz: 2000,
    });
    expect(q.gpus[1]!.powerW).toBe(118.05);
    expect(q.gpus[1]!.powerLimitW).toBeUndefined(); // "N/A"
    expect(q.gpus[2]).toMatchObject({ index: 2, temperatureC: 38, memoryUsedMiB: 2 });
    expect(q.gpus[2]!.powerW).toBeUndefined(); // "N/A", not 0 W
    expect(q.gpus[2]!.powerLimitW).toBeUndefined(); // "0W" is no limit
    expect(q.gpus[2]!.uuid).toBeUndefined();
    expect(mtRows(q)[2]).toEqual({ index: 2, temperatureC: 38, utilizationPct: 0, memoryUsedMiB: 2 });
  });

  it('-q --json edge cases: usage text instead of JSON, GiB totals, numeric Index, an Index nothing can select', () => {
    expect(parseMthreadsQuery('Usage: mthreads-gmi [OPTION]...\n')).toBeUndefined();
    expect(parseMthreadsQuery('{"GPU": {}}')).toBeUndefined();
    const q = parseMthreadsQuery('{"GPU": [{"Index": 3, "FB Memory Usage": {"Total": "80GiB"}, "power readings": {"power draw": "7.5 W"}}, {"Index": "x"}]}')!;
    expect(q.gpus).toEqual([{ index: 3, memoryTotalMiB: 81920, powerW: 7.5 }]);
  });
});

describe('mthreads-gmi probe and polling (fake mthreads-gmi on PATH)', () => {
  it('probe joins the table with the JSON report; a GPU with Power Draw N/A is left out and named', async () => {
    const fake = await makeFakeTool('mthreads-gmi', { '': { file: TABLE, mode: 'once' }, [Q]: { file: QUERY, mode: 'once' } });
    const p = await mthreadsGmi.probe({ env: fake.env, options: {} });
    expect(p.state).toBe('ok');
    if (p.state !== 'ok') return;
    expect(p.devices).toEqual([
      { id: 'mthreads-gmi:0', index: 0, vendor: 'Moore Threads', name: 'MTT S4000', kind: 'accelerator', uuid: '7d5a1c02-3b64-4f0e-9a21-5c0b8e4d1f33', serial: 'MY1VE2411A0012', busId: '00000000:12:00.0', driverVersion: '2.7.0', firmwareVersion: '3.4.8', memoryMiB: 49152, powerLimitW: 450 },
      { id: 'mthreads-gmi:1', index: 1, vendor: 'Moore Threads', name: 'MTT S4000', kind: 'accelerator', uuid: '0c9e44b7-8a10-4c7d-b2f5-93e6a0d27c18', serial: 'MY1VE2411A0047', busId: '00000000:13:00.0', driverVersion: '2.7.0', firmwareVersion: '3.4.8', memoryMiB: 49152 },
    ]);
    expect(p.note).toBe('left out, no power sensor through this CLI: GPU 2 (MTT S4000) (Power Draw N/A)');
    expect(p.semantics).toMatchObject({ kind: 'instantaneous', field: 'Power Readings.Power Draw' });
    expect(p.semantics.note).toMatch(/documents no averaging window/);
    expect(p.software).toEqual({ 'mthreads-gmi': '1.14.0', 'Moore Threads driver': '2.7.0' });
    expect(mthreadsGmi.meta.visibilityEnv).toEqual(['MUSA_VISIBLE_DEVICES']);
  });

  it('polling runs `mthreads-gmi -q --json` and returns each selected GPU\'s replayed readings', async () => {
    const fake = await makeFakeTool('mthreads-gmi', { '': { file: TABLE, mode: 'once' }, [Q]: { file: QUERY, mode: 'once' } });
    const p = await mthreadsGmi.probe({ env: fake.env, options: {} });
    if (p.state !== 'ok') throw new Error(p.reason);
    const sink = recordingSink();
    const ctrl = new AbortController();
    const s = await mthreadsGmi.start({ devices: p.devices.slice(1), intervalMs: 200, clock: createRunClock(), signal: ctrl.signal, sink, options: {}, env: fake.env, probe: p });
    expect(await waitFor(() => sink.samples.length >= 3, 20_000)).toBe(true);
    ctrl.abort();
    await s.stop();
    expect(s.command!.slice(1)).toEqual(MT_QUERY_ARGS);
    expect(sink.samples.every((x) => x.deviceId === 'mthreads-gmi:1' && x.sourceId === 'mthreads-gmi')).toBe(true);
    expect(sink.samples[0]).toMatchObject({ powerW: 118.05, temperatureC: 41, utilizationPct: 12, memoryUsedMiB: 1024, smClockMHz: 1200, memClockMHz: 2000 });
    expect(sink.gaps).toEqual([]);
  });

  it('wattbench sample --source mthreads-gmi --duration 2 --json returns the replayed values per GPU', async () => {
    const fake = await makeFakeTool('mthreads-gmi', { '': { file: TABLE, mode: 'once' }, [Q]: { file: QUERY, mode: 'once' } });
    const r = await runCli(['sample', '--source', 'mthreads-gmi', '--duration', '2', '--json'], { env: fake.env as Record<string, string> });
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const of = (id: string) => out.samples.filter((x: { deviceId: string }) => x.deviceId === id);
    expect(of('mthreads-gmi:0').length).toBeGreaterThanOrEqual(1);
    expect(of('mthreads-gmi:0').every((x: { powerW: number; temperatureC: number }) => x.powerW === 412.37 && x.temperatureC === 63)).toBe(true);
    expect(of('mthreads-gmi:1').length).toBeGreaterThanOrEqual(1);
    expect(of('mthreads-gmi:1').every((x: { powerW: number }) => x.powerW === 118.05)).toBe(true);
    expect(of('mthreads-gmi:2')).toEqual([]); // no power through this CLI: not sampled, never 0 W
    expect(out.summary).toMatchObject({ source: 'mthreads-gmi', scope: 'device', semantics: { kind: 'instantaneous' }, restarts: 0, gaps: [] });
    expect(out.summary.devices.map((d: { deviceId: string }) => d.deviceId)).toEqual(['mthreads-gmi:0', 'mthreads-gmi:1']);
    expect(out.summary.devices[0].meanPowerW).toBeCloseTo(412.37, 6);
  });

  it('not installed, and a table that fails, say why', async () => {
    const none = await mthreadsGmi.probe({ env: { PATH: '/nonexistent' }, options: {} });
    expect(none).toMatchObject({ state: 'unavailable', code: 'not-installed' });
    expect((none as { reason: string }).reason).toMatch(/mthreads-gmi is not on PATH/);
    const fake = await makeFakeTool('mthreads-gmi', { '': { file: TABLE, mode: 'once' } }, { 0: { fail: 'open /dev/mtgpu.0: Permission denied', exitCode: 4 } });
    const p = await mthreadsGmi.probe({ env: fake.env, options: {} });
    expect(p).toMatchObject({ state: 'unavailable', code: 'permission-denied' });
  });
});
