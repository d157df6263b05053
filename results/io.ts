// Reading and writing result files. Writes are atomic (temp file in the same folder, fsync, rename) so a crash
// or a full disk never leaves a half-written result where a finished one is expected.
import { open, rename, unlink, readFile, mkdir, access, constants, stat, statfs } from 'node:fs/promises';
import { dirname, basename, join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { validateResult, type SchemaProblem } from './validate.js';
import { upgradeResult } from './upgrade.js';
import type { WattbenchResult } from './types.gen.js';
import { badInput } from '../lib/errors.js';

/**
 * A file path the user named for output must be a regular file or nothing yet. A rename over a FIFO, a socket or a
 * device node replaces it (as root, /dev/null or /dev/full), and a folder or a path under a file cannot take one:
 * each is one exit-2 line naming the path, never a stack trace or a replaced device.
 */
export async function checkOutputFile(path: string, flag = '--out'): Promise<void> {
  const abs = resolve(path);
  let st;
  try { st = await stat(abs); } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return checkOutputParent(abs, flag);
    if (code === 'ENOTDIR') throw badInput('OUTPUT_NOT_WRITABLE', `${flag} ${abs}: a part of that path is a file, not a folder`, `name a file in a folder, e.g. ${flag} results/out.json`);
    throw err;
  }
  if (st.isDirectory()) throw badInput('OUTPUT_NOT_WRITABLE', `${flag} ${abs} is a folder; this writes one file`, `name the file, e.g. ${flag} ${join(path, 'out.json')}`);
  if (!st.isFile()) throw badInput('OUTPUT_NOT_WRITABLE', `${flag} ${abs} exists and is not a regular file (a device, FIFO or socket); writing would replace it`, `name a regular file, e.g. ${flag} out.json`);
}

async function checkOutputParent(abs: string, flag: string): Promise<void> {
  for (let p = dirname(abs); ; p = dirname(p)) {
    try {
      if (!(await stat(p)).isDirectory()) throw badInput('OUTPUT_NOT_WRITABLE', `${flag} ${abs}: ${p} is a file, not a folder`, `name a file in a folder, e.g. ${flag} results/out.json`);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (dirname(p) === p) return;
    }
  }
}

export async function writeFileAtomic(path: string, content: string): Promise<void> {
  // never rename over something that is not a regular file (see checkOutputFile)
  const existing = await stat(path).catch(() => null);
  if (existing && !existing.isFile()) throw Object.assign(new Error(`${path} exists and is not a regular file`), { code: existing.isDirectory() ? 'EISDIR' : 'ENOTREG' });
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(content, 'utf8');
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/** A result that fails its own schema: a bug in wattbench, never the user's input. */
export class InvalidResultError extends Error {}

/** Validate, then write atomically. Refuses to write an invalid result: that is a bug, not a user error. */
export async function writeResult(path: string, result: WattbenchResult): Promise<void> {
  const text = JSON.stringify(result, null, 2) + '\n';
  // validate what will be on disk, not the object: JSON turns Infinity and NaN into null, which ajv would miss
  const v = validateResult(JSON.parse(text));
  if (!v.ok) {
    const detail = v.problems.map((p) => `${p.pointer}: ${p.message}`).join('; ');
    throw new InvalidResultError(`internal error: the result does not match the schema (${detail.slice(0, 2000)}); please report this`);
  }
  await checkOutputFile(path);
  await makeDir(dirname(path));
  await writeFileAtomic(path, text);
}

/** Where a result goes when its own folder cannot take it (disk full mid-run): never lose hours of measurement. */
export const RESCUE_DIR = join(tmpdir(), 'wattbench-rescue');

/**
 * writeResult, and when the file system refuses (ENOSPC, EROFS, EACCES, ...), the same result into RESCUE_DIR.
 * The rescued copy says so in its errors (RESULT_RESCUED) and points at its raw samples by absolute path, since
 * they stayed in the folder the user chose. Returns where it went; throws only when both places fail (the first
 * error, with the second appended).
 */
export async function writeResultOrRescue(path: string, result: WattbenchResult): Promise<{ path: string; failed?: string }> {
  try {
    await writeResult(path, result);
    return { path };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (err instanceof InvalidResultError) {
      // a bug (a figure no schema admits), not a place problem: the measurement is still kept, beside the samples,
      // under a name no reader mistakes for a valid result, and the run says so (exit 1)
      const invalidPath = path.replace(/\.json$/i, '') + '.invalid.json';
      await writeFileAtomic(invalidPath, JSON.stringify(result, null, 2) + '\n');
      return { path: invalidPath, failed: err.message };
    }
    if (!code) throw err;
    const rescue = join(RESCUE_DIR, basename(path));
    const failed = (err as Error).message;
    const rescued: WattbenchResult = {
      ...result,
      rawSamples: { ...result.rawSamples, file: resolve(dirname(path), result.rawSamples.file) },
      errors: [...result.errors, { code: 'RESULT_RESCUED', message: `could not write ${path} (${failed}); this copy was saved to ${RESCUE_DIR} instead`.slice(0, 8000) }],
    };
    try {
      await writeResult(rescue, rescued);
    } catch (err2) {
      throw Object.assign(new Error(`${failed}; the rescue copy in ${RESCUE_DIR} failed too: ${(err2 as Error).message}`), { code });
    }
    return { path: rescue, failed };
  }
}

/**
 * mkdir -p that cannot spin: Node's own recursive mkdir loops forever on a path under /proc (mkdir answers ENOENT
 * for a child of a folder that exists). Each missing component is created once, in order; the first refusal is thrown.
 */
export async function makeDir(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let p = resolve(dir); ; p = dirname(p)) {
    try {
      if (!(await stat(p)).isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), { code: 'ENOTDIR' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      missing.unshift(p);
      if (dirname(p) === p) break;
    }
  }
  for (const m of missing) {
    try { await mkdir(m); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; }
  }
}

export type LoadedResult =
  | { state: 'ok'; path: string; result: WattbenchResult; upgradedFrom?: number }
  | { state: 'invalid'; path: string; reason: string; problems?: SchemaProblem[] };

/** Largest result file we will parse; a bigger one is refused rather than allowed to exhaust memory. */
export const MAX_RESULT_BYTES = 256 * 1024 * 1024;

/** Deepest JSON nesting we accept. JSON.parse copes with any depth, but JSON.stringify, structuredClone and every
 *  recursive walk (reports, upgrades) overflow the stack near 10,000 levels. A real result is about 8 deep. */
export const MAX_JSON_DEPTH = 128;

/** True when the JSON text nests arrays/objects deeper than `limit`; one pass, no recursion, strings skipped. */
export function nestedDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) { if (++depth > limit) return true; }
    else if (c === 93 || c === 125) depth--;
  }
  return false;
}

export async function loadResult(path: string): Promise<LoadedResult> {
  let text: string;
  try {
    const st = await stat(path);
    if (!st.isFile()) return { state: 'invalid', path, reason: 'not a regular file' };
    if (st.size > MAX_RESULT_BYTES) return { state: 'invalid', path, reason: `file is ${st.size} bytes, over the ${MAX_RESULT_BYTES}-byte limit` };
    text = await readFile(path, 'utf8');
  } catch (err) {
    return { state: 'invalid', path, reason: `cannot read: ${(err as Error).message}` };
  }
  if (nestedDeeperThan(text, MAX_JSON_DEPTH)) return { state: 'invalid', path, reason: `JSON nested deeper than ${MAX_JSON_DEPTH} levels (a result is never that deep; refused before it can overflow the stack of whatever reads it)` };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { state: 'invalid', path, reason: `not valid JSON: ${(err as Error).message}` };
  }
  const up = upgradeResult(data);
  if (up.state === 'unsupported') return { state: 'invalid', path, reason: up.reason };
  const v = validateResult(up.data);
  if (!v.ok) return { state: 'invalid', path, reason: 'does not match the result schema', problems: v.problems };
  return up.state === 'upgraded' ? { state: 'ok', path, result: v.result, upgradedFrom: up.from } : { state: 'ok', path, result: v.result };
}

/** Checked before a run starts: can we create files in this folder? */
export async function checkWritableDir(dir: string): Promise<string | undefined> {
  try {
    await makeDir(dir);
    await access(dir, constants.W_OK);
    const probe = join(dir, `.wattbench-write-test-${randomBytes(4).toString('hex')}`);
    const fh = await open(probe, 'w');
    try { await fh.writeFile('x'); } finally { await fh.close(); await unlink(probe).catch(() => {}); }
    // a disk that is already (nearly) full is known now, not after an hour of measuring
    const fs = await statfs(dir);
    const freeBytes = fs.bavail * fs.bsize;
    if (freeBytes < MIN_FREE_BYTES) return `only ${Math.floor(freeBytes / 1024)} KiB free there (at least ${MIN_FREE_BYTES >> 20} MiB needed for the raw samples and the result)`;
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Free space a run needs before it starts: raw samples of a long multi-device run are tens of MB. */
export const MIN_FREE_BYTES = 8 * 1024 * 1024;
