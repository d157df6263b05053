// Runs the Python unit tests of the reference model and the backend table (tests/workloads/test_*.py), and keeps
// the TypeScript side's lists and formulas equal to the Python side's.
import { describe, it, expect } from 'vitest';
import { execa } from 'execa';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.js';
import { PYTHON, TORCH_DIR } from './python-torch.js';
import { BACKEND_IDS, MODEL_SIZES, countParameters } from '../../workloads/torch/common.js';

describe.skipIf(!PYTHON)('PyTorch workloads: Python unit tests', () => {
  it('python -m unittest tests/workloads/test_*.py passes', async () => {
    const r = await execa(PYTHON!, ['-m', 'unittest', 'discover', '-s', join(ROOT, 'tests', 'workloads'), '-p', 'test_*.py', '-v'], {
      cwd: ROOT, env: { PYTHONPATH: TORCH_DIR, PYTHONDONTWRITEBYTECODE: '1' }, reject: false, timeout: 300_000, all: true,
    });
    if (r.exitCode !== 0) console.log(r.all);
    expect(r.exitCode).toBe(0);
    expect(r.all).toMatch(/Ran \d+ tests/);
  }, 320_000);

  it('the backend ids in common.ts are exactly backends.py BACKENDS', async () => {
    const r = await execa(PYTHON!, ['-c', 'import json, backends; print(json.dumps(sorted(backends.BACKENDS)))'], { env: { PYTHONPATH: TORCH_DIR, PYTHONDONTWRITEBYTECODE: '1' }, timeout: 60_000 });
    expect(JSON.parse(r.stdout)).toEqual([...BACKEND_IDS].sort());
  });

  it('countParameters (TypeScript) equals count_parameters (Python) for every named size', async () => {
    const r = await execa(PYTHON!, ['-c', 'import json, model as M; print(json.dumps({n: M.count_parameters(M.resolve_shape(n)) for n in M.load_sizes()}))'], { env: { PYTHONPATH: TORCH_DIR, PYTHONDONTWRITEBYTECODE: '1' }, timeout: 60_000 });
    const py = JSON.parse(r.stdout) as Record<string, number>;
    expect(Object.keys(py).sort()).toEqual(Object.keys(MODEL_SIZES).sort());
    for (const [name, n] of Object.entries(py)) expect(countParameters(MODEL_SIZES[name]!), name).toBe(n);
  });
});

describe('countParameters without Python', () => {
  it('gives the Hugging Face checkpoint totals of the public shapes', () => {
    expect(countParameters(MODEL_SIZES['llama-2-7b']!)).toBe(6_738_415_616);
    expect(countParameters(MODEL_SIZES['llama-2-13b']!)).toBe(13_015_864_320);
    expect(countParameters(MODEL_SIZES['llama-3-8b']!)).toBe(8_030_261_248);
  });
});
