// The nvml source against a fake libnvidia-ml built here with the machine's C compiler (tests/drivers/fake-nvml.c),
// so the real path runs: koffi → dlopen → the C calls → samples → the harness's counter integration.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nvml } from '../../drivers/nvml.js';
import type { ProbeResult } from '../../drivers/driver.js';
import type { Sample } from '../../results/samples.js';
import { createRunClock, sleepMs } from '../../lib/clock.js';
import { windowEnergy } from '../../harness/analyse.js';
import { integratePower } from '../../harness/energy.js';
import { findOnPath } from '../../lib/process.js';
import { readJson, resultFiles, runCli, tempDir } from '../helpers/cli.js';
import { validateResult } from '../../results/validate.js';

const SOURCE = fileURLToPath(new URL('./fake-nvml.c', import.meta.url));
const gcc = await findOnPath('gcc');
if (!gcc) console.log('note: gcc is not on PATH; the nvml tests against the fake libnvidia-ml are skipped');

let lib = '';
let work = '';
beforeAll(async () => {
  if (!gcc) return;
  work = await tempDir('wb-nvml-');
  lib = join(work, 'libnvidia-ml.so.1');
  await execa(gcc, ['-shared', '-fPIC', '-O2', '-Wall', '-Werror', '-o', lib, SOURCE]);
});

// the fake reads its configuration from the process environment at nvmlInit_v2
const FAKE_KEYS = ['FAKE_NVML_DEVICES', 'FAKE_NVML_POWER_W', 'FAKE_NVML_SQUARE', 'FAKE_NVML_UPDATE_MS', 'FAKE_NVML_INIT_RC', 'FAKE_NVML_ENERGY_RC', 'FAKE_NVML_CALL_LOG', 'FAKE_NVML_OFFSET_MJ'];
function fake(vars: Record<string, string>) { for (const k of FAKE_KEYS) delete process.env[k]; Object.assign(process.env, vars); }
afterEach(() => fake({}));

const probe = (options: Record<string, string> = { lib }) => nvml.probe({ env: process.env, options });
type Ok = Extract<ProbeResult, { state: 'ok' }>;

async function sampleFor(p: Ok, seconds: number, intervalMs = 25) {
  const clock = createRunClock();
  const samples: Sample[] = [];
  const notes: string[] = [];
  const ctrl = new AbortController();
  const t0 = clock.nowS();
  const sampler = await nvml.start({
    devices: p.devices, intervalMs, clock, signal: ctrl.signal, options: { lib }, env: process.env, probe: p,
    sink: { sample: (s) => samples.push(s), gap: () => {}, restarted: () => {}, note: (m) => notes.push(m) },
  });
  await sleepMs(seconds * 1000);
  const t1 = clock.nowS();
  ctrl.abort();
  await sampler.stop();
  return { samples, notes, t0, t1 };
}

describe.skipIf(!gcc)('nvml source (fake libnvidia-ml)', () => {
  it('says where the library is missing, with the fix', async () => {
    const r = await probe({ lib: join(work, 'no-such-libnvidia-ml.so.1') });
    expect(r.state).toBe('unavailable');
    if (r.state !== 'unavailable') return;
    expect(r.code).toBe('not-installed');
    expect(r.reason).toMatch(/cannot load .*no-such-libnvidia-ml\.so\.1.*--source-opt lib=/);
  });

  it('probes every GPU through the real calls: name, UUID, power limit, driver version, counter semantics', async () => {
    const log = join(work, 'calls-probe.log');
    fake({ FAKE_NVML_DEVICES: '2', FAKE_NVML_CALL_LOG: log });
    const r = await probe();
    expect(r.state, JSON.stringify(r)).toBe('ok');
    if (r.state !== 'ok') return;
    expect(r.devices).toEqual([
      { id: 'nvml:0', index: 0, vendor: 'NVIDIA', name: 'Fake H100 0', kind: 'accelerator', uuid: 'GPU-fa4e0000-0000-4000-8000-000000000000', powerLimitW: 700, driverVersion: '590.48.01' },
      { id: 'nvml:1', index: 1, vendor: 'NVIDIA', name: 'Fake H100 1', kind: 'accelerator', uuid: 'GPU-fa4e0000-0000-4000-8000-000000000001', powerLimitW: 700, driverVersion: '590.48.01' },
    ]);
    expect(r.semantics).toMatchObject({ kind: 'energy-counter', updatePeriodMs: 100, counterResolutionJ: 0.001, field: 'nvmlDeviceGetTotalEnergyConsumption' });
    expect(r.software).toMatchObject({ nvidiaDriver: '590.48.01', nvml: lib });
    // the probe leaves NVML as it found it
    expect((await readFile(log, 'utf8')).trim().split('\n')).toEqual(['nvmlInit_v2', 'nvmlShutdown']);
  });

  it('maps nvmlInit_v2 failures to the reason a user can act on', async () => {
    fake({ FAKE_NVML_INIT_RC: '4' });
    expect(await probe()).toMatchObject({ state: 'unavailable', code: 'permission-denied', reason: expect.stringMatching(/Insufficient Permissions/) });
    fake({ FAKE_NVML_INIT_RC: '9' });
    expect(await probe()).toMatchObject({ state: 'unavailable', code: 'not-installed', reason: expect.stringMatching(/Driver Not Loaded.*kernel driver/) });
    fake({ FAKE_NVML_DEVICES: '0' });
    expect(await probe()).toMatchObject({ state: 'unavailable', code: 'no-devices' });
  });

  it('falls back to integrating power on a GPU without an energy counter (before Volta)', async () => {
    fake({ FAKE_NVML_ENERGY_RC: '3', FAKE_NVML_POWER_W: '120' });
    const r = await probe();
    expect(r).toMatchObject({ state: 'ok', semantics: { kind: 'instantaneous', field: 'nvmlDeviceGetPowerUsage' } });
    const { samples, t0, t1 } = await sampleFor(r as Ok, 0.6);
    expect(samples.every((s) => s.energyJ === undefined && s.powerW === 120)).toBe(true);
    expect(windowEnergy((r as Ok).semantics, samples, t0, t1).energyJ).toBeCloseTo(120 * (t1 - t0), 1);
  });

  it('reads the counter at every poll and the power once per update, and shuts NVML down on stop', async () => {
    const log = join(work, 'calls-start.log');
    fake({ FAKE_NVML_DEVICES: '2', FAKE_NVML_POWER_W: '250,100', FAKE_NVML_CALL_LOG: log });
    const r = (await probe()) as Ok;
    const { samples, t0, t1 } = await sampleFor(r, 1.5);
    const dev0 = samples.filter((s) => s.deviceId === 'nvml:0');
    expect(dev0.length).toBeGreaterThan(30); // ~60 polls at 25 ms; a loaded machine may manage fewer
    expect(dev0.every((s) => s.energyJ! >= 123456.789)).toBe(true); // mJ since the (fake) driver loaded, in J
    const powers = dev0.filter((s) => s.powerW !== undefined);
    expect(powers.length).toBeLessThan(dev0.length / 2);
    expect(powers.every((s) => s.powerW === 250)).toBe(true);
    // the counter refreshes every 100 ms: most polls repeat the previous value
    const changes = dev0.filter((s, i) => i > 0 && s.energyJ !== dev0[i - 1]!.energyJ).length;
    expect(changes).toBeGreaterThan(8);
    expect(changes).toBeLessThan(dev0.length * 0.6);
    for (const [id, watts] of [['nvml:0', 250], ['nvml:1', 100]] as const) {
      const e = windowEnergy(r.semantics, samples.filter((s) => s.deviceId === id), t0 + 0.3, t1 - 0.3);
      expect(e.method).toBe('counter');
      expect(e.energyJ / (t1 - t0 - 0.6)).toBeGreaterThan(watts * 0.98);
      expect(e.energyJ / (t1 - t0 - 0.6)).toBeLessThan(watts * 1.02);
    }
    // probe: init + shutdown; the sampler: init at start, shutdown at stop
    expect((await readFile(log, 'utf8')).trim().split('\n')).toEqual(['nvmlInit_v2', 'nvmlShutdown', 'nvmlInit_v2', 'nvmlShutdown']);
  });

  it('the counter sees what the power reading misses: bursts locked to the update cycle', async () => {
    // 400 W for the first 50 ms of every 100 ms, 100 W after; every power reading lands on a 400 W instant
    fake({ FAKE_NVML_SQUARE: '100,400,100' });
    const r = (await probe()) as Ok;
    const { samples, t0, t1 } = await sampleFor(r, 1.5);
    const a = t0 + 0.3, b = t1 - 0.3;
    const counter = windowEnergy(r.semantics, samples, a, b).energyJ / (b - a);
    const fromPower = integratePower(samples.filter((s) => s.powerW !== undefined).map((s) => ({ tS: s.tS, powerW: s.powerW! })), a, b).energyJ / (b - a);
    expect(counter).toBeGreaterThan(250 * 0.97);
    expect(counter).toBeLessThan(250 * 1.03);
    expect(fromPower).toBeCloseTo(400, 0);
  });

  it('`wattbench sample --source nvml` returns the energy the fake GPUs drew', async () => {
    const r = await runCli(['sample', '--source', 'nvml', '--source-opt', `lib=${lib}`, '--duration', '2', '--json'], { env: { FAKE_NVML_DEVICES: '2', FAKE_NVML_POWER_W: '250,100' } });
    expect(r.exitCode, r.stderr).toBe(0);
    const { summary, samples } = JSON.parse(r.stdout);
    expect(summary.source).toBe('nvml');
    expect(summary.semantics.kind).toBe('energy-counter');
    expect(summary.devices.map((d: any) => d.method)).toEqual(['counter', 'counter']);
    const expected = 350 * summary.durationS;
    expect(summary.energyJ).toBeGreaterThan(expected * 0.97);
    expect(summary.energyJ).toBeLessThan(expected * 1.03);
    expect(summary.devices[0].energyJ / summary.devices[1].energyJ).toBeCloseTo(2.5, 1);
    expect(samples.length).toBeGreaterThan(40);
  });

  it('a run measured through it records grade A and the sensor model\'s bound', async () => {
    const script = join(work, 'window.mjs');
    await writeFile(script, `const emit = (e) => process.stdout.write(JSON.stringify(e) + '\\n');
      emit({ event: 'window_start' });
      setTimeout(() => { emit({ event: 'tokens', tokens: 5000 }); emit({ event: 'window_end' }); }, 1500);`);
    const out = join(work, 'runs');
    const r = await runCli(['run', '--source', 'nvml', '--source-opt', `lib=${lib}`, '--workload', 'command', '--set', `command=["${process.execPath}","${script}"]`,
      '--idle', '0.5', '--repetitions', '1', '--cooldown', '0.3', '--out', out, '--quiet'], { env: { FAKE_NVML_POWER_W: '300' } });
    expect(r.exitCode, r.stderr).toBe(0);
    const res = await readJson((await resultFiles(out))[0]!);
    expect(validateResult(res).ok).toBe(true);
    const rep = res.repetitions[0];
    expect(rep.devices[0].method).toBe('counter');
    expect(rep.figures.meanPowerW).toBeGreaterThan(300 * 0.97);
    expect(rep.figures.meanPowerW).toBeLessThan(300 * 1.03);
    expect(res.fidelity.grade).toBe('A');
    // edges only: ≤ (25 ms poll + 100 ms / 2) × Pmax over a 1.5 s window ≈ 5%
    expect(res.fidelity.energyErrorBoundPct).toBeGreaterThan(0.5);
    expect(res.fidelity.energyErrorBoundPct).toBeLessThan(8);
    expect(Math.abs(rep.figures.meanPowerW - 300) / 300 * 100).toBeLessThanOrEqual(res.fidelity.energyErrorBoundPct);
    expect(r.stdout).toMatch(/fidelity\s+A \(energy within ±\d+\.\d+%\)\s+counter over energy-counter readings/);
  });

  it('shows in `wattbench devices`: with the reason where the library is absent', async () => {
    const here = await nvml.probe({ env: process.env, options: {} }); // the real libnvidia-ml, if this machine has one
    const r = await runCli(['devices']);
    if (here.state === 'unavailable') expect(r.stdout).toMatch(/nvml\s+70\s+device\s+not installed\s+cannot load libnvidia-ml\.so\.1/);
    else expect(r.stdout).toMatch(/nvml\s+70\s+device\s+works/);
  });
});
