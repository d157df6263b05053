// Suite files under property-based testing (fast-check): whatever the document — random JSON, suite-shaped
// documents with random settings and workload configs, random YAML text, YAML's .nan/.inf, alias bombs, matrices
// that would expand to 10^48 runs, nesting 100,000 deep — planning gives either a valid plan or a WattbenchError
// with exit code 2 whose message names the JSON pointer. Never a TypeError, RangeError or stack trace; the CLI
// prints one line and exits 2.
import { describe, it, expect, beforeAll, afterAll, onTestFinished } from 'vitest';
import fc from 'fast-check';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { planFromDoc, loadSuite, parseSuiteText } from '../../harness/suite.js';
import { WattbenchError, EXIT } from '../../lib/errors.js';
import { WORKLOAD_IDS } from '../../workloads/index.js';
import { SOURCE_IDS } from '../../drivers/index.js';
import { fault, tempDir, wb, looksLikeCrash } from './helpers.js';

let dir: string;
beforeAll(async () => { dir = await tempDir('wb-fault-config-'); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

const OPTS = { env: {} as NodeJS.ProcessEnv };
const POINTER = / at \/[^\s]*/;

/** Plan, and classify the outcome: a plan, a proper refusal, or a crash (anything else thrown). */
function outcome(doc: unknown, where = 'suite.yaml'): { kind: 'plan'; runs: number; writable: boolean } | { kind: 'refused'; err: WattbenchError } | { kind: 'crash'; err: unknown } {
  try {
    const plan = planFromDoc(doc, where, OPTS);
    // every planned setting and config goes into a result file: it must be something JSON can hold
    const writable = plan.runs.every((r) => jsonSafe(r.config) && jsonSafe({ ...r, workload: undefined, config: undefined, description: undefined }));
    return { kind: 'plan', runs: plan.runs.length, writable };
  } catch (err) {
    return err instanceof WattbenchError ? { kind: 'refused', err } : { kind: 'crash', err };
  }
}

function expectProper(o: ReturnType<typeof outcome>, doc: unknown): void {
  if (o.kind === 'crash') throw new Error(`planning crashed with ${(o.err as Error)?.name}: ${(o.err as Error)?.message}\nfor ${JSON.stringify(doc)?.slice(0, 600)}`);
  if (o.kind === 'refused') {
    expect(o.err.exit).toBe(EXIT.BAD_INPUT);
    expect(o.err.describe()).toMatch(POINTER);
    expect(o.err.describe()).not.toMatch(/\n\s+at /);
  } else {
    expect(o.runs).toBeGreaterThan(0);
    expect(o.writable, `a plan holds a value JSON cannot write: ${JSON.stringify(doc)?.slice(0, 300)}`).toBe(true);
  }
}

/** No NaN or ±Infinity anywhere (JSON would write null, and the result would no longer match its schema). */
function jsonSafe(v: unknown, depth = 0): boolean {
  if (typeof v === 'number') return Number.isFinite(v);
  if (v === null || typeof v !== 'object' || depth > 200) return true;
  return Object.values(v).every((x) => jsonSafe(x, depth + 1));
}

// ───────────────────────────── generators ─────────────────────────────

const CONFIG_KEYS = ['command', 'name', 'kind', 'cwd', 'env', 'timeoutS', 'durationS', 'warmupS', 'modelSize', 'dtype', 'batchSize', 'seqLen',
  'steps', 'warmupSteps', 'backend', 'device', 'shape', 'python', 'url', 'endpoint', 'concurrency', 'rateRps', 'requests', 'inputTokens',
  'outputTokens', 'dataset', 'promptMode', 'tokenIdRange', 'maxConcurrency', 'apiKeyEnv', 'model', 'stream', 'seed'];

const weirdNumber = fc.oneof(fc.integer({ min: -5, max: 5000 }), fc.double(), fc.constantFrom(0, -0, 1e308, -1e308, 2 ** 53, 1e-300, Number.NaN, Infinity, -Infinity));
const weirdString = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('', ' ', '0', 'custom', 'tiny', 'bf16', 'cpu', 'http://127.0.0.1:8000', 'file:///etc/passwd', '$(touch /tmp/pwned)', '../../etc', '\u0000', '💥', 'a'.repeat(300)),
);
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small', withCrossShrink: true }, weirdNumber, weirdString, fc.boolean(), fc.constant(null),
    fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(fc.oneof(fc.constantFrom(...CONFIG_KEYS, '__proto__', 'constructor'), fc.string({ maxLength: 6 })), tie('v'), { maxKeys: 3 })),
})).v;
const config = fc.dictionary(fc.constantFrom(...CONFIG_KEYS), value, { maxKeys: 6 });
const settings = fc.record({
  repetitions: weirdNumber, maxRepetitions: weirdNumber, targetCiPct: weirdNumber, idleS: weirdNumber, cooldownS: weirdNumber,
  intervalMs: weirdNumber, timeoutS: weirdNumber, devices: fc.oneof(fc.array(weirdNumber, { maxLength: 3 }), value),
  source: fc.oneof(fc.constantFrom(...SOURCE_IDS), weirdString, fc.record({ id: fc.oneof(fc.constantFrom(...SOURCE_IDS), weirdString), options: value }, { requiredKeys: ['id'] })),
}, { requiredKeys: [] });
const run = fc.tuple(settings, fc.record({
  workload: fc.oneof(fc.constantFrom(...WORKLOAD_IDS), weirdString, value),
  config: fc.oneof(config, value),
  name: weirdString,
  matrix: fc.dictionary(fc.constantFrom(...CONFIG_KEYS), fc.array(value, { minLength: 0, maxLength: 3 }), { maxKeys: 2 }),
  extra: value,
}, { requiredKeys: ['workload'] })).map(([s, r]) => ({ ...s, ...r }));
// mostly-valid documents: each field valid twelve times out of thirteen, so a fair share of them plan and the rest
// are refused for one or two hostile values, deep inside the workload configs as well as in the settings
const maybe = <T,>(good: fc.Arbitrary<T>) => fc.oneof({ weight: 12, arbitrary: good as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: value });
const goodSettings = fc.record({
  repetitions: maybe(fc.integer({ min: 1, max: 20 })), idleS: maybe(fc.double({ min: 0, max: 600, noNaN: true })),
  cooldownS: maybe(fc.integer({ min: 0, max: 60 })), intervalMs: maybe(fc.integer({ min: 1, max: 5000 })),
  timeoutS: maybe(fc.integer({ min: 1, max: 10 ** 7 })), source: maybe(fc.constantFrom(...SOURCE_IDS)),
}, { requiredKeys: [] });
const goodRun = fc.oneof(
  fc.record({ workload: fc.constant('command'), config: fc.record({
    command: maybe(fc.array(fc.string({ minLength: 1, maxLength: 10 }), { minLength: 1, maxLength: 3 })), name: maybe(fc.string({ maxLength: 20 })),
    kind: maybe(fc.constantFrom('train', 'infer', 'serve', 'other')), env: maybe(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 2 })),
    timeoutS: maybe(fc.integer({ min: 1, max: 1000 })),
  }, { requiredKeys: ['command'] }) }),
  fc.record({ workload: fc.constant('smoke'), config: fc.record({ durationS: maybe(fc.integer({ min: 1, max: 60 })), layers: maybe(fc.integer({ min: 1, max: 8 })), heads: maybe(fc.constantFrom(1, 2, 4)) }, { requiredKeys: [] }),
    matrix: fc.option(fc.record({ durationS: fc.array(maybe(fc.integer({ min: 1, max: 9 })), { minLength: 1, maxLength: 3 }) }), { nil: undefined }) }),
  fc.record({ workload: fc.constantFrom('train', 'infer'), config: fc.record({ modelSize: maybe(fc.constantFrom('tiny', 'custom')), batchSize: maybe(fc.integer({ min: 1, max: 64 })), steps: maybe(fc.integer({ min: 1, max: 100 })), dtype: maybe(fc.constantFrom('bf16', 'fp32', 'fp16')) }, { requiredKeys: [] }) }),
).chain((r) => goodSettings.map((st) => ({ ...st, ...r })));
const mostlyGoodDoc = fc.record({ name: maybe(fc.string({ minLength: 1, maxLength: 30 })), defaults: maybe(goodSettings), runs: fc.array(goodRun, { minLength: 1, maxLength: 3 }) }, { requiredKeys: ['runs'] })
  .map((d) => JSON.parse(JSON.stringify(d)) as unknown); // drop undefined, as a file would

const suiteDoc = fc.record({
  name: weirdString, description: weirdString, defaults: settings,
  runs: fc.oneof(fc.array(run, { minLength: 0, maxLength: 3 }), value),
  extra: value,
}, { requiredKeys: ['runs'] });

// ───────────────────────────── properties ─────────────────────────────

describe('suite files (property-based)', () => {
  it('any JSON value as a suite: a plan or an exit-2 refusal naming the pointer', async () => {
    await fault('config', 'random JSON documents as suites (fast-check, 400 cases)', async () => {
      fc.assert(fc.property(fc.jsonValue(), (doc) => expectProper(outcome(doc), doc)), { numRuns: 400 });
    });
  });

  it('suite-shaped documents with hostile settings and workload configs: a plan or an exit-2 refusal naming the pointer', async () => {
    await fault('config', 'suite-shaped documents with random settings and configs (fast-check, 1500 cases)', async () => {
      const seen = { plan: 0, refused: 0 };
      fc.assert(fc.property(fc.oneof(suiteDoc, mostlyGoodDoc), (doc) => { const o = outcome(doc); expectProper(o, doc); seen[o.kind as 'plan' | 'refused']++; }), { numRuns: 1500 });
      // the generator must reach both sides, or the property says little
      expect(seen.refused).toBeGreaterThan(100);
      expect(seen.plan, JSON.stringify(seen)).toBeGreaterThan(10);
      return { expected: 0, found: 0, note: `${seen.plan} plans, ${seen.refused} refusals` };
    });
  });

  it('a plan never carries a value JSON cannot hold (NaN, Infinity): it would make the result unwritable', async () => {
    await fault('config', 'non-finite numbers (YAML .nan / .inf) in settings and configs', async () => {
      for (const [where, doc] of [
        ['timeoutS', { runs: [{ workload: 'command', timeoutS: Infinity, config: { command: ['true'] } }] }],
        ['idleS', { defaults: { idleS: Number.NaN }, runs: [{ workload: 'command', config: { command: ['true'] } }] }],
        ['config', { runs: [{ workload: 'command', config: { command: ['true'], timeoutS: Infinity } }] }],
      ] as const) {
        const o = outcome(doc);
        expect(o.kind, where).toBe('refused');
        expect((o as { err: WattbenchError }).err.message).toMatch(/not a finite number/);
      }
      const yaml = parseSuiteText('runs:\n  - workload: command\n    idleS: .nan\n    config: { command: ["true"] }\n', 'x.yaml');
      const o = outcome(yaml, 'x.yaml');
      expect(o.kind).toBe('refused');
      expect((o as { err: WattbenchError }).err.message).toMatch(/at \/runs\/0\/idleS: NaN is not a finite number/);
    });
  });

  it('random YAML text: a syntax error or a refusal with exit 2, never a crash', async () => {
    await fault('config', 'random YAML text (fast-check, 300 cases)', async () => {
      const yamlish = fc.oneof(
        fc.string({ maxLength: 200 }),
        fc.array(fc.constantFrom('runs:', '  - workload: command', '    config:', '      command: [', '"', "'", '&a [1]', '*a', '<<: *a', '!!binary', '!!python/object:os.system', '? ', '- ', '{', '}', '\t', ': :', '%YAML 1.1', '---', '...', '\uFEFF'), { maxLength: 12 }).map((l) => l.join('\n')),
      );
      let n = 0;
      // the yaml library reports unknown tags through process warnings: expected here, and noise in the test log
      const emitWarning = process.emitWarning;
      process.emitWarning = () => {};
      onTestFinished(() => { process.emitWarning = emitWarning; });
      await fc.assert(fc.asyncProperty(yamlish, async (text) => {
        const p = join(dir, `fuzz-${n++ % 4}.yaml`);
        await writeFile(p, text);
        try { await loadSuite(p, OPTS); } catch (err) {
          if (!(err instanceof WattbenchError)) throw new Error(`crash ${(err as Error).name}: ${(err as Error).message} for ${JSON.stringify(text)}`);
          expect(err.exit).toBe(EXIT.BAD_INPUT);
        }
      }), { numRuns: 300 });
    });
  });

  it('a matrix that would expand to 10^48 runs is refused at once, before expanding', async () => {
    await fault('config', 'matrix expanding to 10^48 runs', async () => {
      const matrix = Object.fromEntries(Array.from({ length: 16 }, (_, k) => [`k${k}`, Array.from({ length: 1000 }, (_, i) => i)]));
      const t0 = Date.now();
      const o = outcome({ runs: [{ workload: 'command', config: { command: ['true'] }, matrix }] });
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(o.kind).toBe('refused');
      expect((o as { err: WattbenchError }).err.message).toMatch(/at \/runs\/0\/matrix: expands to more than 10000 runs/);
    });
  });

  it('configs nested 100,000 deep are refused with a pointer (structuredClone would overflow the stack)', async () => {
    await fault('config', 'config nested 100,000 levels deep', async () => {
      let deep: unknown = 0;
      for (let i = 0; i < 100_000; i++) deep = [deep];
      const o = outcome({ runs: [{ workload: 'command', config: { command: ['true'], env: deep } }] });
      expect(o.kind).toBe('refused');
      expect((o as { err: WattbenchError }).err.message).toMatch(/at \/runs\/0\/config\/env(\/0)+: nested deeper than/);
    });
  });
});

// ───────────────────────────── the CLI on written files ─────────────────────────────

describe('suite files through the CLI (one line, exit 2, no stack trace)', () => {
  it('generated invalid suites, an alias bomb, a 10^48 matrix and deep nesting: exit 2 with the pointer', async () => {
    await fault('config', 'CLI on generated and hostile suite files', async () => {
      // generated documents that planning refuses, written as YAML and JSON
      const refused = fc.sample(suiteDoc, { numRuns: 300, seed: 8 })
        .map((d) => JSON.parse(JSON.stringify(d)) as unknown) // what a file can hold: no NaN, no undefined
        .filter((d) => outcome(d).kind === 'refused').slice(0, 4);
      expect(refused.length).toBe(4);
      const files: Array<{ path: string; expect: RegExp }> = [];
      for (const [i, d] of refused.entries()) {
        const p = join(dir, `gen-${i}.${i % 2 ? 'json' : 'yaml'}`);
        await writeFile(p, i % 2 ? JSON.stringify(d) : toYaml(d));
        const msg = (outcome(d) as { err: WattbenchError }).err.message.split(': ')[1]!; // "at /pointer"
        files.push({ path: p, expect: new RegExp(msg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) });
      }
      const bomb = join(dir, 'bomb.yaml');
      await writeFile(bomb, ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`), 'runs: [{ workload: command, config: { command: *i } }]'].join('\n'));
      files.push({ path: bomb, expect: /SUITE_SYNTAX|alias/i });
      const matrix = join(dir, 'matrix.json');
      await writeFile(matrix, JSON.stringify({ runs: [{ workload: 'command', config: { command: ['true'] }, matrix: Object.fromEntries(Array.from({ length: 16 }, (_, k) => [`k${k}`, Array.from({ length: 1000 }, (_, i) => i)])) }] }));
      files.push({ path: matrix, expect: /at \/runs\/0\/matrix/ });
      const deep = join(dir, 'deep.json');
      await writeFile(deep, `{"runs":[{"workload":"command","config":{"command":["true"],"env":${'['.repeat(100_000)}${']'.repeat(100_000)}}}]}`);
      files.push({ path: deep, expect: /at \/runs\/0\/config\/env\/0.*nested deeper/ });
      const nan = join(dir, 'nan.yaml');
      await writeFile(nan, 'runs:\n  - workload: command\n    timeoutS: .inf\n    config: { command: ["true"] }\n');
      files.push({ path: nan, expect: /at \/runs\/0\/timeoutS: Infinity is not a finite number/ });
      const results = await Promise.all(files.map(async (f) => ({ f, r: await wb(['run', f.path, '--out', join(dir, 'never')], { timeoutMs: 60_000 }) })));
      for (const { f, r } of results) {
        expect(r.hung, f.path).toBe(false);
        expect(r.code, `${f.path}: ${r.stderr}`).toBe(2);
        expect(looksLikeCrash(r.stderr), r.stderr).toBe(false);
        expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
        expect(r.stderr, f.path).toMatch(f.expect);
      }
      return { expected: 0, found: 0 };
    });
  });
});
