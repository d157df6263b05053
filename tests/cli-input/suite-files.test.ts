// Suite files: unknown keys under defaults: (audit #7), JSON parsed as strictly as YAML (BOM, duplicate keys), an
// empty file said to be empty, oneOf errors at the deepest pointer, and relative trace/dataset paths taken from the
// suite file's folder (audit, low).
import { describe, it, expect } from 'vitest';
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadSuite, planFromDoc } from '../../harness/suite.js';
import { expectBadInput } from '../helpers/expect.js';
import { tempDir, runCli, writeConstantTrace } from '../helpers/cli.js';

const OPTS = { env: {} as NodeJS.ProcessEnv };
const RUN = { workload: 'command', config: { command: ['true'] } };

function refusal(doc: unknown): unknown {
  try { planFromDoc(doc, 's.yaml', OPTS); } catch (err) { return err; }
  return undefined;
}

async function loaded(name: string, text: string | Buffer): Promise<unknown> {
  const dir = await tempDir('wb-suitefile-');
  const p = join(dir, name);
  await writeFile(p, text);
  try { return await loadSuite(p, OPTS); } catch (err) { return err; }
}

describe('defaults:', () => {
  it.each(['repetiton', 'idles', 'workload', 'config'])('an unknown key %j is refused with its pointer', (key) => {
    expectBadInput(refusal({ defaults: { [key]: 5, idleS: 0 }, runs: [RUN] }), 'BAD_CONFIG', new RegExp(`^s\\.yaml: at /defaults: unknown key '${key}'`), /Suite files/);
  });

  it('every setting a run takes is allowed there, and a run may still override it', () => {
    const settings = { repetitions: 2, maxRepetitions: 4, targetCiPct: 5, idleS: 1, cooldownS: 1, intervalMs: 50, timeoutS: 9, devices: [0], source: { id: 'replay', options: { file: '/x.csv' } } };
    const plan = planFromDoc({ defaults: settings, runs: [{ ...RUN, ...settings, repetitions: 3 }, RUN] }, 's.yaml', OPTS);
    expect(plan.runs[0]).toMatchObject({ ...settings, repetitions: 3 });
    expect(plan.runs[1]).toMatchObject(settings);
    expectBadInput(refusal({ runs: [{ ...RUN, bogusKey: 1 }] }), 'BAD_CONFIG', /at \/runs\/0: unknown key 'bogusKey'/, /Suite files/);
  });
});

describe('source: errors point at the deepest failing member', () => {
  it.each([
    [{ id: 'replay', options: { file: [1] } }, /at \/runs\/0\/source\/options\/file: must be string or number or boolean/],
    [5, /at \/runs\/0\/source: must be string or object/],
    [{ id: 'replay', bogus: 1 }, /at \/runs\/0\/source: unknown key 'bogus'/],
    [{ options: {} }, /at \/runs\/0\/source: missing required key 'id'/],
  ])('%j', (source, message) => {
    expectBadInput(refusal({ runs: [{ ...RUN, source }] }), 'BAD_CONFIG', message, /Suite files/);
  });
});

describe('JSON suites are read as strictly as YAML ones', () => {
  it('a UTF-8 byte order mark is accepted', async () => {
    const plan = await loaded('bom.json', '\uFEFF' + JSON.stringify({ runs: [RUN] }));
    expect(plan).toMatchObject({ runs: [{ pointer: '/runs/0' }] });
  });

  it('a duplicate key is refused with its pointer (JSON.parse would keep the last)', async () => {
    expectBadInput(await loaded('dup.json', '{"defaults":{"repetitions":1,"repetitions":2},"runs":[{"workload":"command","config":{"command":["true"]}}]}'),
      'SUITE_SYNTAX', /dup\.json: at \/defaults\/repetitions: the key 'repetitions' appears twice/, /keep one/);
    expectBadInput(await loaded('dup2.json', '{"runs":[{"workload":"command","config":{"command":["true"]}},{"workload":"x","config":{"a":1,"b":{"c":"}"},"\\u0061":2}}]}'),
      'SUITE_SYNTAX', /at \/runs\/1\/config\/a: the key 'a' appears twice/, /keep one/);
    // equal keys in different objects are fine
    expect(await loaded('ok.json', JSON.stringify({ name: 'n', runs: [{ name: 'a', ...RUN }, { name: 'b', ...RUN }] }))).toMatchObject({ name: 'n' });
  });

  it.each([['empty.yaml', ''], ['empty.json', ''], ['blank.json', ' \n\n'], ['comments.yaml', '# nothing yet\n\n---\n']])('%s: "the file is empty"', async (name, text) => {
    expectBadInput(await loaded(name, text), 'SUITE_EMPTY', /the file is empty/, /runs:/);
  });
});

describe('relative paths in a suite are taken from the suite file\'s folder', () => {
  it('replay\'s file (defaults and runs) and serve\'s dataset; absolute paths and the command are left alone', async () => {
    const dir = await tempDir('wb-suitefile-');
    await mkdir(join(dir, 'sub'));
    const p = join(dir, 'sub', 's.yaml');
    await writeFile(p, [
      'defaults: { source: { id: replay, options: { file: traces/a.csv, speed: 2 } } }',
      'runs:',
      '  - workload: command',
      '    config: { command: ["node", "bench.mjs"] }',
      '  - workload: command',
      '    source: { id: replay, options: { file: /abs/b.csv } }',
      '    config: { command: ["true"] }',
      '  - workload: serve',
      '    config: { url: "http://127.0.0.1:9", model: m, concurrency: 1, requests: 2, dataset: data/p.jsonl }',
    ].join('\n') + '\n');
    const plan = await loadSuite(p, OPTS);
    expect(plan.runs[0]!.source).toEqual({ id: 'replay', options: { file: join(dir, 'sub', 'traces', 'a.csv'), speed: 2 } });
    expect((plan.runs[0]!.config as { command: string[] }).command).toEqual(['node', 'bench.mjs']);
    expect(plan.runs[1]!.source).toEqual({ id: 'replay', options: { file: '/abs/b.csv' } });
    expect((plan.runs[2]!.config as { dataset: string }).dataset).toBe(join(dir, 'sub', 'data', 'p.jsonl'));
  });

  it('a run from another folder finds the suite\'s trace', async () => {
    const dir = await tempDir('wb-suitefile-');
    await writeConstantTrace(dir, 80, 10);
    const wl = join(dir, 'wl.mjs');
    await writeFile(wl, 'const e=(o)=>console.log(JSON.stringify(o));e({event:"window_start"});setTimeout(()=>{e({event:"tokens",tokens:5});e({event:"window_end"})},400);');
    const p = join(dir, 's.yaml');
    await writeFile(p, `defaults: { repetitions: 1, idleS: 0, cooldownS: 0, source: { id: replay, options: { file: trace-80w.csv } } }\nruns:\n  - workload: command\n    config: { command: ${JSON.stringify([process.execPath, wl])} }\n`);
    const r = await runCli(['run', p, '--quiet', '--out', join(dir, 'out')]); // cwd: the repository root
    expect(r.exitCode, r.stderr).toBe(0);
  });
});
