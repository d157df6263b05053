import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseTegrastatsLine, modulePower, tegrastats } from '../../drivers/tegrastats.js';
import { createRunClock } from '../../lib/clock.js';
import { FIXTURES, HAVE_FIXTURES, ROOT } from '../helpers/cli.js';
import { makeFakeTool, recordingSink, waitFor } from './fake-vendor-tool.js';

const OWN = join(ROOT, 'tests', 'fixtures', 'tegrastats');
const own = (f: string) => readFileSync(join(OWN, f), 'utf8');

describe.skipIf(!HAVE_FIXTURES)('tegrastats parser over ../shared/fixtures', () => {
  it('reads the JetPack 7.2 AGX Orin line: three-value rails, date prefix, GR3D array, temperatures', () => {
    const text = readFileSync(join(FIXTURES, 'others/tegrastats__AGX-Orin-devkit__JetPack7.2-L4T-R39.2__jetson_stats-test.txt'), 'utf8');
    const p = parseTegrastatsLine(text.trim())!;
    expect(p.stamp).toBe('07-25-2026 09:08:28');
    expect(p.rails.map((r) => r.name)).toEqual(['VDD_GPU_SOC', 'VDD_CPU_CV', 'VIN_SYS_5V0']);
    expect(p.rails[0]).toEqual({ name: 'VDD_GPU_SOC', currentMW: 5139, averageMW: 5139, thirdMW: 5139 });
    expect(p.ramUsedMiB).toBe(20642);
    expect(p.ramTotalMiB).toBe(62817);
    expect(p.gpuUtilizationPct).toBe(12);
    expect(p.gpuClockMHz).toBe(1300);
    expect(p.emcClockMHz).toBe(3199);
    expect(p.temperaturesC.gpu).toBeCloseTo(47.625, 3);
    // AGX Orin has no module input rail: every rail is summed (5139 + 3268 + 5500 mW)
    const m = modulePower(p.rails)!;
    expect(m.rails).toEqual(['VDD_GPU_SOC', 'VDD_CPU_CV', 'VIN_SYS_5V0']);
    expect(m.powerW).toBeCloseTo(13.907, 6);
    // RAM "20642/62817MB" must not be mistaken for a rail
    expect(p.rails.some((r) => r.name === 'RAM')).toBe(false);
  });
});

describe('tegrastats parser over own fixtures (real formats of older JetPacks)', () => {
  it('JetPack 6 Orin NX: "mW/mW" rails, VDD_IN is the module input', () => {
    const lines = own('orin-nx__jetpack6__interval-100.txt').trim().split('\n');
    const parsed = lines.map((l) => parseTegrastatsLine(l)!);
    expect(parsed.map((p) => modulePower(p.rails)!.powerW)).toEqual([4.711, 9.874, 15.312, 15.506]);
    expect(modulePower(parsed[0]!.rails)!.rails).toEqual(['VDD_IN']);
    expect(parsed[1]!.rails.find((r) => r.name === 'VDD_CPU_GPU_CV')).toEqual({ name: 'VDD_CPU_GPU_CV', currentMW: 4402, averageMW: 2457 });
    expect(parsed[2]!.gpuUtilizationPct).toBe(99);
    expect(parsed[2]!.gpuClockMHz).toBe(918);
    expect(parsed[3]!.temperaturesC.gpu).toBeCloseTo(46.781, 3);
    expect(parsed[0]!.stamp).toBeUndefined();
    // a chosen rail subset
    expect(modulePower(parsed[1]!.rails, ['VDD_CPU_GPU_CV', 'VDD_SOC'])!.powerW).toBeCloseTo(6.632, 6);
    expect(modulePower(parsed[1]!.rails, ['VDD_GPU'])).toBeUndefined();
  });
  it('JetPack 4 Nano: unitless "cur/avg" POM rails, GR3D without a clock when idle, upper-case GPU temperature', () => {
    const [a, b] = own('jetson-nano__jetpack4.txt').trim().split('\n').map((l) => parseTegrastatsLine(l)!);
    expect(modulePower(a!.rails)).toEqual({ powerW: 2.364, rails: ['POM_5V_IN'] });
    expect(a!.gpuUtilizationPct).toBe(0);
    expect(a!.gpuClockMHz).toBeUndefined();
    expect(a!.temperaturesC.GPU).toBe(39);
    expect(b!.rails.find((r) => r.name === 'POM_5V_GPU')).toEqual({ name: 'POM_5V_GPU', currentMW: 1843, averageMW: 963 });
    expect(b!.gpuClockMHz).toBe(921);
    expect(b!.emcClockMHz).toBe(1600);
  });
  it('AGX Xavier: short rail names and no input rail → the sum of all six', () => {
    const p = parseTegrastatsLine(own('agx-xavier__jetpack5__no-input-rail.txt').trim())!;
    expect(p.rails.map((r) => r.name)).toEqual(['GPU', 'CPU', 'SOC', 'CV', 'VDDRQ', 'SYS5V']);
    expect(modulePower(p.rails)!.powerW).toBeCloseTo((155 + 311 + 1088 + 0 + 311 + 1776) / 1000, 6);
  });
  it('rejects warnings and reads a cut-off line without inventing a rail', () => {
    const [warn, good, cut] = own('garbage-and-truncated.txt').trim().split('\n');
    expect(parseTegrastatsLine(warn!)).toBeUndefined();
    expect(modulePower(parseTegrastatsLine(good!)!.rails)!.powerW).toBe(4.711);
    const c = parseTegrastatsLine(cut!)!;
    expect(c.rails).toEqual([]); // "VDD_IN 98" lost its "/avg": not a reading
    expect(modulePower(c.rails)).toBeUndefined();
  });
});

describe('tegrastats process level (fake tegrastats on PATH)', () => {
  async function setup(plans: Parameters<typeof makeFakeTool>[2] = {}) {
    const fake = await makeFakeTool('tegrastats', { '--interval*': { file: join(OWN, 'orin-nx__jetpack6__interval-100.txt'), mode: 'loop' } }, plans);
    const modelFile = join(fake.dir, 'model');
    await writeFile(modelFile, 'NVIDIA Jetson Orin NX Engineering Reference Developer Kit\0');
    return { fake, options: { 'model-file': modelFile } };
  }

  it('probes the module and streams the replayed VDD_IN values in order', async () => {
    const { fake, options } = await setup();
    const probe = await tegrastats.probe({ env: fake.env, options });
    expect(probe.state).toBe('ok');
    if (probe.state !== 'ok') return;
    expect(probe.devices[0]).toMatchObject({ id: 'tegrastats:0', name: 'NVIDIA Jetson Orin NX Engineering Reference Developer Kit', memoryMiB: 15656 });
    expect(probe.semantics.field).toBe('VDD_IN');
    const sink = recordingSink();
    const ctrl = new AbortController();
    const s = await tegrastats.start({ devices: probe.devices, intervalMs: 40, clock: createRunClock(), signal: ctrl.signal, sink, options, env: fake.env, probe });
    expect(await waitFor(() => sink.samples.length >= 6, 20_000)).toBe(true);
    ctrl.abort();
    await s.stop();
    expect(s.command).toEqual([expect.stringMatching(/tegrastats$/), '--interval', '40']);
    expect(sink.samples.slice(0, 6).map((x) => x.powerW)).toEqual([4.711, 9.874, 15.312, 15.506, 4.711, 9.874]);
    expect(sink.samples[2]).toMatchObject({ utilizationPct: 99, smClockMHz: 918, memClockMHz: 3199, memoryUsedMiB: 3901 });
    for (let i = 1; i < sink.samples.length; i++) expect(sink.samples[i]!.tS).toBeGreaterThanOrEqual(sink.samples[i - 1]!.tS);
    expect(sink.restarts).toEqual([]);
  });

  it('a tegrastats that exits mid-run, after garbage and a cut line, gives a gap and a restart, never 0 W', async () => {
    // invocation 0 is the probe; 1 prints garbage, two lines and a truncated line, then dies; 2 runs normally
    const { fake, options } = await setup({ 1: { garbage: ['\u001b[?25l????', 'Segmentation fault (core dumped)?'], exitAfter: 2, truncated: 'RAM 3893/15656MB (lfb 2x4MB) GR3D_FREQ 46%@[918,0] VDD_IN 98', exitCode: 139 } });
    const probe = await tegrastats.probe({ env: fake.env, options });
    if (probe.state !== 'ok') throw new Error(probe.reason);
    const sink = recordingSink();
    const ctrl = new AbortController();
    const s = await tegrastats.start({ devices: probe.devices, intervalMs: 40, clock: createRunClock(), signal: ctrl.signal, sink, options, env: fake.env, probe });
    expect(await waitFor(() => sink.restarts.length >= 1 && sink.samples.filter((x) => x.powerW !== undefined).length >= 5, 20_000)).toBe(true);
    ctrl.abort();
    await s.stop();
    expect(sink.restarts[0]).toMatch(/exited \(code 139\)/);
    expect(sink.gaps.length).toBeGreaterThanOrEqual(1);
    expect(sink.gaps[0]!.endS).toBeGreaterThanOrEqual(sink.gaps[0]!.startS);
    expect(sink.notes.some((n) => n.includes('Segmentation fault'))).toBe(true);
    const powers = sink.samples.map((x) => x.powerW).filter((p) => p !== undefined);
    expect(powers.slice(0, 4)).toEqual([4.711, 9.874, 4.711, 9.874]); // run 1's two lines, then run 2 from the start
    expect(powers.every((p) => [4.711, 9.874, 15.312, 15.506].includes(p!))).toBe(true); // nothing from the cut line, no 0 W
  });

  it('a tegrastats that hangs is killed and restarted', async () => {
    const { fake, options } = await setup({ 1: { hangAfter: 1 } });
    const probe = await tegrastats.probe({ env: fake.env, options });
    if (probe.state !== 'ok') throw new Error(probe.reason);
    const sink = recordingSink();
    const ctrl = new AbortController();
    const s = await tegrastats.start({ devices: probe.devices, intervalMs: 40, clock: createRunClock(), signal: ctrl.signal, sink, options, env: fake.env, probe });
    // the watchdog waits max(5 s, 20 intervals) of silence before calling it hung
    expect(await waitFor(() => sink.restarts.length >= 1 && sink.samples.length >= 3, 30_000)).toBe(true);
    ctrl.abort();
    await s.stop();
    expect(sink.restarts[0]).toMatch(/hung/);
    const gap = sink.gaps[0]!;
    expect(gap.endS - gap.startS).toBeGreaterThan(4);
  }, 60_000);

  it('no tegrastats on PATH → not installed, with the remedy', async () => {
    const p = await tegrastats.probe({ env: { PATH: '/nonexistent' }, options: {} });
    expect(p).toMatchObject({ state: 'unavailable', code: 'not-installed' });
    if (p.state === 'unavailable') expect(p.reason).toMatch(/JetPack/);
  });

  it('a tegrastats without power rails → "no power sensor through this CLI"', async () => {
    const dir = (await setup()).fake.dir;
    const noRails = join(dir, 'norails.txt');
    await writeFile(noRails, 'RAM 2316/3964MB (lfb 4x4MB) SWAP 0/1982MB (cached 0MB) CPU [12%@1479] EMC_FREQ 0% GR3D_FREQ 0% GPU@39C\n');
    const fake = await makeFakeTool('tegrastats', { '--interval*': { file: noRails, mode: 'loop' } });
    const p = await tegrastats.probe({ env: fake.env, options: {} });
    expect(p).toEqual({ state: 'unavailable', code: 'no-power-field', reason: 'no power sensor through this CLI' });
  });
});
