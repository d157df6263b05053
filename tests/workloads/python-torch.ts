// Test helper: a Python interpreter that can import torch (CI installs Debian's python3-torch for
// /usr/bin/python3; the `python3` first on PATH may be another one), found the way the workloads find it.
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.js';

export const TORCH_DIR = join(ROOT, 'workloads', 'torch');

async function hasTorch(py: string): Promise<boolean> {
  const r = await execa(py, ['-c', 'import torch'], { reject: false, timeout: 120_000 });
  return r.exitCode === 0;
}

/** python3 on PATH, then /usr/bin/python3: the first that imports torch, or undefined. */
export async function findPythonWithTorch(): Promise<string | undefined> {
  const candidates = ['python3', '/usr/bin/python3'];
  for (const py of candidates) {
    if (py.startsWith('/') && !existsSync(py)) continue;
    if (await hasTorch(py).catch(() => false)) return py;
  }
  return undefined;
}

export const PYTHON = await findPythonWithTorch();
export const NO_TORCH_NOTE = 'note: no Python with torch found (apt-get install python3-torch, or pip install torch); the PyTorch workload tests are skipped';
if (!PYTHON) console.log(NO_TORCH_NOTE);
