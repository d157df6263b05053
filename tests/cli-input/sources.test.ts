// Power sources and their options are settled before anything runs: every source a plan forces is probed first
// (audit #5), --source-opt keys a driver does not declare are refused, K=V without --source is refused, and the
// SOURCE.K=V form that `devices --help` teaches works in run, serve and sample (audit #8).
import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../harness/commands/run.js';
import { serve } from '../../harness/commands/serve.js';
import { planFromDoc } from '../../harness/suite.js';
import { expectBadInput } from '../helpers/expect.js';
import { tempDir, writeConstantTrace, writeScript, runCli, resultFiles, readJson } from '../helpers/cli.js';
import { captureIO, thrown } from '../helpers/io.js';

const FAST = ['--idle', '0', '--cooldown', '0', '--repetitions', '1', '--quiet'];

/** A protocol workload with one ~0.6 s window that writes a marker file when it runs. */
async function workload(dir: string): Promise<{ command: string[]; ran: string }> {
  const ran = join(dir, 'ran.txt');
  const script = await writeScript(dir, 'wl.mjs', `
    import { appendFileSync } from 'node:fs';
    appendFileSync(${JSON.stringify(ran)}, 'x');
    const emit = (e) => console.log(JSON.stringify(e));
    emit({ event: 'window_start' });
    for (let i = 0; i < 6; i++) { await new Promise((r) => setTimeout(r, 100)); emit({ event: 'tokens', tokens: 10 }); }
    emit({ event: 'window_end' });
  `);
  return { command: [process.execPath, script], ran };
}

describe('every source a suite forces is probed before the first measurement', () => {
  it('a later run\'s missing trace: exit 2, nothing measured, and the remedy names the run and the suite (not --source)', async () => {
    const dir = await tempDir('wb-late-');
    const trace = await writeConstantTrace(dir, 100, 10);
    const { command, ran } = await workload(dir);
    const suite = join(dir, 'late.yaml');
    const cmd = JSON.stringify(command);
    await writeFile(suite, [
      'defaults: { repetitions: 1, idleS: 0, cooldownS: 0 }',
      'runs:',
      `  - { workload: command, source: { id: replay, options: { file: ${JSON.stringify(trace)} } }, config: { command: ${cmd} } }`,
      `  - { name: second, workload: command, source: { id: replay, options: { file: missing-trace.csv } }, config: { command: ${cmd} } }`,
      `  - { workload: command, source: { id: replay, options: { file: ${JSON.stringify(trace)} } }, config: { command: ${cmd} } }`,
    ].join('\n') + '\n');
    const out = join(dir, 'out');
    const err = await thrown(run.run([suite, '--out', out, '--quiet'], captureIO().io));
    expectBadInput(err, 'SOURCE_UNAVAILABLE', /power source 'replay' does not work here: cannot read the trace/, /run 2 \('second', \/runs\/1\) in .*late\.yaml/);
    expect((err as { remedy: string }).remedy).not.toMatch(/--source/);
    expect(existsSync(ran)).toBe(false);
    expect(existsSync(out) ? await readdir(out) : []).toEqual([]);
  });

  it('a forced --source that does not work: the remedy speaks of --source', async () => {
    const dir = await tempDir('wb-late-');
    const err = await thrown(run.run(['--workload', 'command', '--set', 'command=["true"]', '--source', 'replay', '--source-opt', `file=${join(dir, 'nope.csv')}`, ...FAST, '--out', join(dir, 'o')], captureIO().io));
    expectBadInput(err, 'SOURCE_UNAVAILABLE', /does not work here/, /leave out --source/);
  });
});

describe('--source-opt', () => {
  it('a key the source does not declare is refused, naming the keys it takes', async () => {
    const err = await thrown(run.run(['--workload', 'command', '--set', 'command=["true"]', '--source', 'estimate', '--source-opt', 'tdpw=300', ...FAST, '--out', join(await tempDir(), 'o')], captureIO().io));
    expectBadInput(err, 'BAD_OPTION', /--source-opt tdpw: power source 'estimate' has no option 'tdpw'/, /estimate takes: tdp-w/);
    const err2 = await thrown(run.run(['--workload', 'command', '--set', 'command=["true"]', '--source', 'replay', '--source-opt', 'file=x.csv', '--source-opt', 'bogus=1', ...FAST], captureIO().io));
    expectBadInput(err2, 'BAD_OPTION', /has no option 'bogus'/, /replay takes: file, speed, loop/);
    const err3 = await thrown(serve.run(['--url', 'http://127.0.0.1:9', '--model', 'm', '--concurrency', '1', '--requests', '2', '--input-tokens', '4', '--output-tokens', '4',
      '--source', 'estimate', '--source-opt', 'tdpw=300', '--quiet'], captureIO().io));
    expectBadInput(err3, 'BAD_OPTION', /has no option 'tdpw'/, /tdp-w/);
  });

  it('K=V without --source is refused, in run and serve (it used to be dropped and the run measured with estimate)', async () => {
    const err = await thrown(run.run(['--workload', 'command', '--set', 'command=["true"]', '--source-opt', 'file=long.csv', ...FAST], captureIO().io));
    expectBadInput(err, 'BAD_FLAG', /--source-opt file=… is given without --source/, /name the source with --source NAME/);
    const err2 = await thrown(serve.run(['--url', 'http://127.0.0.1:9', '--model', 'm', '--concurrency', '1', '--requests', '2', '--input-tokens', '4', '--output-tokens', '4',
      '--source-opt', 'file=x.csv', '--quiet'], captureIO().io));
    expectBadInput(err2, 'BAD_FLAG', /without --source/, /--source NAME/);
  });

  it('SOURCE.K=V for a source other than --source is refused', async () => {
    const err = await thrown(run.run(['--workload', 'command', '--set', 'command=["true"]', '--source', 'estimate', '--source-opt', 'replay.file=x.csv', ...FAST], captureIO().io));
    expectBadInput(err, 'BAD_FLAG', /replay\.file=… is for replay, but --source estimate is measured/, /leave it out/);
  });

  it('SOURCE.K=V works in run with and without --source, and in sample', async () => {
    const dir = await tempDir('wb-scoped-');
    const trace = await writeConstantTrace(dir, 123, 10);
    const { command } = await workload(dir);
    const withFlag = await runCli(['run', '--workload', 'command', '--set', `command=${JSON.stringify(command)}`, '--source', 'replay', '--source-opt', `replay.file=${trace}`, ...FAST, '--out', join(dir, 'a')]);
    expect(withFlag.exitCode, withFlag.stderr).toBe(0);
    // without --source: the option goes to replay whichever source is chosen; replay is the one that works with it
    const suite = join(dir, 's.yaml');
    await writeFile(suite, `runs:\n  - workload: command\n    source: replay\n    config: { command: ${JSON.stringify(command)} }\n`);
    const fromSuite = await runCli(['run', suite, '--source-opt', `replay.file=${trace}`, ...FAST, '--out', join(dir, 'b')]);
    expect(fromSuite.exitCode, fromSuite.stderr).toBe(0);
    for (const d of ['a', 'b']) {
      const [res] = await resultFiles(join(dir, d));
      const r = await readJson(res!);
      expect(r.sources[0].id).toBe('replay');
      expect(r.sources[0].semantics.note).toContain(trace); // measured from the trace given as replay.file
      expect(r.repetitions[0].figures.meanPowerW).toBeCloseTo(123, 3);
    }
    const sampled = await runCli(['sample', '--source', 'replay', '--source-opt', `replay.file=${trace}`, '--duration', '0.3', '--json']);
    expect(sampled.exitCode, sampled.stderr).toBe(0);
    expect(JSON.parse(sampled.stdout).summary.source).toBe('replay');
  });
});

describe('source options in a suite', () => {
  it('an option the driver does not declare is refused with its JSON pointer', () => {
    for (const [doc, pointer] of [
      [{ runs: [{ workload: 'command', source: { id: 'replay', options: { fil: 'x.csv' } }, config: { command: ['true'] } }] }, '/runs/0/source/options/fil'],
      [{ defaults: { source: { id: 'estimate', options: { tdpw: 3 } } }, runs: [{ workload: 'command', config: { command: ['true'] } }] }, '/defaults/source/options/tdpw'],
    ] as const) {
      let err: unknown;
      try { planFromDoc(doc, 's.yaml', { env: {} }); } catch (e) { err = e; }
      expectBadInput(err, 'BAD_CONFIG', new RegExp(`^s\\.yaml: at ${pointer.replace(/\//g, '\\/')}: power source '\\w+' has no option`), /takes: /);
    }
  });
});
