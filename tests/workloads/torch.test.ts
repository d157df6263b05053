// The PyTorch workloads end to end: the tiny size through `./bin/wattbench.js run` on the CPU, train and infer,
// with exact token counts from the result JSON and throughput checked against the CPU's own measured matmul
// ceiling; then the exit-2 paths (dtype/backend the machine cannot do, no torch, bad config) and the suite files.
import { describe, it, expect, beforeAll } from 'vitest';
import { execa } from 'execa';
import { writeFile, chmod, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir, resultFiles, readJson } from '../helpers/cli.js';
import { PYTHON, NO_TORCH_NOTE } from './python-torch.js';
import { planFromDoc, loadSuite } from '../../harness/suite.js';
import { MODEL_SIZES, countParameters } from '../../workloads/torch/common.js';
import type { WattbenchResult } from '../../results/types.gen.js';

// one intra-op thread: on a loaded two-core CI machine more OpenMP threads than free cores only slow torch down
const THREADS = 1;
const TRAIN = { batchSize: 2, seqLen: 32, steps: 3 };
const INFER = { batchSize: 2, inputTokens: 16, outputTokens: 8, steps: 2 };
const CUSTOM = { vocab: 512, dModel: 64, layers: 2, heads: 4, kvHeads: 1, ffHidden: 128 };

function suiteYaml(runs: object[]): string {
  return JSON.stringify({ name: 'torch-test', runs }); // JSON is YAML
}

/** Best fp32 matmul rate of this CPU (FLOP/s) with torch and the same thread count: a large square product plus
 *  the workload's forward and backward shapes, best of many tries each (a load spike cannot lower all of them).
 *  Model FLOPs are matmul FLOPs, so no honest throughput implies a higher rate. */
async function matmulCeilingFlops(py: string): Promise<number> {
  const script = `
import time, torch
torch.set_num_threads(${THREADS})
best = 0.0
shapes = [(1024, 1024, 1024), (64, 256, 704), (64, 704, 256), (64, 256, 4096), (64, 256, 256), (64, 256, 128),
          (256, 64, 704), (704, 64, 256), (256, 64, 256), (32, 32, 64), (2, 256, 4096)]
for m, k, n in shapes:
    a, b = torch.randn(m, k), torch.randn(k, n)
    a @ b
    tries = max(5, min(50, int(2e9 / (2 * m * k * n))))
    for _ in range(tries):
        t = time.perf_counter(); a @ b; el = time.perf_counter() - t
        best = max(best, 2 * m * k * n / el)
print(best)
`;
  const r = await execa(py, ['-c', script], { timeout: 180_000 });
  return Number(r.stdout.trim());
}

const metric = (r: WattbenchResult, name: string) => r.repetitions[0]!.metrics.find((m) => m.name === name)?.value;

describe.skipIf(!PYTHON)('train and infer on the CPU through wattbench run', () => {
  let results: WattbenchResult[] = [];
  let ceiling = 0;
  let stderr = '';

  beforeAll(async () => {
    const dir = await tempDir('wb-torch-');
    const suite = join(dir, 'suite.yaml');
    const common = { dtype: 'fp32', backend: 'cpu', threads: THREADS, warmupSteps: 1 };
    await writeFile(suite, suiteYaml([
      { workload: 'train', config: { ...common, modelSize: 'tiny', ...TRAIN } },
      { workload: 'infer', config: { ...common, modelSize: 'tiny', ...INFER } },
      { workload: 'infer', config: { ...common, modelSize: 'custom', shape: CUSTOM, ...INFER } },
    ]));
    // no --python: the workloads find an interpreter with torch themselves (python3 on PATH, then /usr/bin/python3)
    const r = await runCli(['run', suite, '--idle', '0', '--repetitions', '1', '--cooldown', '0', '--source', 'estimate', '--out', join(dir, 'out'), '--progress', 'plain'], { timeoutMs: 600_000 });
    stderr = r.stderr;
    if (r.exitCode !== 0) console.log(r.stdout, r.stderr);
    expect(r.exitCode).toBe(0);
    results = await Promise.all((await resultFiles(join(dir, 'out'))).map((f) => readJson<WattbenchResult>(f)));
    ceiling = await matmulCeilingFlops(PYTHON!);
  }, 800_000);

  const byName = (id: string, modelSize: string) => results.find((r) => r.workload.id === id && r.workload.modelSize === modelSize)!;

  it('writes three ok results recording backend, dtype, parameters and the python/torch versions', () => {
    expect(results).toHaveLength(3);
    for (const r of results) {
      expect(r.status).toBe('ok');
      expect(r.workload.backend).toBe('cpu');
      expect(r.workload.dtype).toBe('fp32');
      expect(r.software.torch).toMatch(/^\d+\.\d+/);
      expect(r.software.python).toMatch(/^3\.\d+/);
      // the TypeScript formula (describe) and the Python module's sum(p.numel()) (start event) agree
      expect(metric(r, 'parameters')).toBe(r.workload.parameters);
    }
    expect(byName('train', 'tiny').workload.parameters).toBe(countParameters(MODEL_SIZES.tiny!));
    expect(byName('infer', 'custom').workload.parameters).toBe(countParameters(CUSTOM));
  });

  it('train counts exactly steps × batch × sequence length tokens', () => {
    const r = byName('train', 'tiny');
    expect(r.repetitions[0]!.tokens).toEqual({ total: TRAIN.steps * TRAIN.batchSize * TRAIN.seqLen, input: TRAIN.steps * TRAIN.batchSize * TRAIN.seqLen });
    expect(r.repetitions[0]!.window!.durationS).toBeGreaterThan(0);
    expect(metric(r, 'tokens_per_s')).toBeGreaterThan(0);
    expect(metric(r, 'model_flops_per_token')).toBeGreaterThan(6 * 1e6);
    // a CPU's peak is not in peak_flops.json: MFU is unknown, not a guess
    expect(metric(r, 'mfu')).toBeNull();
    expect(metric(r, 'peak_tflops')).toBeNull();
  });

  it('infer counts exactly batch × output length generated tokens per round, prompts as input', () => {
    for (const size of ['tiny', 'custom']) {
      const r = byName('infer', size);
      const out = INFER.steps * INFER.batchSize * INFER.outputTokens;
      expect(r.repetitions[0]!.tokens, size).toEqual({ total: out, output: out, input: INFER.steps * INFER.batchSize * INFER.inputTokens });
      for (const m of ['prefill_tokens_per_s', 'decode_tokens_per_s', 'time_per_output_token_ms', 'time_to_first_token_ms']) {
        expect(metric(r, m), `${size} ${m}`).toBeGreaterThan(0);
      }
    }
  });

  it('reported throughput stays below the CPU matmul ceiling measured here', () => {
    expect(ceiling).toBeGreaterThan(1e8);
    const t = byName('train', 'tiny');
    // FLOPs per token are at least 6 (training) or 2 (inference) × the parameters that take part in a matrix
    // multiply: all but the input embedding table (untied: a lookup) and the norm weights (model.py
    // matmul_parameters). Attention adds more, so these are lower bounds and must stay under the ceiling.
    const matmulParams = (r: WattbenchResult, size: string) => {
      const s = size === 'custom' ? CUSTOM : MODEL_SIZES.tiny!;
      return r.workload.parameters! - s.vocab * s.dModel - (2 * s.layers + 1) * s.dModel;
    };
    const nTrain = matmulParams(t, 'tiny');
    expect(nTrain).toBeGreaterThan(0);
    console.log(`note: CPU fp32 matmul ceiling ${(ceiling / 1e9).toFixed(2)} GFLOP/s; train tiny ${(metric(t, 'tokens_per_s')! * 6 * nTrain / 1e9).toFixed(2)} GFLOP/s (6 × matmul params × tokens/s)`);
    // the harness's own figure (tokens / window on its clock) and the workload's
    for (const tps of [t.repetitions[0]!.figures!.tokensPerS, metric(t, 'tokens_per_s')!]) expect(tps * 6 * nTrain).toBeLessThan(ceiling);
    // model_tflops_per_s is the figure MFU divides by the peak
    expect(metric(t, 'model_tflops_per_s')! * 1e12).toBeLessThan(ceiling);
    for (const size of ['tiny', 'custom']) {
      const r = byName('infer', size);
      const n = matmulParams(r, size);
      for (const m of ['prefill_tokens_per_s', 'decode_tokens_per_s']) expect(metric(r, m)! * 2 * n, `${size} ${m}`).toBeLessThan(ceiling);
      expect(r.repetitions[0]!.figures!.tokensPerS * 2 * n).toBeLessThan(ceiling);
    }
  });

  it('shows the runs in the progress output', () => {
    expect(stderr).toMatch(/train tiny fp32 b2×s32/);
  });
});

describe.skipIf(!PYTHON)('exit 2 before any work', () => {
  async function runSuite(config: object, extra: string[] = [], workload = 'train') {
    const dir = await tempDir('wb-torch-bad-');
    const suite = join(dir, 'suite.yaml');
    await writeFile(suite, suiteYaml([{ workload, config }]));
    const out = join(dir, 'out');
    const r = await runCli(['run', suite, '--idle', '0', '--repetitions', '1', '--source', 'estimate', '--out', out, ...extra], { timeoutMs: 240_000 });
    const wrote = existsSync(out) ? (await readdir(out)).length : 0;
    return { ...r, wrote, dir };
  }

  it('fp16 on the CPU: UNSUPPORTED_DTYPE, nothing measured', async () => {
    const r = await runSuite({ modelSize: 'tiny', dtype: 'fp16', backend: 'cpu', steps: 1 });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/UNSUPPORTED_DTYPE: dtype fp16 is not offered on backend 'cpu' — use one of: bf16, fp32/);
    expect(r.wrote).toBe(0);
  }, 250_000);

  it('backend npu without torch_npu: names the package to install', async () => {
    const r = await runSuite({ modelSize: 'tiny', dtype: 'bf16', backend: 'npu', steps: 1 }, [], 'infer');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/BACKEND_PLUGIN_MISSING: .*torch_npu/);
    expect(r.stderr).toMatch(/pip install torch-npu/);
    expect(r.wrote).toBe(0);
  }, 250_000);

  it('a Python without torch: TORCH_MISSING saying how to install it', async () => {
    const dir = await tempDir('wb-nopy-');
    // the same interpreter with site-packages switched off (-S) cannot import torch
    const fake = join(dir, 'python-without-torch');
    await writeFile(fake, `#!/bin/sh\nexec ${PYTHON} -S "$@"\n`);
    await chmod(fake, 0o755);
    const r = await runSuite({ modelSize: 'tiny', dtype: 'fp32', backend: 'cpu', steps: 1 }, ['--python', fake]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/TORCH_MISSING: no Python with PyTorch found \(tried .*python-without-torch: .*cannot import torch/);
    expect(r.stderr).toMatch(/apt-get install python3-torch/);
    expect(r.stderr).toMatch(/pip install torch/);
    expect(r.wrote).toBe(0);
  }, 250_000);

  it('--python that does not exist: PYTHON_NOT_FOUND', async () => {
    const r = await runSuite({ modelSize: 'tiny', dtype: 'fp32', backend: 'cpu', steps: 1 }, ['--python', '/nonexistent/python3']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/PYTHON_NOT_FOUND: --python \/nonexistent\/python3: no such interpreter/);
  }, 250_000);
});
if (!PYTHON) console.log(NO_TORCH_NOTE);

describe('config checks (no Python needed)', () => {
  const plan = (runs: object[]) => planFromDoc({ runs }, 'suite.yaml', { env: process.env });
  const fails = (runs: object[], re: RegExp) => {
    try { plan(runs); } catch (err) {
      expect((err as { exit?: number }).exit).toBe(2);
      expect((err as Error).message).toMatch(re);
      return;
    }
    throw new Error('expected a config error');
  };

  it('fills defaults and describes the run', () => {
    const p = plan([{ workload: 'train', config: { modelSize: '1.3b' } }, { workload: 'infer', config: { modelSize: 'llama-3-8b', batchSize: 8, steps: 3 } }]);
    expect(p.runs[0]!.config).toMatchObject({ modelSize: '1.3b', dtype: 'bf16', backend: 'auto', batchSize: 4, seqLen: 128, warmupSteps: 2, durationS: 10 });
    expect(p.runs[0]!.description).toMatchObject({ kind: 'train', modelSize: '1.3b', parameters: 1_364_297_728, dtype: 'bf16', backend: 'auto' });
    expect(p.runs[1]!.description).toMatchObject({ kind: 'infer', parameters: 8_030_261_248, name: 'infer llama-3-8b bf16 b8 in128/out128' });
    expect(p.runs[1]!.config).not.toHaveProperty('durationS');
  });

  it('--python is carried into the config', () => {
    const p = planFromDoc({ runs: [{ workload: 'infer', config: {} }] }, 'x', { env: process.env, python: '/opt/py/bin/python3' });
    expect((p.runs[0]!.config as { python?: string }).python).toBe('/opt/py/bin/python3');
  });

  it('refuses what cannot run, naming the JSON pointer', () => {
    fails([{ workload: 'train', config: { modelSize: 'custom' } }], /at \/runs\/0\/config\/shape: modelSize 'custom' needs a shape/);
    fails([{ workload: 'train', config: { modelSize: 'tiny', shape: CUSTOM } }], /at \/runs\/0\/config\/shape: a shape is given but modelSize is 'tiny'/);
    fails([{ workload: 'infer', config: { modelSize: 'custom', shape: { ...CUSTOM, kvHeads: 3 } } }], /shape\/kvHeads: heads \(4\) is not a multiple of kvHeads \(3\)/);
    fails([{ workload: 'infer', config: { modelSize: 'custom', shape: { ...CUSTOM, dModel: 72, heads: 8 } } }], /head size dModel\/heads = 9 is odd/);
    fails([{ workload: 'train', config: { steps: 3, durationS: 5 } }], /give steps or durationS, not both/);
    fails([{ workload: 'train', config: { modelSize: 'llama-9' } }], /\/runs\/0\/config\/modelSize: must be one of .*"tiny"/);
    fails([{ workload: 'infer', config: { dtype: 'fp8' } }], /\/runs\/0\/config\/dtype: must be one of "bf16", "fp16", "fp32"/);
    fails([{ workload: 'infer', config: { backend: 'tpu' } }], /\/runs\/0\/config\/backend: must be one of "auto", "cuda", "npu"/);
    fails([{ workload: 'train', config: { batchSize: 0 } }], /\/runs\/0\/config\/batchSize/);
    fails([{ workload: 'infer', config: { outputTokens: 4, seqLen: 8 } }], /unknown key 'seqLen'/);
  });
});

describe('the built-in suites', () => {
  it('quick: tiny train + infer, on whatever device is found', async () => {
    const p = await loadSuite('quick', { env: process.env });
    expect(p.runs.map((r) => r.workload.meta.id)).toEqual(['train', 'infer']);
    for (const r of p.runs) expect(r.config).toMatchObject({ modelSize: 'tiny', backend: 'auto' });
  });

  it('standard: sizes × train/infer × batch sizes, bf16, named sizes only', async () => {
    const p = await loadSuite('standard', { env: process.env });
    const cells = p.runs.map((r) => `${r.workload.meta.id}/${(r.config as { modelSize: string }).modelSize}/${(r.config as { batchSize: number }).batchSize}`);
    expect(new Set(cells).size).toBe(cells.length);
    for (const id of ['train', 'infer']) {
      const runs = p.runs.filter((r) => r.workload.meta.id === id);
      expect(new Set(runs.map((r) => (r.config as { modelSize: string }).modelSize)).size).toBeGreaterThanOrEqual(3);
      expect(new Set(runs.map((r) => (r.config as { batchSize: number }).batchSize)).size).toBeGreaterThanOrEqual(2);
    }
    for (const r of p.runs) {
      expect(r.config).toMatchObject({ dtype: 'bf16', backend: 'auto' });
      expect(Object.keys(MODEL_SIZES)).toContain((r.config as { modelSize: string }).modelSize);
    }
    for (const size of ['llama-2-7b', 'llama-2-13b', 'llama-3-8b']) expect(cells.some((c) => c.startsWith(`infer/${size}/`))).toBe(true);
  });
});
