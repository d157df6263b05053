// Process-level tests of the vendor drivers: a fake nvidia-smi / amd-smi / rocm-smi / npu-smi (tests/fakes) is put
// first on PATH and replays a capture, so the real probe → spawn → parse → stop path runs — including the tool
// exiting mid-run, hanging, printing garbage or a truncated line. Each of those must give a recorded gap and a
// restart with backoff: never a crash, never a 0 W reading.
import { describe, it, expect, beforeAll } from 'vitest';
import { chmod, readFile, readdir } from 'node:fs/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Driver, GapReport, ProbeResult } from '../../drivers/driver.js';
import { nvidiaSmi, parseQueryCsv, rowObject, nvNumber } from '../../drivers/nvidia-smi.js';
import { amdSmi } from '../../drivers/amd-smi.js';
import { npuSmi } from '../../drivers/npu-smi.js';
import { createRunClock, sleepMs } from '../../lib/clock.js';
import type { Sample } from '../../results/samples.js';
import { FIXTURES, HAVE_FIXTURES, ROOT, tempDir } from '../helpers/cli.js';

const FAKES = join(ROOT, 'tests', 'fakes');
const OWN = join(ROOT, 'tests', 'fixtures');
const LOOP = join(OWN, 'nvidia', 'lms-loop__2gpu__csv.csv');
const H100 = join(FIXTURES, 'nvidia', 'yqg9651-cuda_test__h100-pcie-350w__lms-loop__fp16_half_maxpower.csv');

beforeAll(async () => {
  // a checkout may drop the executable bit
  for (const d of ['nvidia', 'amd', 'rocm', 'ascend']) for (const f of await readdir(join(FAKES, d))) await chmod(join(FAKES, d, f), 0o755);
});

const TWO_GPUS = JSON.stringify([
  { index: 0, name: 'NVIDIA H100 80GB HBM3', uuid: 'GPU-0a1b2c3d-0000-1111-2222-333344445555', 'pci.bus_id': '00000000:19:00.0', driver_version: '590.48.01', compute_cap: '9.0', 'memory.total': '81559', 'power.limit': '700.00', 'enforced.power.limit': '700.00', 'power.default_limit': '700.00', 'mig.mode.current': 'Disabled' },
  { index: 1, name: 'NVIDIA GeForce RTX 2080 SUPER', uuid: 'GPU-9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff', 'pci.bus_id': '00000000:65:00.0', driver_version: '590.48.01', compute_cap: '7.5', 'memory.total': '8192', 'power.limit': '250.00', 'enforced.power.limit': '250.00' },
]);

async function fakeEnv(tools: string[], vars: Record<string, string> = {}): Promise<{ env: NodeJS.ProcessEnv; state: string }> {
  const state = await tempDir('wb-fake-');
  const PATH = [...tools.map((t) => join(FAKES, t)), process.env.PATH ?? ''].join(':');
  return { env: { PATH, HOME: process.env.HOME ?? '/tmp', FAKE_STATE_DIR: state, ...vars }, state };
}

interface Collected { probe: Extract<ProbeResult, { state: 'ok' }>; samples: Sample[]; gaps: GapReport[]; restarts: string[]; notes: string[]; command?: string[] }

/**
 * Runs the driver for `ms`, then, when `until` is given, on until it holds (at most `untilMaxMs` more): each poll of
 * a fake tool is a fresh Node process, which on a loaded 2-core CI machine can take far longer than on a quiet one,
 * so a test that needs "a failure, then a reading" waits for that rather than for a fixed time.
 */
async function collect(driver: Driver, env: NodeJS.ProcessEnv, opts: { options?: Record<string, string>; intervalMs: number; ms: number; devices?: number[]; until?: (c: Collected) => boolean; untilMaxMs?: number }): Promise<Collected> {
  const options = opts.options ?? {};
  const probe = await driver.probe({ env, options });
  if (probe.state !== 'ok') throw new Error(`probe: ${probe.reason}`);
  const out: Collected = { probe, samples: [], gaps: [], restarts: [], notes: [] };
  const ctrl = new AbortController();
  const devices = opts.devices ? probe.devices.filter((d) => opts.devices!.includes(d.index!)) : probe.devices;
  const s = await driver.start({
    devices, intervalMs: opts.intervalMs, clock: createRunClock(), signal: ctrl.signal, options, env, probe,
    sink: { sample: (x) => out.samples.push(x), gap: (g) => out.gaps.push(g), restarted: (r) => out.restarts.push(r), note: (n) => out.notes.push(n) },
  });
  out.command = s.command;
  await sleepMs(opts.ms);
  if (opts.until) {
    const deadline = Date.now() + (opts.untilMaxMs ?? 20_000);
    while (!opts.until(out) && Date.now() < deadline) await sleepMs(50);
  }
  ctrl.abort();
  await s.stop();
  return out;
}

const argvLog = async (state: string, tool: string) => (await readFile(join(state, `${tool}.argv`), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as string[]);
const count = (c: Collected, id: string) => c.samples.filter((s) => s.deviceId === id).length;
const powers = (samples: Sample[], id: string) => samples.filter((s) => s.deviceId === id).map((s) => s.powerW);
/** The capture's power.draw.instant column for one GPU, in order. */
function capturePower(file: string, gpu?: number, from = 0): number[] {
  const csv = parseQueryCsv(readFileSync(file, 'utf8'));
  return csv.rows.map((r) => rowObject(csv, r)).filter((o) => gpu === undefined || Number(o.index) === gpu).slice(from).map((o) => nvNumber(o['power.draw.instant'])!);
}

/**
 * Timeouts for the injected hangs. Every poll of a fake tool is a fresh Node process, and on a loaded
 * 2-core CI machine one can take over a second to start; a shorter timeout turns a slow healthy poll into
 * a second, unplanned restart (CI saw "timed out" where the truncated-JSON poll was due).
 */
const POLL_TIMEOUT_MS = '3000';

function expectNoZeroAndOrdered(c: Collected) {
  expect(c.samples.filter((s) => s.powerW === 0)).toEqual([]);
  for (const id of new Set(c.samples.map((s) => s.deviceId))) {
    const ts = c.samples.filter((s) => s.deviceId === id).map((s) => s.tS);
    expect([...ts].sort((a, b) => a - b)).toEqual(ts);
  }
}

describe('nvidia-smi driver against a fake nvidia-smi', () => {
  it('probes two GPUs (static facts, instant field, source semantics) and replays the -lms log in order', async () => {
    const { env, state } = await fakeEnv(['nvidia'], { FAKE_NVSMI_CAPTURE: LOOP, FAKE_NVSMI_GPUS: TWO_GPUS });
    const c = await collect(nvidiaSmi, env, { intervalMs: 100, ms: 1500, until: (x) => count(x, 'nvidia-smi:0') >= 12 && count(x, 'nvidia-smi:1') >= 5 });
    expect(c.probe.devices.map((d) => [d.id, d.name, d.powerLimitW, d.memoryMiB, d.busId])).toEqual([
      ['nvidia-smi:0', 'NVIDIA H100 80GB HBM3', 700, 81559, '00000000:19:00.0'],
      ['nvidia-smi:1', 'NVIDIA GeForce RTX 2080 SUPER', 250, 8192, '00000000:65:00.0'],
    ]);
    expect(c.probe.semantics).toMatchObject({ kind: 'instantaneous', field: 'power.draw.instant', updatePeriodMs: 100 });
    expect(c.probe.software).toEqual({ 'nvidia-driver': '590.48.01' });
    const argv = (await argvLog(state, 'nvidia-smi')).find((a) => a.includes('-lms'))!;
    expect(argv).toEqual(expect.arrayContaining(['--format=csv,noheader,nounits', '-lms', '100', '-i', '0,1']));
    expect(argv[0]).toMatch(/^--query-gpu=timestamp,index,power\.draw\.instant,.*clocks_event_reasons\.active$/);
    const want0 = capturePower(LOOP, 0);
    const got0 = powers(c.samples, 'nvidia-smi:0');
    expect(got0.length).toBeGreaterThanOrEqual(8);
    expect(got0).toEqual(want0.concat(want0).slice(0, got0.length)); // the fake loops the 12-row log
    // GPU 1 printed [N/A] once: that row is no reading, the rest are there
    const got1 = powers(c.samples, 'nvidia-smi:1');
    const want1 = capturePower(LOOP, 1).filter((p) => p !== undefined);
    expect(got1.slice(0, 5)).toEqual(want1.slice(0, 5));
    expect(c.notes.some((n) => /no power\.draw\.instant value for GPU 1: no reading \(not 0 W\)/.test(n))).toBe(true);
    const capped = c.samples.find((s) => s.deviceId === 'nvidia-smi:0' && s.powerW === 695.43)!;
    expect(capped).toMatchObject({ throttleReasons: ['sw_power_cap'], smClockMHz: 1980, temperatureC: 49, utilizationPct: 100, memoryUsedMiB: 11125 });
    expect(c.samples.find((s) => s.powerW === 70.72)!.throttleReasons).toEqual([]); // idle is not throttling
    expect(c.gaps).toEqual([]);
    expect(c.restarts).toEqual([]);
    expectNoZeroAndOrdered(c);
  });

  it.skipIf(!HAVE_FIXTURES)('replays the real H100 PCIe -lms capture row by row at the requested interval', async () => {
    const { env } = await fakeEnv(['nvidia'], { FAKE_NVSMI_CAPTURE: H100, FAKE_NVSMI_START_ROW: '630' });
    const c = await collect(nvidiaSmi, env, { intervalMs: 50, ms: 1500, until: (x) => count(x, 'nvidia-smi:0') > 10 });
    const got = powers(c.samples, 'nvidia-smi:0');
    expect(got.length).toBeGreaterThan(10);
    expect(got).toEqual(capturePower(H100, undefined, 630).slice(0, got.length));
    expect(new Set(got).size).toBeGreaterThan(3); // the load step: 78 W → 458 W → 358 W → ...
    expect(c.samples[0]).toMatchObject({ smClockMHz: expect.any(Number), memClockMHz: 1593 });
    // stamps follow the requested 50 ms cadence
    const ts = c.samples.map((s) => s.tS);
    const d = ts.slice(1).map((t, i) => t - ts[i]!).sort((a, b) => a - b);
    expect(d[Math.floor(d.length / 2)]!).toBeGreaterThan(0.025);
    expect(d[Math.floor(d.length / 2)]!).toBeLessThan(0.2);
  });

  for (const [kind, re] of [['exit', /exited \(code 255\).*GPU is lost/], ['hang', /printed no reading for 3000 ms \(hung\)/], ['garbage', /printed no reading for 3000 ms \(hung\)/], ['truncate', /exited \(code 1\)/]] as const) {
    it(`the tool ${kind === 'exit' ? 'exiting mid-run' : kind === 'hang' ? 'hanging' : kind === 'garbage' ? 'printing garbage' : 'printing a truncated line'} gives a gap and a restart, then readings again`, async () => {
      const { env, state } = await fakeEnv(['nvidia'], { FAKE_NVSMI_CAPTURE: LOOP, FAKE_NVSMI_GPUS: TWO_GPUS, FAKE_FAULT: `${kind}-after:4`, FAKE_FAULT_CALLS: '1' });
      const c = await collect(nvidiaSmi, env, {
        intervalMs: 100, ms: 4000, options: { 'hang-timeout-ms': '3000' }, devices: [0],
        until: (x) => x.gaps.length > 0 && x.samples.filter((s) => s.tS >= x.gaps[0]!.endS - 1e-6).length >= 3,
      });
      expect(c.restarts.length, c.restarts.join('\n')).toBe(1);
      expect(c.restarts[0]).toMatch(re);
      expect(c.gaps).toHaveLength(1);
      const g = c.gaps[0]!;
      expect(g.endS).toBeGreaterThan(g.startS);
      if (kind === 'hang' || kind === 'garbage') expect(g.endS - g.startS).toBeGreaterThan(2.9);
      const got = powers(c.samples, 'nvidia-smi:0');
      const want = capturePower(LOOP, 0);
      // the first run's four rows, then the restarted tool from its first row again
      expect(got.slice(0, 4)).toEqual(want.slice(0, 4));
      expect(got.slice(4, 7)).toEqual(want.slice(0, 3));
      expect(c.samples.slice(4).every((s) => s.tS >= g.endS - 1e-6)).toBe(true);
      expect(c.samples.slice(0, 4).every((s) => s.tS <= g.startS + 1e-6)).toBe(true);
      if (kind === 'garbage' || kind === 'truncate') expect(c.notes.some((n) => /ignored unparseable output/.test(n))).toBe(true);
      expect((await argvLog(state, 'nvidia-smi')).filter((a) => a.includes('-lms'))).toHaveLength(2);
      expectNoZeroAndOrdered(c);
    });
  }

  it('a tool that keeps failing is restarted with growing backoff, never crashes and never reports 0 W', async () => {
    const { env, state } = await fakeEnv(['nvidia'], { FAKE_NVSMI_CAPTURE: LOOP, FAKE_NVSMI_GPUS: TWO_GPUS, FAKE_FAULT: 'exit-after:0', FAKE_FAULT_CALLS: '1-1000' });
    // a start of the fake is a fresh Node process, a second or more on a loaded 2-core CI machine: wait on for the
    // second restart rather than count on it within the 4 s (waiting on only happens when there were fewer than two,
    // so the upper bound below still judges 4 s of restarting)
    const c = await collect(nvidiaSmi, env, { intervalMs: 100, ms: 4000, until: (x) => x.restarts.length >= 2 });
    expect(c.samples).toEqual([]);
    // 250 + 500 + 1000 + 2000 ms of backoff fit in 4 s: a handful of restarts, not hundreds
    expect(c.restarts.length).toBeGreaterThanOrEqual(2);
    expect(c.restarts.length).toBeLessThanOrEqual(6);
    const starts = (await argvLog(state, 'nvidia-smi')).filter((a) => a.includes('-lms')).length;
    // a restart is reported just before the new process starts, so a stop in between leaves one fewer start;
    // with a fixed 250 ms pause instead of backoff it would be ~16 starts
    expect(starts).toBeGreaterThanOrEqual(c.restarts.length);
    expect(starts).toBeLessThanOrEqual(c.restarts.length + 1);
    expect(c.gaps.length).toBeGreaterThanOrEqual(c.restarts.length);
  });

  it('probe: an older driver without power.draw.instant/compute_cap falls back to power.draw and learns the architecture from -q -x', async () => {
    const gpus = JSON.stringify([{ index: 0, name: 'NVIDIA GeForce RTX 3090', 'pci.bus_id': '00000000:01:00.0', driver_version: '515.65.01', 'power.draw': '35.06', 'power.limit': '350.00' }]);
    const { env } = await fakeEnv(['nvidia'], { FAKE_NVSMI_GPUS: gpus, FAKE_NVSMI_INVALID: 'power.draw.instant,power.draw.average,compute_cap,clocks_event_reasons.active', FAKE_NVSMI_XML: join(OWN, 'nvidia', 'query-x__2gpu.xml') });
    const p = await nvidiaSmi.probe({ env, options: {} });
    expect(p.state).toBe('ok');
    if (p.state !== 'ok') return;
    // Ampere (from the XML): power.draw is a 1 s average
    expect(p.semantics).toMatchObject({ kind: 'windowed-average', averagingWindowMs: 1000, field: 'power.draw' });
    expect((p.private as { reasonField?: string }).reasonField).toBe('clocks_throttle_reasons.active');
    // no XML report (some builds): the text report tells the architecture instead (the name says nothing) — Hopper averages
    const h100 = JSON.stringify([{ index: 0, name: 'Graphics Device', 'pci.bus_id': '00000000:19:00.0', 'power.draw': '433.78' }]);
    const { env: env2 } = await fakeEnv(['nvidia'], { FAKE_NVSMI_GPUS: h100, FAKE_NVSMI_INVALID: 'power.draw.instant,compute_cap', FAKE_NVSMI_TEXT: join(OWN, 'nvidia', 'query__1gpu.txt') });
    const t = await nvidiaSmi.probe({ env: env2, options: {} });
    expect(t.state === 'ok' && t.semantics).toMatchObject({ kind: 'windowed-average', field: 'power.draw', dutyCyclePct: 25 });
    expect(t.state === 'ok' && t.semantics.note).toMatch(/1 s average on Ampere and newer/);
  });

  it('probe: why it does not work — not installed, driver not loaded, no power sensor (never 0 W), MIG slices listed', async () => {
    const none = await nvidiaSmi.probe({ env: { PATH: '/nonexistent' }, options: {} });
    expect(none).toMatchObject({ state: 'unavailable', code: 'not-installed' });
    expect((none as { reason: string }).reason).toMatch(/not on PATH/);
    // an explicit path wins over PATH (which here has node, for the fake's #!, but no nvidia-smi)
    const viaPath = await nvidiaSmi.probe({ env: { PATH: process.env.PATH, FAKE_NVSMI_CAPTURE: LOOP }, options: { path: join(FAKES, 'nvidia', 'nvidia-smi') } });
    expect(viaPath.state).toBe('ok');
    const { env } = await fakeEnv(['nvidia'], { FAKE_NVSMI_FAIL: 'NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.' });
    const broken = await nvidiaSmi.probe({ env, options: {} });
    expect(broken).toMatchObject({ state: 'unavailable', code: 'error' });
    expect((broken as { reason: string }).reason).toMatch(/cannot talk to the driver/);
    const noPower = JSON.stringify([{ index: 0, name: 'NVIDIA GeForce GT 710', 'power.draw': '[Not Supported]', 'power.draw.instant': '[N/A]', 'power.draw.average': '[N/A]' }]);
    const { env: env2 } = await fakeEnv(['nvidia'], { FAKE_NVSMI_GPUS: noPower });
    const np = await nvidiaSmi.probe({ env: env2, options: {} });
    expect(np).toMatchObject({ state: 'unavailable', code: 'no-power-field' });
    expect((np as { reason: string }).reason).toMatch(/no power sensor through this CLI.*GT 710.*power\.draw=\[Not Supported\]/);
    const mig = JSON.stringify([{ index: 0, name: 'NVIDIA H100 80GB HBM3', 'mig.mode.current': 'Enabled', 'power.draw.instant': '447.35', mig: [{ profile: '3g.40gb', device: 0, uuid: 'MIG-1' }, { profile: '1g.10gb', device: 1, uuid: 'MIG-2' }] }]);
    const { env: env3 } = await fakeEnv(['nvidia'], { FAKE_NVSMI_GPUS: mig });
    const m = await nvidiaSmi.probe({ env: env3, options: {} });
    expect(m.state === 'ok' && m.devices[0]!.partition).toBe('MIG: 3g.40gb, 1g.10gb');
    expect(m.state === 'ok' && m.note).toMatch(/MIG: power is measured per physical GPU/);
  });
});

const AMD = join(OWN, 'amd');
const amdFrames = (tag: string) => [1, 2, 3].map((k) => join(AMD, `amd-smi_metric-p-E-t-u-m--json__MI300X-2x-CPX__${tag}__frame${k}.json`)).join(':');
const cpxEnergy = (tag: string, frame: number, gpu: number) => (JSON.parse(readFileSync(join(AMD, `amd-smi_metric-p-E-t-u-m--json__MI300X-2x-CPX__${tag}__frame${frame}.json`), 'utf8')).gpu_data[gpu].energy.total_energy_consumption.value as number);

describe('amd-smi driver against fake amd-smi / rocm-smi', () => {
  for (const tag of ['na-secondaries', 'mirrored']) {
    it(`MI300X CPX (${tag}): reads each used socket once, from its first partition, as an energy counter`, async () => {
      const { env, state } = await fakeEnv(['amd'], { FAKE_AMD_STATIC: join(AMD, 'amd-smi_static--json__MI300X-2x-CPX.json'), FAKE_AMD_METRIC_FRAMES: amdFrames(tag) });
      const c = await collect(amdSmi, env, { intervalMs: 250, ms: 1400, devices: [3, 5, 9], until: (x) => count(x, 'amd-smi:3') >= 2 && count(x, 'amd-smi:9') >= 1 });
      expect(c.probe.devices).toHaveLength(16);
      expect(c.probe.semantics).toMatchObject({ kind: 'energy-counter', field: 'energy.total_energy_consumption' });
      expect(c.probe.devices[3]!.partition).toMatch(/CPX\/NPS1 partition; power read on GPU 0/);
      expect(new Set(c.samples.map((s) => s.deviceId))).toEqual(new Set(['amd-smi:3', 'amd-smi:9']));
      const s3 = c.samples.filter((s) => s.deviceId === 'amd-smi:3');
      // frame 1 went to the probe; polls print frames 2, 3, 3, ...
      expect(s3.slice(0, 2).map((s) => s.energyJ)).toEqual([cpxEnergy(tag, 2, 0), cpxEnergy(tag, 3, 0)]);
      expect(s3.slice(0, 2).map((s) => s.powerW)).toEqual([611, 598]);
      expect(c.samples.filter((s) => s.deviceId === 'amd-smi:9')[0]).toMatchObject({ energyJ: cpxEnergy(tag, 2, 8), powerW: 377, temperatureC: 50, utilizationPct: 97, memoryUsedMiB: 17022 });
      const polls = (await argvLog(state, 'amd-smi')).filter((a) => a[0] === 'metric' && a.includes('-g'));
      expect(polls[polls.length - 1]).toEqual(['metric', '-p', '-E', '-t', '-c', '-u', '-m', '--json', '-g', '0', '8']);
      expectNoZeroAndOrdered(c);
    });
  }

  it('MI250X: a workload on the secondary die is charged the card, read on die 0; the die itself never reads 0 W', async () => {
    const frames = [1, 2, 3].map((k) => join(AMD, `amd-smi_metric-p-E--json__MI250X-1card__frame${k}.json`)).join(':');
    const { env } = await fakeEnv(['amd'], { FAKE_AMD_STATIC: join(AMD, 'amd-smi_static--json__MI250X-1card.json'), FAKE_AMD_METRIC_FRAMES: frames });
    const c = await collect(amdSmi, env, { intervalMs: 250, ms: 900, devices: [1], until: (x) => x.samples.length >= 2 });
    expect(c.samples.length).toBeGreaterThanOrEqual(2);
    expect(c.samples.every((s) => s.deviceId === 'amd-smi:1')).toBe(true);
    expect(c.samples.slice(0, 2).map((s) => [s.powerW, s.energyJ])).toEqual([[301, 963126.4418], [318, 963444.2001]]);
    expect(c.probe.devices[1]!.partition).toBe('power read on GPU 0');
  });

  it('falls back to rocm-smi (an older one without partition flags) when amd-smi fails; secondary die as above', async () => {
    const frames = [1, 2, 3].map((k) => join(AMD, `rocm-smi_showpower-showenergycounter--json__MI250X-1card__frame${k}.json`)).join(':');
    const { env, state } = await fakeEnv(['amd', 'rocm'], { FAKE_AMD_FAIL: 'ERROR:root:Unable to detect any GPU devices, check amdgpu version and module status (sudo modprobe amdgpu)', FAKE_ROCM_OLD: '1', FAKE_ROCM_STATIC: join(AMD, 'rocm-smi_static--json__MI250X-1card.json'), FAKE_ROCM_METRIC_FRAMES: frames });
    const c = await collect(amdSmi, env, { intervalMs: 250, ms: 900, until: (x) => x.samples.length >= 1 });
    expect(c.probe.note).toMatch(/rocm-smi used/);
    expect(c.probe.semantics).toMatchObject({ kind: 'energy-counter', field: 'Accumulated Energy (uJ)' });
    expect(c.probe.software).toMatchObject({ 'amdgpu-driver': '6.2.4' });
    expect(c.samples.every((s) => s.deviceId === 'amd-smi:0')).toBe(true);
    expect(c.samples[0]!.energyJ).toBeCloseTo(963126.44181202, 6);
    expect(c.samples[0]).toMatchObject({ powerW: 301, smClockMHz: 1700, utilizationPct: 96 });
    const argv = await argvLog(state, 'rocm-smi');
    expect(argv.filter((a) => a.includes('--showproductname'))).toHaveLength(2); // retried without the partition flags
    expect(argv[argv.length - 1]).toEqual(expect.arrayContaining(['--showpower', '--showenergycounter', '--json', '-d', '0']));
  });

  for (const kind of ['fail', 'hang', 'garbage', 'truncate']) {
    it(`a poll that ${kind === 'fail' ? 'fails' : kind === 'hang' ? 'hangs' : kind === 'garbage' ? 'prints garbage' : 'prints truncated JSON'} is a gap and a restart, then readings resume`, async () => {
      const { env } = await fakeEnv(['amd'], { FAKE_AMD_STATIC: join(AMD, 'amd-smi_static--json__MI300X-2x-CPX.json'), FAKE_AMD_METRIC_FRAMES: amdFrames('na-secondaries'), FAKE_FAULT: kind, FAKE_FAULT_CALLS: '2' });
      const c = await collect(amdSmi, env, {
        intervalMs: 250, ms: 2200, devices: [0], options: { 'poll-timeout-ms': POLL_TIMEOUT_MS },
        until: (x) => x.gaps.length > 0 && x.samples.some((s) => s.tS >= x.gaps[0]!.startS),
      });
      expect(c.restarts).toHaveLength(1);
      expect(c.restarts[0]).toMatch(kind === 'fail' ? /exited \(code 1\)/ : kind === 'hang' ? /timed out/ : /printed no reading/);
      expect(c.gaps).toHaveLength(1);
      expect(c.samples.length).toBeGreaterThanOrEqual(1);
      expect(c.samples[0]!.energyJ).toBe(cpxEnergy('na-secondaries', 3, 0)); // call 2 was lost, call 3 read frame 3
      expect(c.samples[0]!.tS).toBeGreaterThanOrEqual(c.gaps[0]!.startS);
      expectNoZeroAndOrdered(c);
    });
  }

  it('reports no power field when every GPU prints N/A (never 0 W)', async () => {
    const { env } = await fakeEnv(['amd'], { FAKE_AMD_STATIC: join(AMD, 'amd-smi_static--json__MI250X-1card.json') });
    // make GPU 0 N/A too: a one-off frame
    const dir = await tempDir();
    const f = join(dir, 'na.json');
    const doc = JSON.parse(readFileSync(join(AMD, 'amd-smi_metric-p-E--json__MI250X-1card__frame1.json'), 'utf8'));
    doc[0].power.average_socket_power = 'N/A';
    doc[0].energy.total_energy_consumption = 'N/A';
    writeFileSync(f, JSON.stringify(doc));
    const p = await amdSmi.probe({ env: { ...env, FAKE_AMD_METRIC_FRAMES: f }, options: {} });
    expect(p).toMatchObject({ state: 'unavailable', code: 'no-power-field' });
    expect((p as { reason: string }).reason).toMatch(/no power sensor through this CLI/);
    const none = await amdSmi.probe({ env: { PATH: '/nonexistent' }, options: {} });
    expect(none).toMatchObject({ state: 'unavailable', code: 'not-installed' });
  });
});

const ASC = join(OWN, 'ascend');
const a3Frames = [1, 2, 3].map((k) => join(ASC, `npu-smi-info__AtlasA3-2cards__frame${k}.txt`)).join(':');

describe('npu-smi driver against a fake npu-smi', () => {
  it('Atlas A3: one reading per card from chip 0, recorded under the die the workload uses; `-` never becomes 0 W', async () => {
    const { env, state } = await fakeEnv(['ascend'], { FAKE_NPU_FRAMES: a3Frames, FAKE_NPU_MAP: join(ASC, 'npu-smi-info-m__AtlasA3-2cards.txt') });
    const c = await collect(npuSmi, env, { intervalMs: 250, ms: 1200, devices: [1, 2], until: (x) => count(x, 'npu-smi:1') >= 2 && count(x, 'npu-smi:2') >= 2 });
    expect(c.probe.devices.map((d) => [d.id, d.name, d.busId, d.memoryMiB])).toEqual([
      ['npu-smi:0', 'Ascend910', '0000:9D:00.0', 65536], ['npu-smi:1', 'Ascend910', '0000:9F:00.0', 65536],
      ['npu-smi:2', 'Ascend910', '0000:99:00.0', 65536], ['npu-smi:3', 'Ascend910', '0000:9B:00.0', 65536],
    ]);
    expect(c.probe.devices[1]!.partition).toBe('NPU 0 chip 1 (card power read on chip 0)');
    expect(c.probe.software).toEqual({ 'npu-smi': '24.1.rc3.3' });
    expect(new Set(c.samples.map((s) => s.deviceId))).toEqual(new Set(['npu-smi:1', 'npu-smi:2']));
    expect(powers(c.samples, 'npu-smi:1').slice(0, 2)).toEqual([352.4, 389.9]);
    expect(powers(c.samples, 'npu-smi:2').slice(0, 2)).toEqual([171, 402.6]);
    expect(c.samples.find((s) => s.deviceId === 'npu-smi:1')).toMatchObject({ temperatureC: 44, utilizationPct: 96, memoryUsedMiB: 48122 });
    expect((await argvLog(state, 'npu-smi')).filter((a) => a.length === 1)).not.toHaveLength(0);
    expectNoZeroAndOrdered(c);
  });

  it('query=power polls `npu-smi info -t power -i N -c C` per card', async () => {
    const { env, state } = await fakeEnv(['ascend'], { FAKE_NPU_FRAMES: a3Frames, FAKE_NPU_POWER_FRAMES: join(ASC, 'npu-smi-info-t-power-i-3__910B3.txt') });
    const c = await collect(npuSmi, env, { intervalMs: 250, ms: 900, devices: [0], options: { query: 'power' }, until: (x) => x.samples.length >= 2 });
    expect(c.samples.length).toBeGreaterThanOrEqual(2);
    expect(c.samples.every((s) => s.powerW === 108.7 && s.deviceId === 'npu-smi:0')).toBe(true);
    expect((await argvLog(state, 'npu-smi')).some((a) => a.join(' ') === 'info -t power -i 0 -c 0')).toBe(true);
  });

  for (const kind of ['fail', 'garbage', 'truncate', 'hang']) {
    it(`a poll that ${kind === 'fail' ? 'fails' : kind === 'hang' ? 'hangs' : kind === 'garbage' ? 'prints garbage' : 'prints half a table'} is a gap and a restart, never 0 W`, async () => {
      const { env } = await fakeEnv(['ascend'], { FAKE_NPU_FRAMES: a3Frames, FAKE_FAULT: kind, FAKE_FAULT_CALLS: '2' });
      const c = await collect(npuSmi, env, {
        intervalMs: 250, ms: 2000, devices: [0], options: { 'poll-timeout-ms': POLL_TIMEOUT_MS },
        until: (x) => x.samples.length > 0 && (x.gaps.length === 0 || x.samples.some((s) => s.tS >= x.gaps[0]!.startS)),
      });
      // half a table may still hold card 0's rows: then the poll is a reading and nothing was lost
      if (kind === 'truncate' && c.restarts.length === 0) { expect(powers(c.samples, 'npu-smi:0')[0]).toBe(352.4); return; }
      expect(c.restarts).toHaveLength(1);
      expect(c.gaps).toHaveLength(1);
      expect(powers(c.samples, 'npu-smi:0')[0]).toBe(389.9); // call 2 lost; call 3 is frame 3
      expectNoZeroAndOrdered(c);
    });
  }

  it('without npu-smi: not installed; a table with no power at all: no power field', async () => {
    expect(await npuSmi.probe({ env: { PATH: '/nonexistent' }, options: {} })).toMatchObject({ state: 'unavailable', code: 'not-installed' });
    const dir = await tempDir();
    const f = join(dir, 'nopower.txt');
    writeFileSync(f, readFileSync(join(ASC, 'npu-smi-info__AtlasA3-2cards__frame1.txt'), 'utf8').replace('| 161.8       ', '| -           ').replace('| 167.2       ', '| -           '));
    const { env } = await fakeEnv(['ascend'], { FAKE_NPU_FRAMES: f });
    const p = await npuSmi.probe({ env, options: {} });
    expect(p).toMatchObject({ state: 'unavailable', code: 'no-power-field' });
    expect((p as { reason: string }).reason).toMatch(/no power sensor through this CLI/);
  });
});
