// Suite files (YAML or JSON) → a plan: one entry per run (matrix expanded), every config checked by its workload
// before anything is measured. Any problem is one exit-2 message with the file and the JSON pointer.
import { readFile, access, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { join, resolve, extname, dirname, isAbsolute } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { checkAgainst } from '../lib/check.js';
import { badInput, WattbenchError } from '../lib/errors.js';
import { getWorkload, WORKLOAD_IDS } from '../workloads/index.js';
import type { Workload, WorkloadDescription, ResolveOptions } from '../workloads/workload.js';
import { getDriver, SOURCE_IDS } from '../drivers/index.js';
import { checkSourceOptions } from './sources.js';

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
  /** Where `source` was written: the run's own /runs/N/source or the suite's /defaults/source (remedies point there). */
  sourcePointer?: string;
}

export interface Plan { name: string; path?: string; sha256?: string; runs: PlannedRun[] }

interface SuiteDoc { name?: string; defaults?: RunSettings; runs: Array<RunSettings & { name?: string; workload: string; config?: Record<string, unknown>; matrix?: Record<string, unknown[]> }> }

/** A bare name (no slash, no extension) that is not a file means a built-in suite in suites/. */
export async function locateSuite(arg: string): Promise<string> {
  // a folder is never a suite: `run quick` from a folder holding quick/ (an earlier --out quick) means the built-in
  const isFolder = await stat(arg).then((st) => st.isDirectory(), () => null);
  if (isFolder === false) return resolve(arg);
  if (!arg.includes('/') && !extname(arg)) {
    for (const ext of ['.yaml', '.yml', '.json']) {
      const p = join(SUITES_DIR, arg + ext);
      try { await access(p); return p; } catch { /* next */ }
    }
    if (isFolder) throw badInput('SUITE_NOT_FOUND', `'${arg}' is a folder, and there is no built-in suite of that name`, 'give a path to a .yaml/.json suite file, or a built-in name (see suites/)');
    throw badInput('SUITE_NOT_FOUND', `no suite file '${arg}' and no built-in suite of that name`, 'give a path to a .yaml/.json suite file, or a built-in name (see suites/)');
  }
  if (isFolder) throw badInput('SUITE_NOT_FOUND', `${arg} is a folder, not a suite file`, 'name the .yaml/.json file inside it');
  throw badInput('SUITE_NOT_FOUND', `suite file ${arg} does not exist`, 'check the path');
}

export function parseSuiteText(text: string, path: string): unknown {
  const isJson = path.endsWith('.json');
  // editors on Windows save UTF-8 with a byte order mark; JSON.parse would refuse it as an unexpected token
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const empty = () => badInput('SUITE_EMPTY', `${path}: the file is empty`, 'write a suite into it, e.g. runs: [{ workload: smoke }] (see README "Suite files")');
  if (body.trim() === '') throw empty();
  let doc: unknown;
  try {
    doc = isJson ? JSON.parse(body) : parseYaml(body, { maxAliasCount: 100, logLevel: 'error' });
  } catch (err) {
    throw badInput('SUITE_SYNTAX', `${path}: not valid ${isJson ? 'JSON' : 'YAML'}: ${syntaxMessage((err as Error).message)}`, 'fix the syntax at that line');
  }
  if (doc == null && body.split('\n').every((l) => /^\s*(#.*)?$/.test(l) || /^(---|\.\.\.)\s*$/.test(l))) {
    throw empty(); // comments only
  }
  if (isJson) {
    // JSON.parse keeps the last of two equal keys; YAML refuses them, and so does a JSON suite
    const dup = duplicateJsonKey(body);
    if (dup) throw badInput('SUITE_SYNTAX', `${path}: at ${dup.pointer}: the key '${dup.key}' appears twice`, 'keep one of them');
  }
  return doc;
}

/**
 * A parser's message as one line. The yaml library appends ":" and a frame of the source lines under the message
 * ("Map keys must be unique at line 3, column 5:\n\n  a: 1\n…"); the frame is dropped (the line and column say
 * where) and any other line breaks are joined, so the message is never cut short at its first line.
 */
export function syntaxMessage(raw: string): string {
  const framed = /^([\s\S]*?\bat line \d+, column \d+):\n\n[\s\S]*$/.exec(raw);
  return (framed ? framed[1]! : raw).replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

const pointerPart = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * The first key that repeats within one object of a JSON text that JSON.parse accepted, with the pointer of the
 * repeat. Iterative with an explicit stack, as a suite may nest 100,000 levels (refused later, with a pointer).
 */
export function duplicateJsonKey(text: string): { pointer: string; key: string } | undefined {
  type Frame = { obj: true; keys: Set<string>; expectKey: boolean; at: string; cur?: string } | { obj: false; index: number; at: string };
  const stack: Frame[] = [];
  const here = (f: Frame) => (f.obj ? `${f.at}/${pointerPart(f.cur ?? '')}` : `${f.at}/${f.index}`);
  const child = () => (stack.length ? here(stack[stack.length - 1]!) : '');
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.obj && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        top.cur = key;
        if (top.keys.has(key)) return { pointer: here(top), key };
        top.keys.add(key);
        top.expectKey = false;
      }
      i = j;
    } else if (c === '{') stack.push({ obj: true, keys: new Set(), expectKey: true, at: child() });
    else if (c === '[') stack.push({ obj: false, index: 0, at: child() });
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top?.obj) top.expectKey = true; else if (top) top.index++;
    }
  }
  return undefined;
}

function combos(matrix: Record<string, unknown[]>): Array<Record<string, unknown>> {
  let out: Array<Record<string, unknown>> = [{}];
  for (const [k, vs] of Object.entries(matrix)) out = out.flatMap((o) => vs.map((v) => ({ ...o, [k]: v })));
  return out;
}

/**
 * The matrix keys whose value a run's name already says, which the label then does not repeat: serve's own name
 * is "serve m (completions, concurrency 4)", so a concurrency sweep needs no "(concurrency=4)" after it, while
 * smoke's name does not show outputTokens and a run's own `name:` shows nothing. A key counts as shown when the
 * names differ wherever only that key's value differs; a key with a single value distinguishes nothing and stays.
 */
function keysNamesShow(list: Array<Record<string, unknown>>, names: string[]): Set<string> {
  const shown = new Set<string>();
  for (const key of Object.keys(list[0] ?? {})) {
    const groups = new Map<string, Set<string>>();
    let distinct = true, varied = false;
    list.forEach((combo, i) => {
      const rest = JSON.stringify(Object.entries(combo).filter(([k]) => k !== key));
      const g = groups.get(rest) ?? new Set<string>();
      if (g.size) varied = true;
      if (g.has(names[i]!)) distinct = false;
      g.add(names[i]!);
      groups.set(rest, g);
    });
    if (varied && distinct) shown.add(key);
  }
  return shown;
}

/**
 * An unknown source id, or an option its driver does not declare (a typo would otherwise be ignored and the run
 * measured with the default), is refused with the pointer.
 */
function checkSource(s: RunSettings['source'], where: string): void {
  if (s === undefined) return;
  const id = typeof s === 'string' ? s : s.id;
  if (!getDriver(id)) throw badInput('BAD_CONFIG', `${where}: unknown power source '${id}'`, `use one of: ${SOURCE_IDS.join(', ')}`);
  if (typeof s === 'object' && s.options) checkSourceOptions(id, s.options, (k) => `${where}/options/${pointerPart(k)}`, 'BAD_CONFIG');
}

/**
 * Options and config keys that name a file: relative ones are taken from the suite file's folder, so a suite and
 * its trace or dataset can move together and be run from anywhere. Commands (and their cwd) still run from the
 * current folder, as on the command line.
 */
const SOURCE_FILE_OPTIONS: Record<string, string[]> = { replay: ['file'], tegrastats: ['model-file'], rapl: ['root'] };
const WORKLOAD_FILE_KEYS: Record<string, string[]> = { serve: ['dataset'] };

function fromFolder(v: unknown, baseDir: string): unknown {
  return typeof v === 'string' && v !== '' && !isAbsolute(v) ? resolve(baseDir, v) : v;
}

function sourceFromFolder(s: RunSettings['source'], baseDir: string | undefined): RunSettings['source'] {
  if (!baseDir || typeof s !== 'object' || !s.options) return s;
  const keys = SOURCE_FILE_OPTIONS[s.id] ?? [];
  return { ...s, options: Object.fromEntries(Object.entries(s.options).map(([k, v]) => [k, keys.includes(k) ? fromFolder(v, baseDir) as string : v])) };
}

/** Build the plan from a parsed suite document. Pure apart from workload checks. */
/** `baseDir` (the suite file's folder) is where relative trace and dataset paths are taken from. */
export function planFromDoc(doc: unknown, where: string, opts: ResolveOptions, baseDir?: string): Plan {
  const d = checkAgainst<SuiteDoc>(suiteSchema, doc, where);
  checkSource(d.defaults?.source, `${where}: at /defaults/source`);
  const defaults = d.defaults ? { ...d.defaults, ...(d.defaults.source !== undefined ? { source: sourceFromFolder(d.defaults.source, baseDir) } : {}) } : undefined;
  const runs: PlannedRun[] = [];
  d.runs.forEach((r, i) => {
    const pointer = `/runs/${i}`;
    const wl = getWorkload(r.workload);
    if (!wl) throw badInput('BAD_CONFIG', `${where}: at ${pointer}/workload: unknown workload '${r.workload}'`, `use one of: ${WORKLOAD_IDS.join(', ')}`);
    checkSource(r.source, `${where}: at ${pointer}/source`);
    const { name, workload: _w, config, matrix, ...given } = r;
    const settings = given.source !== undefined ? { ...given, source: sourceFromFolder(given.source, baseDir) } : given;
    const sourcePointer = given.source !== undefined ? `${pointer}/source` : defaults?.source !== undefined ? '/defaults/source' : undefined;
    const fileKeys = baseDir ? WORKLOAD_FILE_KEYS[r.workload] ?? [] : [];
    // count before expanding: 16 keys × 1000 values is 10^48 combinations, which would never finish expanding
    const count = matrix ? Object.values(matrix).reduce((n, vs) => n * vs.length, 1) : 1;
    if (runs.length + count > 10000) throw badInput('BAD_CONFIG', `${where}: at ${pointer}/matrix: expands to more than 10000 runs`, 'split the suite');
    const list = matrix ? combos(matrix) : [{}];
    const planned = list.map((combo) => {
      const raw: Record<string, unknown> = { ...(config ?? {}), ...combo };
      for (const k of fileKeys) if (k in raw) raw[k] = fromFolder(raw[k], baseDir!);
      let resolved: unknown;
      try { resolved = wl.resolve(structuredClone(raw), `${pointer}/config`, opts); } catch (err) {
        if (err instanceof WattbenchError) throw badInput(err.code, err.message.startsWith(where) ? err.message : `${where}: ${err.message}`, err.remedy);
        throw err;
      }
      return { combo, resolved, desc: wl.describe(resolved) };
    });
    const names = planned.map((p) => name ?? p.desc.name);
    const shown = matrix ? keysNamesShow(list, names) : new Set<string>();
    planned.forEach(({ combo, resolved, desc }, j) => {
      const suffix = Object.entries(combo).filter(([k]) => !shown.has(k)).map(([k, v]) => `${k}=${String(v)}`).join(',');
      runs.push({ ...defaults, ...settings, label: `${names[j]}${suffix ? ` (${suffix})` : ''}`, workload: wl, config: resolved, description: desc, pointer, ...(sourcePointer ? { sourcePointer } : {}) });
    });
  });
  return { name: d.name ?? where, runs };
}

export async function loadSuite(arg: string, opts: ResolveOptions): Promise<Plan> {
  const path = await locateSuite(arg);
  let text: string;
  try { text = await readFile(path, 'utf8'); } catch (err) { throw badInput('SUITE_UNREADABLE', `cannot read ${path}: ${(err as Error).message}`, 'check the path and permissions'); }
  const plan = planFromDoc(parseSuiteText(text, path), path, opts, dirname(path));
  return { ...plan, path, sha256: createHash('sha256').update(text).digest('hex') };
}
