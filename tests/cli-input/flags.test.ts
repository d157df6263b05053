// Flag values that used to be accepted and then ignored or misread: --progress (audit #9), --out '' (audit #10),
// malformed JSON in --set, --max-repetitions that cannot take effect (audit, low).
import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { run } from '../../harness/commands/run.js';
import { serve } from '../../harness/commands/serve.js';
import { expectBadInput } from '../helpers/expect.js';
import { tempDir, runCli, writeConstantTrace } from '../helpers/cli.js';
import { captureIO, thrown } from '../helpers/io.js';

const CMD = ['--workload', 'command', '--set', 'command=["true"]', '--source', 'estimate', '--idle', '0', '--cooldown', '0', '--repetitions', '1'];
const SERVE = ['--url', 'http://127.0.0.1:9', '--model', 'm', '--concurrency', '1', '--requests', '2', '--input-tokens', '4', '--output-tokens', '4'];

describe('--progress', () => {
  it.each(['bogus', 'TTY', ''])('run and serve refuse %j, also beside --quiet', async (v) => {
    for (const [cmd, args] of [[run, CMD], [serve, SERVE]] as const) {
      for (const quiet of [[], ['--quiet']]) {
        const err = await thrown(cmd.run([...args, ...quiet, '--progress', v], captureIO().io));
        expectBadInput(err, 'BAD_FLAG', /^--progress ".*" is not a progress mode/, /auto \| tty \| plain \| quiet/);
      }
    }
  });

  it('plain (a valid mode) writes no terminal escape codes into a pipe', async () => {
    const dir = await tempDir('wb-progress-');
    const trace = await writeConstantTrace(dir, 50, 10);
    const r = await runCli(['run', '--workload', 'command', '--set', `command=${JSON.stringify([process.execPath, '-e', 'console.log(JSON.stringify({event:"window_start"}));setTimeout(()=>{console.log(JSON.stringify({event:"tokens",tokens:5}));console.log(JSON.stringify({event:"window_end"}))},300)'])}`,
      '--source', 'replay', '--source-opt', `file=${trace}`, '--idle', '0', '--cooldown', '0', '--repetitions', '1', '--out', join(dir, 'o'), '--progress', 'plain']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/\x1b\[/);
  });
});

describe('--out', () => {
  it.each([[''], ['  ']])('run and serve refuse %j (it resolved to the current folder)', async (v) => {
    for (const [cmd, args] of [[run, CMD], [serve, SERVE]] as const) {
      const err = await thrown(cmd.run([...args, '--quiet', '--out', v], captureIO().io));
      expectBadInput(err, 'BAD_FLAG', /^--out is empty/, /--out /);
    }
  });
});

describe('--set', () => {
  it('malformed JSON says the JSON did not parse, with no suite-file pointer or remedy', async () => {
    const err = await thrown(run.run(['--workload', 'command', '--set', 'command=["node","ok2.mjs"', '--quiet'], captureIO().io));
    expectBadInput(err, 'BAD_FLAG', /^--set command: the value is not valid JSON/, /quote the whole value/);
    expect((err as Error).message).not.toMatch(/must be array|\/runs\/0/);
    expect((err as { remedy: string }).remedy).not.toMatch(/Suite files/);
  });

  it('valid JSON of the wrong type names the --set key, not a suite pointer', async () => {
    const err = await thrown(run.run(['--workload', 'command', '--set', 'command=5', '--quiet'], captureIO().io));
    expectBadInput(err, 'BAD_FLAG', /^--set command: must be array/, /wattbench run --help/);
    expect((err as { remedy: string }).remedy).not.toMatch(/Suite files/);
  });
});

describe('--max-repetitions', () => {
  it('without --target-ci it would be ignored: refused (run and serve)', async () => {
    for (const [cmd, args] of [[run, CMD], [serve, SERVE]] as const) {
      const err = await thrown(cmd.run([...args, '--quiet', '--max-repetitions', '4'], captureIO().io));
      expectBadInput(err, 'BAD_FLAG', /^--max-repetitions: a maximum number of repetitions is set without a CI target/, /--target-ci/);
    }
  });

  it('below --repetitions it would be ignored: refused', async () => {
    const err = await thrown(run.run([...CMD, '--quiet', '--target-ci', '2%', '--max-repetitions', '1', '--repetitions', '3'], captureIO().io));
    expectBadInput(err, 'BAD_FLAG', /maximum number of repetitions \(1\) is below the number to run \(3\)/, /raise --max-repetitions/);
  });

  it('a suite entry with maxRepetitions below its repetitions is refused with its pointer', async () => {
    const dir = await tempDir('wb-maxrep-');
    const suite = join(dir, 's.json');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(suite, JSON.stringify({ defaults: { repetitions: 5, targetCiPct: 2 }, runs: [{ workload: 'command', maxRepetitions: 2, config: { command: ['true'] } }] }));
    const err = await thrown(run.run([suite, '--quiet', '--out', join(dir, 'o')], captureIO().io));
    expectBadInput(err, 'BAD_CONFIG', /s\.json: at \/runs\/0 .*maximum number of repetitions \(2\) is below the number to run \(5\)/, /maxRepetitions/);
  });
});
