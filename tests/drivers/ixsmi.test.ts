import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIxsmi, powerPartners, ixDevice, ixsmi } from '../../drivers/ixsmi.js';
import { createRunClock } from '../../lib/clock.js';
import { FIXTURES, HAVE_FIXTURES, ROOT } from '../helpers/cli.js';
import { makeFakeTool, recordingSink, waitFor } from './fake-vendor-tool.js';

const OWN = join(ROOT, 'tests', 'fixtures', 'ixsmi');
const DUAL = join(OWN, 'ixsmi__4x-BI-V150__dual-die.txt');

describe.skipIf(!HAVE_FIXTURES)('ixsmi parser over ../shared/fixtures', () => {
  it('reads the 16-entry BI-V150 table: "N/A / N/A" on even entries, board power on odd ones', () => {
    const t = parseIxsmi(readFileSync(join(FIXTURES, 'others/ixsmi__Iluvatar-BI-V150x16__IX-ML-4.1.0__PaddleNLP-docs.txt'), 'utf8'));
    expect(t).toMatchObject({ ixmlVersion: '4.1.0', driverVersion: '4.1.0', cudaVersion: '10.2' });
    expect(t.gpus).toHaveLength(16);
    expect(t.gpus.map((g) => g.powerW)).toEqual([undefined, 93, undefined, 94, undefined, 98, undefined, 95, undefined, 95, undefined, 94, undefined, 93, undefined, 94]);
    expect(t.gpus[1]).toEqual({ index: 1, name: 'Iluvatar BI-V150', busId: '00000000:16:00.0', smClockMHz: 1500, memClockMHz: 1600, temperatureC: 30, perf: 'P0', powerW: 93, powerCapW: 350, memoryUsedMiB: 116, memoryTotalMiB: 32768, utilizationPct: 0 });
    expect(t.gpus[0]!.powerCapW).toBeUndefined();
    expect([...powerPartners(t.gpus)]).toEqual([[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11], [12, 13], [14, 15]]);
    expect(ixDevice(t.gpus[14]!, t, 15).partition).toBe("die without a power reading; its board's power is reported on ixsmi:15");
  });
});

describe('ixsmi parser over own fixtures', () => {
  it('a loaded dual-die board: clocks, memory, utilization per die; power on the odd die only', () => {
    const t = parseIxsmi(readFileSync(DUAL, 'utf8'));
    expect(t.ixmlVersion).toBe('4.2.0');
    expect(t.gpus.map((g) => [g.index, g.powerW, g.utilizationPct, g.memoryUsedMiB, g.smClockMHz])).toEqual([[0, undefined, 88, 28160, 1500], [1, 287, 91, 28160, 1500], [2, undefined, 0, 116, 1000], [3, 96, 0, 116, 1000]]);
    expect(powerPartners(t.gpus)).toEqual(new Map([[0, 1], [2, 3]]));
  });
  it('no partner is invented when the pattern does not hold', () => {
    expect(powerPartners([{ index: 0, powerW: 90 }, { index: 1 }, { index: 2 }])).toEqual(new Map());
  });
});

describe('ixsmi probe and polling (fake ixsmi on PATH)', () => {
  it('probe names the dual-die boards; polling gives the power-less die its diagnostics and no power', async () => {
    const fake = await makeFakeTool('ixsmi', { '': { file: DUAL, mode: 'once' } });
    const p = await ixsmi.probe({ env: fake.env, options: {} });
    expect(p.state).toBe('ok');
    if (p.state !== 'ok') return;
    expect(p.note).toMatch(/0→1, 2→3/);
    expect(p.devices[0]).toMatchObject({ id: 'ixsmi:0', busId: '00000000:13:00.0', memoryMiB: 32768, partition: "die without a power reading; its board's power is reported on ixsmi:1" });
    expect(p.devices[1]).toMatchObject({ powerLimitW: 350 });
    expect(p.devices[1]!.partition).toBeUndefined();
    const sink = recordingSink();
    const ctrl = new AbortController();
    const s = await ixsmi.start({ devices: p.devices.slice(0, 2), intervalMs: 100, clock: createRunClock(), signal: ctrl.signal, sink, options: {}, env: fake.env, probe: p });
    expect(await waitFor(() => sink.samples.length >= 4, 20_000)).toBe(true);
    ctrl.abort();
    await s.stop();
    const d0 = sink.samples.filter((x) => x.deviceId === 'ixsmi:0');
    const d1 = sink.samples.filter((x) => x.deviceId === 'ixsmi:1');
    expect(d0.every((x) => x.powerW === undefined && x.utilizationPct === 88 && x.temperatureC === 51)).toBe(true);
    expect(d1.every((x) => x.powerW === 287 && x.memClockMHz === 1600)).toBe(true);
  });
});
