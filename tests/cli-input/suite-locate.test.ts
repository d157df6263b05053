// Which file a suite argument names: a folder is never a suite, so a folder called like a built-in suite (an
// earlier `--out quick`) does not shadow it.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { locateSuite } from '../../harness/suite.js';
import { expectBadInput } from '../helpers/expect.js';
import { tempDir } from '../helpers/cli.js';

const home = process.cwd();
afterEach(() => process.chdir(home));

describe('locateSuite', () => {
  it('a folder named like a built-in suite: the built-in suite', async () => {
    const dir = await tempDir('wb-locate-');
    await mkdir(join(dir, 'quick'));
    process.chdir(dir);
    expect(await locateSuite('quick')).toBe(join(home, 'suites', 'quick.yaml'));
  });

  it('a file named like a built-in suite: that file', async () => {
    const dir = await tempDir('wb-locate-');
    await writeFile(join(dir, 'quick'), 'runs: [{ workload: smoke }]\n');
    process.chdir(dir);
    expect(await locateSuite('quick')).toBe(join(dir, 'quick'));
  });

  it('a folder that is no built-in name: exit 2 that says it is a folder', async () => {
    const dir = await tempDir('wb-locate-');
    await mkdir(join(dir, 'mine'));
    process.chdir(dir);
    const e1 = await locateSuite('mine').catch((e) => e);
    expectBadInput(e1, 'SUITE_NOT_FOUND', /'mine' is a folder/, /suite file/);
    const e2 = await locateSuite(join(dir, 'mine')).catch((e) => e);
    expectBadInput(e2, 'SUITE_NOT_FOUND', /is a folder, not a suite file/, /inside it/);
  });
});
