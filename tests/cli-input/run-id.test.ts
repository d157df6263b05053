// --run-id names the result and raw-samples files: it is checked before anything runs (audit #2), in run, serve
// and merge, including the -N suffix a plan of several runs adds.
import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../harness/commands/run.js';
import { serve } from '../../harness/commands/serve.js';
import { merge } from '../../harness/commands/merge.js';
import { expectBadInput } from '../helpers/expect.js';
import { tempDir, writeConstantTrace } from '../helpers/cli.js';
import { captureIO, thrown } from '../helpers/io.js';

const BAD = ['../escaped', 'a/b', 'a b', '', '..', 'a'.repeat(129), 'x\ny'];

describe('--run-id', () => {
  it.each(BAD.map((id) => [JSON.stringify(id).slice(0, 30), id]))('run refuses %s before anything runs', async (_shown, id) => {
    const dir = await tempDir('wb-runid-');
    const trace = await writeConstantTrace(dir, 100, 2);
    const out = join(dir, 'out');
    const err = await thrown(run.run(['--workload', 'command', '--set', `command=${JSON.stringify([process.execPath, '-e', 'process.exit(3)'])}`,
      '--source', 'replay', '--source-opt', `file=${trace}`, '--idle', '0', '--cooldown', '0', '--repetitions', '1', '--quiet', '--out', out, '--run-id', id], captureIO().io));
    expectBadInput(err, 'BAD_FLAG', /^--run-id .* is not a usable file name: only letters, digits/, /e\.g\. --run-id /);
    expect((err as Error).message).not.toMatch(/\n/);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(join(dir, 'escaped.samples.jsonl'))).toBe(false);
  });

  it('a suite of several runs checks the ids it will write (ID-0 … ID-N): 127 characters plus -1 is too long', async () => {
    const dir = await tempDir('wb-runid-');
    const suite = join(dir, 's.yaml');
    await writeFile(suite, 'runs:\n  - workload: command\n    config: { command: ["true"] }\n  - workload: command\n    config: { command: ["false"] }\n');
    const err = await thrown(run.run([suite, '--run-id', 'a'.repeat(127), '--quiet', '--out', join(dir, 'out')], captureIO().io));
    expectBadInput(err, 'BAD_FLAG', /at most 126 characters \(the 2 runs add -0 … -1\)/, /--run-id/);
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it('serve refuses it before contacting the server', async () => {
    const err = await thrown(serve.run(['--url', 'http://127.0.0.1:9', '--model', 'm', '--concurrency', '1', '--requests', '2', '--input-tokens', '4', '--output-tokens', '4',
      '--run-id', '../up', '--quiet'], captureIO().io));
    expectBadInput(err, 'BAD_FLAG', /^--run-id "\.\.\/up" is not a usable file name/, /--run-id/);
  });

  it('merge refuses it before reading the shards or writing anything', async () => {
    const dir = await tempDir('wb-runid-');
    const err = await thrown(merge.run([join(dir, 'no-such-job'), '--out', join(dir, 'm.json'), '--run-id', '../bad id'], captureIO().io));
    expectBadInput(err, 'BAD_FLAG', /^--run-id "\.\.\/bad id" is not a usable file name/, /--run-id/);
    expect(await readdir(dir)).toEqual([]);
  });
});
