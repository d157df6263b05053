// report's number flags and remedies; validate/report say each bad file in one line; validate DIR says how to
// pass the folder's files.
import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { writeFile, mkdir } from 'node:fs/promises';
import { report } from '../../harness/commands/report.js';
import { validate } from '../../harness/commands/validate.js';
import { num } from '../../harness/commands/command.js';
import { expectBadInput } from '../helpers/expect.js';
import { tempDir } from '../helpers/cli.js';
import { EXIT } from '../../lib/errors.js';
import { captureIO, thrown } from '../helpers/io.js';

/** A file that is not JSON, where node's parse error quotes the file's own line breaks. */
async function multiLineBadJson(dir: string): Promise<string> {
  const p = join(dir, 'bad.json');
  await writeFile(p, '{\n  "schemaVersion": x\n}\n');
  return p;
}

describe('report number flags', () => {
  it('--pue abc suggests a PUE that is accepted (≥ 1)', async () => {
    const dir = await tempDir('wb-report-flags-');
    for (const bad of ['abc', '', '0x2']) {
      const err = await thrown(report.run([dir, '--out', join(dir, 'r'), '--pue', bad], captureIO().io));
      expectBadInput(err, 'BAD_FLAG', /^--pue '/, /--pue \d/);
      const example = Number(/--pue (\S+)/.exec((err as { remedy: string }).remedy)![1]);
      expect(example).toBeGreaterThanOrEqual(1);
    }
    expectBadInput(await thrown(report.run([dir, '--out', join(dir, 'r'), '--pue', '0.5'], captureIO().io)), 'BAD_FLAG', /below 1/, /--pue 1\.\d/);
  });

  it('price and carbon refuse blanks and hex instead of reading them as 0 or 2', async () => {
    const dir = await tempDir('wb-report-flags-');
    for (const flag of ['--price-per-kwh', '--carbon-g-per-kwh']) {
      for (const bad of ['', ' ', '0x2', '-1']) {
        const err = await thrown(report.run([dir, '--out', join(dir, 'r'), `${flag}=${bad}`], captureIO().io));
        expectBadInput(err, 'BAD_FLAG', new RegExp(`^${flag} '`), new RegExp(`${flag} \\d`));
        expect(num(/e\.g\. \S+ (\S+)/.exec((err as { remedy: string }).remedy)![1], flag, { min: 0 })).toBeGreaterThanOrEqual(0);
      }
    }
  });
});

describe('one line per bad file', () => {
  it('validate: a JSON parse error is one line', async () => {
    const dir = await tempDir('wb-validate-');
    const bad = await multiLineBadJson(dir);
    const { io, out } = captureIO();
    expect(await validate.run([bad], io)).toBe(EXIT.BAD_INPUT);
    expect(out()).toMatch(new RegExp(`^${bad}: invalid — not valid JSON: .+\\n$`));
    expect(out().trimEnd().split('\n')).toHaveLength(1);
  });

  it('validate --json: the reason has no line break either', async () => {
    const dir = await tempDir('wb-validate-');
    const bad = await multiLineBadJson(dir);
    const { io, out } = captureIO();
    await validate.run([bad, '--json'], io);
    expect(JSON.parse(out())[0].reason).not.toMatch(/[\r\n]/);
  });

  it('validate DIR is refused with how to pass its files', async () => {
    const dir = await tempDir('wb-validate-');
    const sub = join(dir, 'runs');
    await mkdir(sub);
    const { io, out } = captureIO();
    expect(await validate.run([sub], io)).toBe(EXIT.BAD_INPUT);
    expect(out()).toBe(`${sub}: invalid — not a regular file (a folder: pass its files, e.g. ${join(sub, '*.json')})\n`);
  });

  it('report: each skipped file is one line on stderr', async () => {
    const dir = await tempDir('wb-report-lines-');
    const bad = await multiLineBadJson(dir);
    const { io, err } = captureIO();
    expectBadInput(await thrown(report.run([bad, '--out', join(dir, 'r')], io)), 'NO_RESULTS', /no valid result/, /validate/);
    expect(err()).toMatch(new RegExp(`^skipped ${bad}: not valid JSON: .+\\n$`));
    expect(err().trimEnd().split('\n')).toHaveLength(1);
  });
});
