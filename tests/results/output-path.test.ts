// Output file paths: a FIFO, a device node or a folder is never replaced by a rename, and a path under a file is
// one exit-2 line, for every command that writes a named file (analyse --out, merge --out).
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkOutputFile, writeFileAtomic } from '../../results/io.js';
import { WattbenchError } from '../../lib/errors.js';
import { tempDir } from '../helpers/cli.js';

async function refusal(p: Promise<unknown>): Promise<WattbenchError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(WattbenchError);
  expect((err as WattbenchError).exit).toBe(2);
  return err as WattbenchError;
}

describe('checkOutputFile', () => {
  it('accepts a new file (even in folders still to be made) and an existing regular file', async () => {
    const dir = await tempDir('wb-outpath-');
    await expect(checkOutputFile(join(dir, 'a', 'b', 'r.json'))).resolves.toBeUndefined();
    await writeFile(join(dir, 'old.json'), '{}');
    await expect(checkOutputFile(join(dir, 'old.json'))).resolves.toBeUndefined();
  });
  it('refuses a folder, a path under a file, a device node and a FIFO, naming the path', async () => {
    const dir = await tempDir('wb-outpath-');
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'file'), 'x');
    expect((await refusal(checkOutputFile(join(dir, 'sub')))).message).toMatch(/is a folder/);
    expect((await refusal(checkOutputFile(join(dir, 'file', 'r.json')))).message).toMatch(/is a file, not a folder|a part of that path is a file/);
    expect((await refusal(checkOutputFile('/dev/null'))).message).toMatch(/not a regular file/);
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    expect((await refusal(checkOutputFile(join(dir, 'fifo')))).code).toBe('OUTPUT_NOT_WRITABLE');
  });
  it('writeFileAtomic never renames over something that is not a regular file', async () => {
    const dir = await tempDir('wb-outpath-');
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    await expect(writeFileAtomic(join(dir, 'fifo'), '{}')).rejects.toThrow(/not a regular file/);
    expect((await stat(join(dir, 'fifo'))).isFIFO()).toBe(true);
  });
});

describe('a result that fails its own schema', () => {
  it('is kept as RUN.invalid.json beside where it was due, and reported as not written (never lost)', async () => {
    const { writeResultOrRescue } = await import('../../results/io.js');
    const dir = await tempDir('wb-invalid-');
    const broken = { schemaVersion: 1, runId: 'r', summary: { energyJ: null } } as never;
    const w = await writeResultOrRescue(join(dir, 'r.json'), broken);
    expect(w.path).toBe(join(dir, 'r.invalid.json'));
    expect(w.failed).toMatch(/does not match the schema/);
    expect(JSON.parse(await (await import('node:fs/promises')).readFile(w.path, 'utf8'))).toMatchObject({ runId: 'r' });
    await expect(stat(join(dir, 'r.json'))).rejects.toThrow();
  });
});
