// What the two PyTorch workloads (train.ts, infer.ts) share: the named model sizes, the config pieces and their
// checks, the parameter count, finding a Python that can import torch, and the probe that fails a run with exit 2
// before any measurement when the backend or dtype cannot work here.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { badInput } from '../../lib/errors.js';
import { runCommand, findOnPath } from '../../lib/process.js';
import type { ResolveOptions, WorkloadContext, WorkloadOutcome } from '../workload.js';
import { runProtocolProcess } from '../protocol.js';

export const BENCH_PY = fileURLToPath(new URL('./bench.py', import.meta.url));
const SIZES_FILE = fileURLToPath(new URL('../model_sizes.json', import.meta.url));

export interface ModelShape {
  vocab: number; dModel: number; layers: number; heads: number; kvHeads: number; ffHidden: number;
  ropeTheta?: number; normEps?: number;
}

/** The named sizes (workloads/model_sizes.json): the one list results and reports refer to. */
export const MODEL_SIZES: Record<string, ModelShape & { comment?: string; parametersPublished?: number }> =
  JSON.parse(readFileSync(SIZES_FILE, 'utf8')).sizes;
export const MODEL_SIZE_NAMES = Object.keys(MODEL_SIZES);

/** Backends the Python side knows (workloads/torch/backends.py BACKENDS; a test keeps the two lists equal). */
export const BACKEND_IDS = ['cuda', 'npu', 'xpu', 'hpu', 'mlu', 'gcu', 'musa', 'mps', 'cpu'] as const;
export const DTYPES = ['bf16', 'fp16', 'fp32'] as const;

/** Parameters of the model for a shape; the same formula as model.py count_parameters (untied embeddings). */
export function countParameters(s: ModelShape): number {
  const hd = s.dModel / s.heads;
  const attn = s.dModel * s.heads * hd + 2 * s.dModel * s.kvHeads * hd + s.heads * hd * s.dModel;
  const perLayer = attn + 3 * s.dModel * s.ffHidden + 2 * s.dModel;
  return 2 * s.vocab * s.dModel + s.layers * perLayer + s.dModel;
}

const shapeSchema = {
  type: 'object', additionalProperties: false, required: ['vocab', 'dModel', 'layers', 'heads', 'ffHidden'],
  properties: {
    vocab: { type: 'integer', minimum: 2, maximum: 4_000_000 },
    dModel: { type: 'integer', minimum: 2, maximum: 65536 },
    layers: { type: 'integer', minimum: 1, maximum: 1024 },
    heads: { type: 'integer', minimum: 1, maximum: 1024 },
    kvHeads: { type: 'integer', minimum: 1, maximum: 1024, description: 'key/value heads (GQA); default: heads' },
    ffHidden: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    ropeTheta: { type: 'number', exclusiveMinimum: 0 },
    normEps: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
  },
};

/** Config keys both workloads take (JSON Schema properties, defaults filled in by check.ts). */
export const commonProperties = {
  modelSize: { enum: [...MODEL_SIZE_NAMES, 'custom'], default: 'tiny', description: 'a name from workloads/model_sizes.json, or custom with shape' },
  shape: shapeSchema,
  batchSize: { type: 'integer', minimum: 1, maximum: 65536 },
  steps: { type: 'integer', minimum: 1, maximum: 10_000_000, description: 'measured iterations (train steps / generate rounds); or durationS' },
  durationS: { type: 'number', exclusiveMinimum: 0, maximum: 86400, description: 'measure whole iterations until this much time has passed' },
  warmupSteps: { type: 'integer', minimum: 0, maximum: 100000 },
  dtype: { enum: [...DTYPES], default: 'bf16' },
  backend: { enum: ['auto', ...BACKEND_IDS], default: 'auto', description: 'auto: the first accelerator present, else cpu' },
  threads: { type: 'integer', minimum: 1, maximum: 4096, description: 'CPU threads for torch (torch.set_num_threads); default: torch\'s own' },
  seed: { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1, default: 0 },
  python: { type: 'string', minLength: 1, maxLength: 4096, description: 'Python interpreter; --python overrides' },
} as const;

export interface CommonConfig {
  modelSize: string;
  shape?: ModelShape;
  batchSize: number;
  steps?: number;
  durationS?: number;
  warmupSteps: number;
  dtype: (typeof DTYPES)[number];
  backend: 'auto' | (typeof BACKEND_IDS)[number];
  threads?: number;
  seed: number;
  python?: string;
}

/** Checks JSON Schema cannot express: a named size or a shape, never both; steps or durationS; a buildable shape. */
export function completeCommon<C extends CommonConfig>(c: C, pointer: string, opts: ResolveOptions, what: string, defaultDurationS: number): C {
  const bad = (key: string, msg: string, fix: string) => badInput('BAD_CONFIG', `${what} config: at ${pointer}/${key}: ${msg}`, fix);
  if (c.shape && c.modelSize !== 'custom') throw bad('shape', `a shape is given but modelSize is '${c.modelSize}'`, "set modelSize: custom to use your own shape, or drop shape");
  if (c.modelSize === 'custom') {
    if (!c.shape) throw bad('shape', "modelSize 'custom' needs a shape {vocab, dModel, layers, heads, kvHeads, ffHidden}", 'add shape, or choose a named modelSize');
    const s = c.shape;
    s.kvHeads ??= s.heads;
    if (s.dModel % s.heads !== 0) throw bad('shape/dModel', `dModel (${s.dModel}) is not a multiple of heads (${s.heads})`, 'choose heads that divide dModel');
    if ((s.dModel / s.heads) % 2 !== 0) throw bad('shape/heads', `head size dModel/heads = ${s.dModel / s.heads} is odd; rotary embeddings need it even`, 'choose heads so that dModel / heads is even');
    if (s.heads % s.kvHeads !== 0) throw bad('shape/kvHeads', `heads (${s.heads}) is not a multiple of kvHeads (${s.kvHeads})`, 'choose kvHeads that divides heads');
  }
  if (c.steps !== undefined && c.durationS !== undefined) throw bad('steps', 'give steps or durationS, not both', 'keep one of them');
  if (c.steps === undefined && c.durationS === undefined) c.durationS = defaultDurationS;
  if (opts.python) c.python = opts.python; // --python wins over the suite file
  return c;
}

export function shapeOf(c: CommonConfig): ModelShape {
  return c.modelSize === 'custom' ? c.shape! : MODEL_SIZES[c.modelSize]!;
}

// ---- finding Python and probing it --------------------------------------------------------------------------

export type ProbeOk = { ok: true; python: string; torch: string; backend: string; device: string; deviceName: string; dtype: string; threads: number; attention: string; plugins?: Record<string, string> };
type ProbeLine = ProbeOk | { ok: false; code: string; message: string; remedy?: string };

const probes = new Map<string, Promise<{ interpreter: string; probe: ProbeOk }>>();
/** The interpreter each config's preflight settled on; run() uses it (kept out of the config: paths name users). */
const chosen = new WeakMap<object, string>();

// unbuffered: each event must reach the harness the moment it is printed (bench.py flushes too); no
// __pycache__ written into the checkout
const PY_ENV = { PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' };

const INSTALL_TORCH = 'install PyTorch: `apt-get install python3-torch` (Debian/Ubuntu, then /usr/bin/python3 has it) or `pip install torch`; or pass --python PATH to an interpreter that has it';

function parseProbe(stdout: string): ProbeLine | undefined {
  for (const line of stdout.split('\n').reverse()) {
    const s = line.trim();
    if (!s.startsWith('{')) continue;
    try { const o = JSON.parse(s); if (o && o.wattbenchProbe === 1) return o as ProbeLine; } catch { /* not ours */ }
  }
  return undefined;
}

/** Interpreters to try, in order: --python (alone), else python3 on PATH, else /usr/bin/python3. */
export async function pythonCandidates(requested: string | undefined, env: NodeJS.ProcessEnv): Promise<string[]> {
  if (requested) return [requested];
  const onPath = await findOnPath('python3', env.PATH ?? '');
  return [...new Set([onPath, '/usr/bin/python3'].filter((p): p is string => Boolean(p)))];
}

function probeArgs(c: CommonConfig): string {
  return JSON.stringify({ backend: c.backend, dtype: c.dtype, ...(c.threads ? { threads: c.threads } : {}) });
}

/** Run `bench.py probe` with each candidate until one imports torch; its verdict on backend and dtype is final. */
export function probePython(c: CommonConfig, env: NodeJS.ProcessEnv): Promise<{ interpreter: string; probe: ProbeOk }> {
  const key = `${c.python ?? ''}\u0000${probeArgs(c)}`;
  let p = probes.get(key);
  if (!p) {
    p = doProbe(c, env);
    probes.set(key, p);
    p.catch(() => probes.delete(key)); // a failure is not remembered: the user may fix it and retry in-process
  }
  return p;
}

async function doProbe(c: CommonConfig, env: NodeJS.ProcessEnv): Promise<{ interpreter: string; probe: ProbeOk }> {
  const tried: string[] = [];
  for (const py of await pythonCandidates(c.python, env)) {
    const r = await runCommand(py, [BENCH_PY, 'probe', probeArgs(c)], { env: { ...env, ...PY_ENV }, extendEnv: false, timeoutMs: 180_000 });
    if (r.spawnError) { tried.push(`${py}: ${r.spawnError.code === 'ENOENT' ? 'not found' : r.spawnError.code}`); continue; }
    const line = parseProbe(r.stdout);
    if (!line) {
      tried.push(`${py}: ${r.timedOut ? 'probe timed out' : `exit ${r.exitCode}`}${r.stderr.trim() ? ` (${r.stderr.trim().split('\n').pop()!.slice(0, 200)})` : ''}`);
      continue;
    }
    if (line.ok) return { interpreter: py, probe: line };
    if (line.code === 'TORCH_MISSING') { tried.push(`${py}: ${line.message}`); continue; }
    // this interpreter has torch: its answer about the backend or dtype stands
    throw badInput(line.code, line.message, line.remedy ?? '');
  }
  if (c.python) {
    const notFound = tried.length === 1 && tried[0]!.endsWith(': not found');
    if (notFound) throw badInput('PYTHON_NOT_FOUND', `--python ${c.python}: no such interpreter`, 'give the path of a Python 3 interpreter that has torch');
  }
  throw badInput('TORCH_MISSING', `no Python with PyTorch found (tried ${tried.join('; ')})`, INSTALL_TORCH);
}

/** Preflight for both workloads: settle the interpreter, resolve backend 'auto' to the one found, return versions. */
export async function preflightTorch(c: CommonConfig, opts: ResolveOptions): Promise<Record<string, string>> {
  const { interpreter, probe } = await probePython(c, opts.env);
  chosen.set(c, interpreter);
  // the result records what ran: 'auto' becomes the backend actually used
  if (c.backend === 'auto') c.backend = probe.backend as CommonConfig['backend'];
  return { python: probe.python, torch: probe.torch, ...(probe.plugins ?? {}) };
}

export async function runBench(mode: 'train' | 'infer', c: CommonConfig, ctx: WorkloadContext): Promise<WorkloadOutcome> {
  const interpreter = chosen.get(c) ?? (await probePython(c, ctx.env)).interpreter;
  const { python: _p, ...pyConfig } = c;
  return runProtocolProcess({
    file: interpreter,
    args: [BENCH_PY, mode, JSON.stringify(pyConfig)],
    env: PY_ENV,
  }, ctx);
}

export function fmtParams(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : `${n}`;
}
