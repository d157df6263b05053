// The vendor drivers through the real CLI: `wattbench sample --source nvidia-smi --json` returns the replayed power
// values in order, and `wattbench devices` / `wattbench run` pick a vendor driver by themselves when its fake CLI
// is first on PATH.
import { describe, it, expect, beforeAll } from 'vitest';
import { chmod, readdir, readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseQueryCsv, rowObject, nvNumber } from '../../drivers/nvidia-smi.js';
import { validateResult } from '../../results/validate.js';
import { FIXTURES, HAVE_FIXTURES, ROOT, runCli, tempDir, resultFiles, readJson, writeScript } from '../helpers/cli.js';

const FAKES = join(ROOT, 'tests', 'fakes');
const OWN = join(ROOT, 'tests', 'fixtures');
const LOOP = join(OWN, 'nvidia', 'lms-loop__2gpu__csv.csv');
const H100 = join(FIXTURES, 'nvidia', 'yqg9651-cuda_test__h100-pcie-350w__lms-loop__fp16_half_maxpower.csv');
const ONE_GPU = JSON.stringify([{ index: 0, name: 'NVIDIA H100 PCIe', uuid: 'GPU-11111111-2222-3333-4444-555555555555', 'pci.bus_id': '00000000:17:00.0', driver_version: '535.104.05', compute_cap: '9.0', 'memory.total': '81559', 'power.limit': '350.00', 'enforced.power.limit': '350.00' }]);

beforeAll(async () => {
  for (const d of ['nvidia', 'amd', 'rocm', 'ascend']) for (const f of await readdir(join(FAKES, d))) await chmod(join(FAKES, d, f), 0o755);
});

async function env(tools: string[], vars: Record<string, string>): Promise<Record<string, string>> {
  return { PATH: [...tools.map((t) => join(FAKES, t)), process.env.PATH ?? ''].join(':'), FAKE_STATE_DIR: await tempDir('wb-fake-'), ...vars };
}

function capture(file: string, from = 0, gpu?: number): number[] {
  const csv = parseQueryCsv(readFileSync(file, 'utf8'));
  return csv.rows.map((r) => rowObject(csv, r)).filter((o) => gpu === undefined || Number(o.index) === gpu).slice(from).map((o) => nvNumber(o['power.draw.instant'])!);
}

describe('wattbench sample --source nvidia-smi', () => {
  it.skipIf(!HAVE_FIXTURES)('returns the replayed H100 power values in order (3 s, --json)', async () => {
    const e = await env(['nvidia'], { FAKE_NVSMI_CAPTURE: H100, FAKE_NVSMI_START_ROW: '630', FAKE_NVSMI_GPUS: ONE_GPU });
    const r = await runCli(['sample', '--source', 'nvidia-smi', '--duration', '3', '--json'], { env: e });
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const got = out.samples.map((s: { powerW: number }) => s.powerW);
    expect(got.length).toBeGreaterThan(15); // 100 ms for 3 s, less start-up
    expect(got).toEqual(capture(H100, 630).slice(0, got.length));
    expect(out.summary).toMatchObject({ source: 'nvidia-smi', scope: 'device', semantics: { kind: 'instantaneous', field: 'power.draw.instant' }, restarts: 0, gaps: [] });
    expect(out.summary.devices[0].samples).toBe(got.length);
    expect(out.summary.meanPowerW).toBeGreaterThan(Math.min(...got));
    expect(out.summary.meanPowerW).toBeLessThan(Math.max(...got));
  });

  it('returns our own 2-GPU log in order, per GPU, with no reading where the tool printed [N/A]', async () => {
    const e = await env(['nvidia'], { FAKE_NVSMI_CAPTURE: LOOP });
    e.FAKE_NVSMI_GPUS = JSON.stringify([{ index: 0, name: 'NVIDIA H100 80GB HBM3', compute_cap: '9.0' }, { index: 1, name: 'NVIDIA GeForce RTX 2080 SUPER', compute_cap: '7.5' }]);
    const r = await runCli(['sample', '--source', 'nvidia-smi', '--duration', '3', '--json'], { env: e });
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const of = (id: string) => out.samples.filter((s: { deviceId: string }) => s.deviceId === id).map((s: { powerW: number }) => s.powerW);
    const g0 = of('nvidia-smi:0');
    const want0 = capture(LOOP, 0, 0);
    expect(g0.length).toBeGreaterThan(12);
    expect(g0).toEqual([...want0, ...want0, ...want0].slice(0, g0.length));
    const want1 = capture(LOOP, 0, 1);
    expect(of('nvidia-smi:1').slice(0, 3)).toEqual(want1.slice(0, 3));
    expect(of('nvidia-smi:1')[3]).toBe(want1[4]); // the [N/A] row is skipped, not 0 W
    expect(out.samples.every((s: { powerW: number }) => s.powerW > 0)).toBe(true);
    expect(r.stderr).toMatch(/no power\.draw\.instant value for GPU 1: no reading \(not 0 W\)/);
  });
});

describe('wattbench devices', () => {
  it('finds the fake nvidia-smi by itself, lists the GPU and says why every other source does not work', async () => {
    const e = await env(['nvidia'], { FAKE_NVSMI_CAPTURE: LOOP, FAKE_NVSMI_GPUS: ONE_GPU });
    const r = await runCli(['devices'], { env: e });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/nvidia-smi\s+0\s+NVIDIA H100 PCIe\s+81559 MiB\s+350 W\s+00000000:17:00\.0/);
    expect(r.stdout).toMatch(/nvidia-smi\s+50\s+device\s+works\s+1 device, instantaneous \(power\.draw\.instant\).*← used by default/);
    expect(r.stdout).toMatch(/amd-smi\s+60\s+device\s+not installed\s+neither amd-smi nor rocm-smi is on PATH/);
    expect(r.stdout).toMatch(/npu-smi\s+50\s+device\s+not installed/);
    const j = await runCli(['devices', '--json'], { env: e });
    const doc = JSON.parse(j.stdout);
    expect(doc.chosen).toBe('nvidia-smi');
    expect(doc.accelerators).toEqual([expect.objectContaining({ source: 'nvidia-smi', id: 'nvidia-smi:0', name: 'NVIDIA H100 PCIe', powerLimitW: 350 })]);
    // every registered driver appears, each with a state
    const ids = doc.sources.map((s: { id: string }) => s.id);
    for (const id of ['nvidia-smi', 'amd-smi', 'npu-smi', 'rapl', 'estimate', 'replay']) expect(ids).toContain(id);
    expect(doc.sources.every((s: { state: string; reason?: string }) => s.state === 'ok' || (s.reason ?? '').length > 5)).toBe(true);
  });

  it('a CLI without a power reading says "no power sensor through this CLI", never 0 W; SOURCE.KEY options reach one source', async () => {
    const e = await env(['ascend'], { FAKE_NPU_FRAMES: join(OWN, 'ascend', 'npu-smi-info__AtlasA3-2cards__frame1.txt') });
    const nvidiaNoPower = JSON.stringify([{ index: 0, name: 'NVIDIA GeForce GT 710', 'power.draw': '[Not Supported]' }]);
    const r = await runCli(['devices', '--json', '--source-opt', `nvidia-smi.path=${join(FAKES, 'nvidia', 'nvidia-smi')}`], { env: { ...e, FAKE_NVSMI_GPUS: nvidiaNoPower } });
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    const nv = doc.sources.find((s: { id: string }) => s.id === 'nvidia-smi');
    expect(nv).toMatchObject({ state: 'unavailable', code: 'no-power-field', label: 'no power field' });
    expect(nv.reason).toMatch(/no power sensor through this CLI/);
    expect(nv.reason).not.toMatch(/\b0 W\b/);
    expect(doc.chosen).toBe('npu-smi');
    expect(doc.accelerators.map((d: { id: string }) => d.id)).toEqual(['npu-smi:0', 'npu-smi:1', 'npu-smi:2', 'npu-smi:3']);
    const text = await runCli(['devices', '--source-opt', `nvidia-smi.path=${join(FAKES, 'nvidia', 'nvidia-smi')}`], { env: { ...e, FAKE_NVSMI_GPUS: nvidiaNoPower } });
    expect(text.stdout).toMatch(/nvidia-smi\s+50\s+device\s+no power field\s+no power sensor through this CLI: GPU 0 \(NVIDIA GeForce GT 710\)/);
  });
});

describe('wattbench run picks the vendor driver by itself', () => {
  const short = (out: string) => ['run', '--idle', '0', '--repetitions', '1', '--set', 'durationS=1', '--cooldown', '0', '--out', out, '--progress', 'plain'];

  it('nvidia-smi: the result records the source, its command, semantics and devices, and validates', async () => {
    const out = join(await tempDir(), 'nv');
    const e = await env(['nvidia'], { FAKE_NVSMI_CAPTURE: LOOP, FAKE_NVSMI_GPUS: ONE_GPU });
    const r = await runCli(short(out), { env: e });
    expect(r.exitCode, r.stderr).toBe(0);
    const [file] = await resultFiles(out);
    const res = await readJson(file!);
    expect(validateResult(res).ok).toBe(true);
    expect(res.sources[0]).toMatchObject({ id: 'nvidia-smi', state: 'used', scope: 'device', semantics: { kind: 'instantaneous', field: 'power.draw.instant' }, deviceIds: ['nvidia-smi:0'] });
    expect(res.sources[0].command.join(' ')).toMatch(/nvidia-smi --query-gpu=timestamp,index,power\.draw\.instant,.* --format=csv,noheader,nounits -lms 100 -i 0/);
    expect(res.sources[0].sampleCount).toBeGreaterThan(5);
    expect(res.devices[0]).toMatchObject({ id: 'nvidia-smi:0', name: 'NVIDIA H100 PCIe', vendor: 'NVIDIA', powerLimitW: 350 });
    expect(res.software['nvidia-driver']).toBe('535.104.05');
    const rep = res.repetitions[0];
    expect(rep.status).toBe('ok');
    expect(rep.figures.energyJ).toBeGreaterThan(0);
    expect(res.sources.find((s: { id: string }) => s.id === 'estimate')).toMatchObject({ state: 'available' });
  });

  it('--devices 1 samples only GPU 1 (-i 1) and sets CUDA_VISIBLE_DEVICES=1 for the workload', async () => {
    const dir = await tempDir();
    const out = join(dir, 'sel');
    const seen = join(dir, 'visible.txt');
    const script = await writeScript(dir, 'visible.mjs', `
      import { writeFileSync } from 'node:fs';
      writeFileSync(${JSON.stringify(seen)}, String(process.env.CUDA_VISIBLE_DEVICES));
      const emit = (e) => console.log(JSON.stringify(e));
      emit({ event: 'window_start' });
      await new Promise((r) => setTimeout(r, 1000));
      emit({ event: 'tokens', tokens: 500 });
      emit({ event: 'window_end' });
    `);
    const e = await env(['nvidia'], { FAKE_NVSMI_CAPTURE: LOOP });
    e.FAKE_NVSMI_GPUS = JSON.stringify([{ index: 0, name: 'NVIDIA H100 80GB HBM3', compute_cap: '9.0' }, { index: 1, name: 'NVIDIA GeForce RTX 2080 SUPER', compute_cap: '7.5' }]);
    const r = await runCli(['run', '--workload', 'command', '--set', `command=["${process.execPath}","${script}"]`, '--devices', '1', '--idle', '0', '--repetitions', '1', '--cooldown', '0', '--out', out, '--quiet'], { env: e });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await readFile(seen, 'utf8')).toBe('1');
    const res = await readJson((await resultFiles(out))[0]!);
    expect(res.sources[0].deviceIds).toEqual(['nvidia-smi:1']);
    expect(res.sources[0].command.slice(-2)).toEqual(['-i', '1']);
    expect(res.repetitions[0].devices.map((d: { deviceId: string }) => d.deviceId)).toEqual(['nvidia-smi:1']);
  });

  it('npu-smi (Atlas A3): chosen by itself, one series per used card', async () => {
    const out = join(await tempDir(), 'npu');
    const frames = [1, 2, 3].map((k) => join(OWN, 'ascend', `npu-smi-info__AtlasA3-2cards__frame${k}.txt`)).join(':');
    const e = await env(['ascend'], { FAKE_NPU_FRAMES: frames, FAKE_NPU_MAP: join(OWN, 'ascend', 'npu-smi-info-m__AtlasA3-2cards.txt') });
    const r = await runCli([...short(out), '--interval', '250'], { env: e });
    expect(r.exitCode, r.stderr).toBe(0);
    const res = await readJson((await resultFiles(out))[0]!);
    expect(validateResult(res).ok).toBe(true);
    expect(res.sources[0]).toMatchObject({ id: 'npu-smi', state: 'used' });
    const raw = (await readFile(join(out, res.rawSamples.file), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    const ids = new Set(raw.filter((x) => x.type === 'sample').map((x) => x.deviceId));
    expect(ids).toEqual(new Set(['npu-smi:0', 'npu-smi:2'])); // card power recorded under each card's first die
    // the second dies have no reading of their own: named in a warning, left out of the figures, not 0 W
    expect(res.repetitions[0].devices.map((d: { deviceId: string }) => d.deviceId)).toEqual(['npu-smi:0', 'npu-smi:2']);
    expect(res.warnings.find((w: { code: string }) => w.code === 'PARTIAL_DEVICE_POWER').message).toMatch(/npu-smi:1, npu-smi:3/);
    expect(raw.filter((x) => x.type === 'sample').every((x) => x.powerW > 0)).toBe(true);
  });

  it('amd-smi: chosen by itself over lower-ranked sources, energy counter integration', async () => {
    const out = join(await tempDir(), 'amd');
    const frames = [1, 2, 3].map((k) => join(OWN, 'amd', `amd-smi_metric-p-E--json__MI250X-1card__frame${k}.json`)).join(':');
    const e = await env(['amd'], { FAKE_AMD_STATIC: join(OWN, 'amd', 'amd-smi_static--json__MI250X-1card.json'), FAKE_AMD_METRIC_FRAMES: frames });
    const r = await runCli([...short(out), '--interval', '250'], { env: e });
    expect(r.exitCode, r.stderr).toBe(0);
    const res = await readJson((await resultFiles(out))[0]!);
    expect(validateResult(res).ok).toBe(true);
    expect(res.sources[0]).toMatchObject({ id: 'amd-smi', state: 'used', semantics: { kind: 'energy-counter' } });
    expect(res.devices.map((d: { id: string }) => d.id)).toEqual(['amd-smi:0', 'amd-smi:1']);
    expect(res.repetitions[0].devices.map((d: { deviceId: string; method: string }) => [d.deviceId, d.method])).toEqual([['amd-smi:0', 'counter']]);
    expect(res.warnings.find((w: { code: string }) => w.code === 'PARTIAL_DEVICE_POWER').message).toMatch(/amd-smi:1/);
  });
});
