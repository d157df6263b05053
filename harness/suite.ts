// Suite files (YAML or JSON) → a plan: one entry per run (matrix expanded), every config checked by its workload
// before anything is measured. Any problem is one exit-2 message with the file and the JSON pointer.
import { readFile, access } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { join, resolve, extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { checkAgainst } from '../lib/check.js';
import { badInput, WattbenchError } from '../lib/errors.js';
import { getWorkload, WORKLOAD_IDS } from '../workloads/index.js';
import type { Workload, WorkloadDescription, ResolveOptions } from '../workloads/workload.js';
import { getDriver, SOURCE_IDS } from '../drivers/index.js';

const suiteSchema = JSON.parse(await readFile(fileURLToPath(new URL('./suite-schema.json', import.meta.url)), 'utf8'));
export const SUITES_DIR = fileURLToPath(new URL('../suites/', import.meta.url));

export interface RunSettings {
  repetitions?: number; maxRepetitions?: number; targetCiPct?: number; idleS?: number; cooldownS?: number;
  intervalMs?: number; timeoutS?: number; devices?: number[];
  source?: string | { id: string; options?: Record<string, string | number | boolean> };
}

export interface PlannedRun extends RunSettings {
  label: string;
  workload: Workload<unknown>;
  config: unknown;
  description: WorkloadDescription;
  pointer: string;
}

export interface Plan { name: string; path?: string; sha256?: string; runs: PlannedRun[] }

interface SuiteDoc { name?: string; defaults?: RunSettings; runs: Array<RunSettings & { name?: string; workload: string; config?: Record<string, unknown>; matrix?: Record<string, unknown[]> }> }

/** A bare name (no slash, no extension) that is not a file means a built-in suite in suites/. */
export async function locateSuite(arg: string): Promise<string> {
  try { await access(arg); return resolve(arg); } catch { /* not a path */ }
  if (!arg.includes('/') && !extname(arg)) {
    for (const ext of ['.yaml', '.yml', '.json']) {
      const p = join(SUITES_DIR, arg + ext);
      try { await access(p); return p; } catch { /* next */ }
    }
    throw badInput('SUITE_NOT_FOUND', `no suite file '${arg}' and no built-in suite of that name`, 'give a path to a .yaml/.json suite file, or a built-in name (see suites/)');
  }
  throw badInput('SUITE_NOT_FOUND', `suite file ${arg} does not exist`, 'check the path');
}

export function parseSuiteText(text: string, path: string): unknown {
  try {
    return path.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100, logLevel: 'error' });
  } catch (err) {
    throw badInput('SUITE_SYNTAX', `${path}: not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`, 'fix the syntax at that line');
  }
}

function combos(matrix: Record<string, unknown[]>): Array<Record<string, unknown>> {
  let out: Array<Record<string, unknown>> = [{}];
  for (const [k, vs] of Object.entries(matrix)) out = out.flatMap((o) => vs.map((v) => ({ ...o, [k]: v })));
  return out;
}

function checkSource(s: RunSettings['source'], where: string): void {
  if (s === undefined) return;
  const id = typeof s === 'string' ? s : s.id;
  if (!getDriver(id)) throw badInput('BAD_CONFIG', `${where}: unknown power source '${id}'`, `use one of: ${SOURCE_IDS.join(', ')}`);
}

/** Build the plan from a parsed suite document. Pure apart from workload checks. */
export function planFromDoc(doc: unknown, where: string, opts: ResolveOptions): Plan {
  const d = checkAgainst<SuiteDoc>(suiteSchema, doc, where);
  checkSource(d.defaults?.source, `${where}: at /defaults/source`);
  const runs: PlannedRun[] = [];
  d.runs.forEach((r, i) => {
    const pointer = `/runs/${i}`;
    const wl = getWorkload(r.workload);
    if (!wl) throw badInput('BAD_CONFIG', `${where}: at ${pointer}/workload: unknown workload '${r.workload}'`, `use one of: ${WORKLOAD_IDS.join(', ')}`);
    checkSource(r.source, `${where}: at ${pointer}/source`);
    const { name, workload: _w, config, matrix, ...settings } = r;
    // count before expanding: 16 keys × 1000 values is 10^48 combinations, which would never finish expanding
    const count = matrix ? Object.values(matrix).reduce((n, vs) => n * vs.length, 1) : 1;
    if (runs.length + count > 10000) throw badInput('BAD_CONFIG', `${where}: at ${pointer}/matrix: expands to more than 10000 runs`, 'split the suite');
    const list = matrix ? combos(matrix) : [{}];
    for (const combo of list) {
      const raw = { ...(config ?? {}), ...combo };
      let resolved: unknown;
      try { resolved = wl.resolve(structuredClone(raw), `${pointer}/config`, opts); } catch (err) {
        if (err instanceof WattbenchError) throw badInput(err.code, err.message.startsWith(where) ? err.message : `${where}: ${err.message}`, err.remedy);
        throw err;
      }
      const desc = wl.describe(resolved);
      const suffix = Object.entries(combo).map(([k, v]) => `${k}=${String(v)}`).join(',');
      runs.push({ ...d.defaults, ...settings, label: `${name ?? desc.name}${suffix ? ` (${suffix})` : ''}`, workload: wl, config: resolved, description: desc, pointer });
    }
  });
  return { name: d.name ?? where, runs };
}

export async function loadSuite(arg: string, opts: ResolveOptions): Promise<Plan> {
  const path = await locateSuite(arg);
  let text: string;
  try { text = await readFile(path, 'utf8'); } catch (err) { throw badInput('SUITE_UNREADABLE', `cannot read ${path}: ${(err as Error).message}`, 'check the path and permissions'); }
  const plan = planFromDoc(parseSuiteText(text, path), path, opts);
  return { ...plan, path, sha256: createHash('sha256').update(text).digest('hex') };
}
