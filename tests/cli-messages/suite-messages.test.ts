// Suite messages that pointed the reader nowhere (README audit, code problems 4, 5, 6 and 8): an unknown key is
// answered with the keys allowed at that place and the nearest one; a YAML syntax error keeps its whole message on
// one line; an unusable source under defaults: is pointed at /defaults/source; a matrix label says the swept
// value once.
import { describe, it, expect } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { planFromDoc, loadSuite, syntaxMessage } from '../../harness/suite.js';
import { run, planSources } from '../../harness/commands/run.js';
import { makeRunId } from '../../harness/run.js';
import { closestKey } from '../../lib/check.js';
import { smoke } from '../../workloads/smoke.js';
import { expectBadInput } from '../helpers/expect.js';
import { tempDir } from '../helpers/cli.js';
import { captureIO, thrown } from '../helpers/io.js';

const OPTS = { env: {} as NodeJS.ProcessEnv };
const RUN = { workload: 'command', config: { command: ['true'] } };
const SETTINGS = 'repetitions, maxRepetitions, targetCiPct, idleS, cooldownS, intervalMs, timeoutS, devices, source';

function refusal(doc: unknown): unknown {
  try { planFromDoc(doc, 'k.yaml', OPTS); } catch (err) { return err; }
  return undefined;
}

async function suiteFile(name: string, text: string): Promise<string> {
  const p = join(await tempDir('wb-msg-'), name);
  await writeFile(p, text);
  return p;
}

describe('an unknown key names the keys allowed there (audit 4)', () => {
  it.each([
    ['idle', 'idleS'], ['idles', 'idleS'], ['repetiton', 'repetitions'], ['cooldown', 'cooldownS'], ['interval', 'intervalMs'],
  ])('defaults: { %s } → did you mean %s', (key, meant) => {
    const err = refusal({ defaults: { [key]: 3 }, runs: [RUN] });
    expectBadInput(err, 'BAD_CONFIG', new RegExp(`^k\\.yaml: at /defaults: unknown key '${key}'$`), new RegExp(`^did you mean '${meant}'\\? allowed here: ${SETTINGS} \\(see README "Suite files"\\)$`));
  });

  it('without a near key: only the list, for runs, the top level, a source and a workload config', () => {
    expectBadInput(refusal({ runs: [{ ...RUN, bogusKey: 1 }] }), 'BAD_CONFIG', /at \/runs\/0: unknown key 'bogusKey'/,
      /^allowed here: name, workload, config, matrix, repetitions, .*devices \(see README "Suite files"\)$/);
    expectBadInput(refusal({ nmae: 'x', runs: [RUN] }), 'BAD_CONFIG', /at \/: unknown key 'nmae'/, /^did you mean 'name'\? allowed here: name, description, defaults, runs /);
    expectBadInput(refusal({ runs: [{ ...RUN, source: { id: 'replay', option: {} } }] }), 'BAD_CONFIG', /at \/runs\/0\/source: unknown key 'option'/, /^did you mean 'options'\? allowed here: id, options /);
    expectBadInput(refusal({ runs: [{ workload: 'smoke', config: { outputToken: 8 } }] }), 'BAD_CONFIG', /smoke config: at \/runs\/0\/config: unknown key 'outputToken'/,
      /^did you mean 'outputTokens'\? allowed here: durationS, .*outputTokens /);
  });

  it('a value that is wrong (not a key) still says to fix that value', () => {
    expectBadInput(refusal({ defaults: { idleS: -1 }, runs: [RUN] }), 'BAD_CONFIG', /at \/defaults\/idleS: must be >= 0/, /^fix that value \(see README "Suite files"\)$/);
  });

  it('--set answers an unknown key the same way, pointed at the workload keys', async () => {
    const err = await thrown(run.run(['--set', 'durationS=1', '--set', 'outputToken=3', '--quiet', '--out', join(await tempDir(), 'o')], captureIO().io));
    expectBadInput(err, 'BAD_FLAG', /^--set: unknown key 'outputToken'$/, /^did you mean 'outputTokens'\? allowed here: .*Workloads and the event protocol/);
  });

  it('the nearest key: case, one slip, a missing unit; nothing for a stranger', () => {
    expect(closestKey('IDLES', ['idleS', 'cooldownS'])).toBe('idleS');
    expect(closestKey('sorce', ['source', 'devices'])).toBe('source');
    expect(closestKey('timeout', ['timeoutS', 'intervalMs'])).toBe('timeoutS');
    expect(closestKey('colour', ['name', 'runs'])).toBeUndefined();
  });
});

describe('a YAML syntax error is one whole line (audit 5)', () => {
  it('a duplicate key: the message and where, not cut after its colon', async () => {
    const p = await suiteFile('d.yaml', 'runs:\n  - workload: smoke\n    workload: command\n');
    const err = await thrown(loadSuite(p, OPTS));
    expectBadInput(err, 'SUITE_SYNTAX', /not valid YAML: Map keys must be unique at line 3, column 5$/, /fix the syntax/);
    expect((err as Error).message).not.toMatch(/\n|:$/);
  });

  it('an unclosed flow sequence', async () => {
    const p = await suiteFile('e.yaml', 'runs: [1, 2\n');
    expectBadInput(await thrown(loadSuite(p, OPTS)), 'SUITE_SYNTAX', /not valid YAML: Flow sequence .* end with a \] at line 2, column 1$/, /fix the syntax/);
  });

  it('syntaxMessage drops the source frame and joins other line breaks', () => {
    expect(syntaxMessage('Map keys must be unique at line 2, column 1:\n\na: 1\na: 2\n^\n')).toBe('Map keys must be unique at line 2, column 1');
    expect(syntaxMessage('first part\n  second part')).toBe('first part second part');
  });
});

describe('a source under defaults: is pointed at /defaults/source (audit 6)', () => {
  const suite = (source: string) => `defaults: { repetitions: 1, idleS: 0, cooldownS: 0${source} }\nruns:\n  - { name: decode, workload: smoke, matrix: { outputTokens: [8, 16] } }\n`;

  it('the remedy names /defaults/source, not the first run', async () => {
    const p = await suiteFile('s2.yaml', suite(', source: { id: replay, options: { file: missing.csv } }'));
    const err = await thrown(run.run([p, '--quiet', '--out', join(await tempDir(), 'o')], captureIO().io));
    expectBadInput(err, 'SOURCE_UNAVAILABLE', /power source 'replay' does not work here/, /change the source: under defaults: \(\/defaults\/source\) in .*s2\.yaml, or remove it/);
    expect((err as { remedy: string }).remedy).not.toMatch(/\/runs\//);
  });

  it('a run\'s own source: is still pointed at that run, whatever defaults: says', async () => {
    const p = await suiteFile('s3.yaml', 'defaults: { source: estimate }\nruns:\n  - { workload: smoke }\n  - { name: own, workload: smoke, source: { id: replay, options: { file: t.csv } } }\n');
    const plan = await loadSuite(p, OPTS);
    expect(plan.runs.map((r) => r.sourcePointer)).toEqual(['/defaults/source', '/runs/1/source']);
    const [first, second] = planSources(plan.runs, undefined, undefined, p);
    expect(first!.leaveOut).toMatch(/under defaults: \(\/defaults\/source\)/);
    expect(second!.leaveOut).toMatch(/the source: of run 2 \('own', \/runs\/1\)/);
  });
});

describe('a matrix label says the swept value once (audit 8)', () => {
  const serveRun = (matrix: Record<string, unknown[]>) =>
    ({ workload: 'serve', config: { url: 'http://127.0.0.1:9', model: 'm', requests: 64, inputTokens: 4, ...(matrix.outputTokens ? {} : { outputTokens: 4 }) }, matrix });
  const labels = (doc: unknown) => planFromDoc(doc, 'k.yaml', OPTS).runs.map((r) => r.label);

  it('serve\'s own name shows the concurrency: no "(concurrency=N)" after it, nor in the file name', () => {
    const got = labels({ runs: [serveRun({ concurrency: [1, 4] })] });
    expect(got).toEqual(['serve m (completions, concurrency 1)', 'serve m (completions, concurrency 4)']);
    for (const l of got) expect(makeRunId(`[1/2] ${l}`)).not.toMatch(/concurrency-\d+-concurrenc/);
    // nor the plan position the progress puts before it
    expect(makeRunId(`[1/2] ${got[0]}`, new Date('2026-12-07T13:00:00Z'))).toMatch(/^20261207T130000Z-serve-m-completions-concurrency-1-[0-9a-f]{4}$/);
  });

  it('a key the name does not show stays in the suffix; a run\'s own name shows none', () => {
    expect(labels({ runs: [serveRun({ concurrency: [1, 4], outputTokens: [8, 16] })] })).toEqual([
      'serve m (completions, concurrency 1) (outputTokens=8)', 'serve m (completions, concurrency 1) (outputTokens=16)',
      'serve m (completions, concurrency 4) (outputTokens=8)', 'serve m (completions, concurrency 4) (outputTokens=16)',
    ]);
    expect(labels({ runs: [{ name: 'decode', workload: 'smoke', matrix: { outputTokens: [32, 128] } }] })).toEqual(['decode (outputTokens=32)', 'decode (outputTokens=128)']);
    const smokeName = smoke.describe(smoke.resolve({}, '/c', OPTS)).name; // smoke's name does not show outputTokens
    expect(labels({ runs: [{ workload: 'smoke', matrix: { outputTokens: [32, 128] } }] })).toEqual([`${smokeName} (outputTokens=32)`, `${smokeName} (outputTokens=128)`]);
  });
});
