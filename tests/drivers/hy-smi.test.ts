import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseHySmi, parseHySmiJson, hyDevice, hySmi, HY_STATIC_ARGS } from '../../drivers/hy-smi.js';
import { createRunClock } from '../../lib/clock.js';
import { FIXTURES, HAVE_FIXTURES, ROOT } from '../helpers/cli.js';
import { makeFakeTool, recordingSink, waitFor } from './fake-vendor-tool.js';

const OWN = join(ROOT, 'tests', 'fixtures', 'hy-smi');
const shared = (f: string) => readFileSync(join(FIXTURES, 'others', f), 'utf8');

describe.skipIf(!HAVE_FIXTURES)('hy-smi parser over ../shared/fixtures', () => {
  it('DTK 26.04 BW1000: header-driven columns with Dec%/Enc%, "80.0W", "1000.0W", "50.0C"', () => {
    const rows = parseHySmi(shared('hy-smi__Hygon-BW1000x2__DTK-26.04__real-output-test-fixture.txt'));
    expect(rows).toEqual([
      { index: 0, temperatureC: 50, powerW: 80, perf: 'auto', powerCapW: 1000, vramPct: 0, utilizationPct: 0, mode: 'Normal' },
      { index: 1, temperatureC: 52, powerW: 89, perf: 'auto', powerCapW: 1000, vramPct: 0, utilizationPct: 0, mode: 'Normal' },
    ]);
  });
  it('older column set without Dec%/Enc%, trailing spaces on every row', () => {
    const rows = parseHySmi(shared('hy-smi__Hygon-DCU-400W-x8__older-no-Dec-Enc-columns__TRUNCATED.txt'));
    expect(rows.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(rows.map((r) => r.powerW)).toEqual([114, 109, 106, 107, 118, 113, 106, 115]);
    expect(rows[5]).toMatchObject({ temperatureC: 62, powerCapW: 400, mode: 'Normal' });
  });
  it('old DTK rocm-smi on Hygon: "DCU" header, Fan column, lower-case "30.0c"', () => {
    const rows = parseHySmi(shared('rocm-smi__Hygon-DCUx4__paddle-docs.txt'));
    expect(rows.map((r) => [r.index, r.temperatureC, r.powerW, r.powerCapW])).toEqual([[0, 30, 38, 280], [1, 30, 41, 280], [2, 29, 38, 280], [3, 29, 39, 280]]);
  });
});

describe('hy-smi parser over own fixtures', () => {
  it('an "N/A" AvgPwr is missing, never 0 W', () => {
    const rows = parseHySmi(readFileSync(join(OWN, 'hy-smi__4x-K100-AI__one-NA.txt'), 'utf8'));
    expect(rows.map((r) => r.powerW)).toEqual([212, 207, undefined, 96]);
    expect(rows[0]).toMatchObject({ utilizationPct: 93, vramPct: 61, temperatureC: 47 });
  });
  it('rocm-smi-style JSON: names, serials, bus, VBIOS, VRAM bytes → MiB, the system driver version', () => {
    const m = parseHySmiJson(readFileSync(join(OWN, 'hy-smi-json__showproductname-serial-bus-driver-vbios-meminfo.txt'), 'utf8'));
    expect([...m.keys()]).toEqual([0, 1, 2, 3]);
    expect(m.get(0)).toEqual({ driverVersion: '6.3.15-V1.5.0', name: 'K100_AI', serial: 'H1F3A0712', busId: '0000:1C:00.0', firmwareVersion: '6.312.002400Q.984920', memoryMiB: 65520 });
    expect(m.get(2)!.serial).toBeUndefined(); // "N/A"
    expect(parseHySmiJson('hy-smi: unrecognized option --showserial').size).toBe(0);
    const rows = parseHySmi(readFileSync(join(OWN, 'hy-smi__4x-K100-AI__one-NA.txt'), 'utf8'));
    expect(hyDevice(rows[1]!, m.get(1))).toMatchObject({ id: 'hy-smi:1', name: 'K100_AI', serial: 'H1F3A0733', powerLimitW: 400, memoryMiB: 65520 });
  });
});

describe('hy-smi probe and polling (fake hy-smi on PATH)', () => {
  it('probe joins the table with the JSON facts; polling returns the replayed AvgPwr, the N/A card without power', async () => {
    const fake = await makeFakeTool('hy-smi', {
      '': { file: join(OWN, 'hy-smi__4x-K100-AI__one-NA.txt'), mode: 'once' },
      [HY_STATIC_ARGS.join(' ')]: { file: join(OWN, 'hy-smi-json__showproductname-serial-bus-driver-vbios-meminfo.txt'), mode: 'once' },
    });
    const p = await hySmi.probe({ env: fake.env, options: {} });
    expect(p.state).toBe('ok');
    if (p.state !== 'ok') return;
    expect(p.semantics.kind).toBe('windowed-average');
    expect(p.devices.map((d) => [d.id, d.name, d.busId])).toEqual([['hy-smi:0', 'K100_AI', '0000:1C:00.0'], ['hy-smi:1', 'K100_AI', '0000:3E:00.0'], ['hy-smi:2', 'K100_AI', '0000:5D:00.0'], ['hy-smi:3', 'K100_AI', '0000:7A:00.0']]);
    const sink = recordingSink();
    const ctrl = new AbortController();
    const s = await hySmi.start({ devices: p.devices.slice(1, 3), intervalMs: 100, clock: createRunClock(), signal: ctrl.signal, sink, options: {}, env: fake.env, probe: p });
    expect(await waitFor(() => sink.samples.length >= 4, 20_000)).toBe(true);
    ctrl.abort();
    await s.stop();
    expect(new Set(sink.samples.map((x) => x.deviceId))).toEqual(new Set(['hy-smi:1', 'hy-smi:2']));
    expect(sink.samples.filter((x) => x.deviceId === 'hy-smi:1').every((x) => x.powerW === 207 && x.utilizationPct === 91.5)).toBe(true);
    expect(sink.samples.filter((x) => x.deviceId === 'hy-smi:2').every((x) => x.powerW === undefined && x.temperatureC === 38)).toBe(true);
  });
  it('a hy-smi without the JSON view still probes, from the table alone', async () => {
    const fake = await makeFakeTool('hy-smi', { '': { file: join(OWN, 'hy-smi__4x-K100-AI__one-NA.txt'), mode: 'once' } });
    const p = await hySmi.probe({ env: fake.env, options: {} });
    expect(p.state === 'ok' && p.devices[0]).toEqual({ id: 'hy-smi:0', index: 0, vendor: 'Hygon', name: 'Hygon DCU', kind: 'accelerator', powerLimitW: 400 });
    expect(hySmi.meta.visibilityEnv).toEqual(['HIP_VISIBLE_DEVICES']);
  });
});
