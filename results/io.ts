// Reading and writing result files. Writes are atomic (temp file in the same folder, fsync, rename) so a crash
// or a full disk never leaves a half-written result where a finished one is expected.
import { open, rename, unlink, readFile, mkdir, access, constants, stat } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { validateResult, type SchemaProblem } from './validate.js';
import { upgradeResult } from './upgrade.js';
import type { WattbenchResult } from './types.gen.js';

export async function writeFileAtomic(path: string, content: string): Promise<void> {
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

/** Validate, then write atomically. Refuses to write an invalid result: that is a bug, not a user error. */
export async function writeResult(path: string, result: WattbenchResult): Promise<void> {
  const v = validateResult(result);
  if (!v.ok) {
    const detail = v.problems.map((p) => `${p.pointer}: ${p.message}`).join('; ');
    throw new Error(`internal error: the result does not match the schema (${detail})`);
  }
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, JSON.stringify(result, null, 2) + '\n');
}

export type LoadedResult =
  | { state: 'ok'; path: string; result: WattbenchResult; upgradedFrom?: number }
  | { state: 'invalid'; path: string; reason: string; problems?: SchemaProblem[] };

/** Largest result file we will parse; a bigger one is refused rather than allowed to exhaust memory. */
export const MAX_RESULT_BYTES = 256 * 1024 * 1024;

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
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
    const probe = join(dir, `.wattbench-write-test-${randomBytes(4).toString('hex')}`);
    const fh = await open(probe, 'w');
    await fh.writeFile('x');
    await fh.close();
    await unlink(probe);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
