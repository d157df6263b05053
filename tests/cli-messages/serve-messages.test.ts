// `serve` messages in the words the user wrote (README audit, code problems 7 and 8): a config error from serve's
// flags names the flags (--input-tokens, --dataset), never a suite pointer (/runs/0/config/inputTokens); a serve
// run from a suite names the suite's keys (url), never a flag (--url) it did not use; a --set run names --set.
// And a concurrency sweep says each run's concurrency once, in its label and its file name.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join, basename } from 'node:path';
import { serve } from '../../harness/commands/serve.js';
import { run } from '../../harness/commands/run.js';
import { resolveServe } from '../../workloads/serve.js';
import type { WattbenchError } from '../../lib/errors.js';
import { expectBadInput } from '../helpers/expect.js';
import { tempDir, resultFiles, readJson, writeConstantTrace } from '../helpers/cli.js';
import { captureIO, thrown } from '../helpers/io.js';
import { startFakeServer, type FakeServer } from '../serve/fake-server.js';

const DEAD = 'http://127.0.0.1:9';
const BASE = ['--url', DEAD, '--model', 'm', '--concurrency', '2', '--requests', '10', '--quiet'];

async function serveErr(args: string[]): Promise<WattbenchError> {
  return await thrown(serve.run([...BASE, ...args, '--out', join(await tempDir(), 'o')], captureIO().io)) as WattbenchError;
}

/** The whole line a user reads: neither part may speak of a suite pointer. */
const line = (e: WattbenchError) => `${e.message} — ${e.remedy}`;

describe('serve: config errors from flags name the flags (audit 7)', () => {
  it('no prompt length: give --input-tokens N or --dataset FILE', async () => {
    const e = await serveErr(['--output-tokens', '4']);
    expectBadInput(e, 'BAD_FLAG', /--input-tokens.*--dataset/, /^give --input-tokens N \(e\.g\. 1024\) or --dataset FILE$/);
    expect(line(e)).not.toMatch(/\/runs\/|inputTokens|command line/);
  });

  it('no output length: give --output-tokens N', async () => {
    const e = await serveErr(['--input-tokens', '4']);
    expectBadInput(e, 'BAD_FLAG', /--output-tokens/, /^give --output-tokens N \(e\.g\. 256\), or --dataset FILE/);
    expect(line(e)).not.toMatch(/\/runs\/|outputTokens/);
  });

  it('values that disagree name both flags; a schema error names its flag and serve --help', async () => {
    const few = await serveErr(['--input-tokens', '4', '--output-tokens', '4', '--requests', '2']);
    expectBadInput(few, 'BAD_FLAG', /^--requests \(2\) must exceed --concurrency \(2\)/, /^use --requests 8 or more/);
    const mode = await serveErr(['--input-tokens', '4', '--output-tokens', '4', '--prompt-mode', 'bogus']);
    expectBadInput(mode, 'BAD_FLAG', /^--prompt-mode: must be one of "auto", "token-ids", "text"$/, /see `wattbench serve --help`/);
    const chat = await serveErr(['--input-tokens', '4', '--output-tokens', '4', '--chat', '--prompt-mode', 'token-ids']);
    expectBadInput(chat, 'BAD_FLAG', /--prompt-mode token-ids/, /use --prompt-mode text, or the completions endpoint \(without --chat\)/);
    for (const e of [few, mode, chat]) expect(line(e)).not.toMatch(/\/runs\/|Suite files|promptMode|[^-]requests \(/);
  });

  it('an endpoint URL that disagrees with --chat names --url and --chat', async () => {
    const e = await thrown(serve.run(['--url', `${DEAD}/v1/chat/completions`, ...BASE.slice(2), '--input-tokens', '4', '--output-tokens', '4', '--out', join(await tempDir(), 'o')], captureIO().io)) as WattbenchError;
    expectBadInput(e, 'BAD_FLAG', /^--url: the URL .*\/v1\/chat\/completions is the chat endpoint, but the requests are for the completions endpoint \(without --chat\)$/, /or ask for the chat endpoint \(--chat\)$/);
  });

  it('a dead server from --url: check --url', async () => {
    const e = await serveErr(['--input-tokens', '4', '--output-tokens', '4']);
    expectBadInput(e, 'SERVER_UNREACHABLE', /cannot reach/, /^start the server, or check --url /);
  });
});

describe('serve from a suite or --set: no flag the user did not use (audit 7)', () => {
  it('a dead server from a suite: check url, not --url', async () => {
    const dir = await tempDir('wb-msg-');
    const suite = join(dir, 's.yaml');
    await writeFile(suite, `defaults: { repetitions: 1, idleS: 0, cooldownS: 0 }\nruns:\n  - { workload: serve, config: { url: "${DEAD}", model: m, concurrency: 1, requests: 4, inputTokens: 4, outputTokens: 4 } }\n`);
    const e = await thrown(run.run([suite, '--quiet', '--out', join(dir, 'o')], captureIO().io)) as WattbenchError;
    expectBadInput(e, 'SERVER_UNREACHABLE', /cannot reach/, /^start the server, or check url \(the base URL/);
    expect(e.remedy).not.toMatch(/--/);
  });

  it('suite config errors name the suite\'s keys, at their pointer', () => {
    const err = (c: Record<string, unknown>) => { try { resolveServe(c, '/runs/0/config'); return undefined; } catch (e) { return e as WattbenchError; } };
    const base = { url: DEAD, model: 'm', concurrency: 2, requests: 10, outputTokens: 4 };
    const e = err(base)!;
    expectBadInput(e, 'BAD_CONFIG', /^serve config: at \/runs\/0\/config\/inputTokens: no prompt length: synthetic prompts need inputTokens, and no dataset was given$/, /^give inputTokens: N \(e\.g\. 1024\) or dataset: FILE$/);
    expect(line(err({ ...base, inputTokens: 4, url: `${DEAD}/v1/completions`, endpoint: 'chat' })!)).toMatch(/\(endpoint: chat\).*\(endpoint: completions\)/);
    for (const c of [base, { ...base, inputTokens: 4, requests: 2 }, { ...base, inputTokens: 4, endpoint: 'chat', promptMode: 'token-ids' }]) expect(line(err(c)!)).not.toMatch(/--/);
  });

  it('run --workload serve --set: the remedy gives --set KEY=VALUE', async () => {
    const e = await thrown(run.run(['--workload', 'serve', '--set', `url=${DEAD}`, '--set', 'model=m', '--set', 'concurrency=2', '--set', 'requests=10', '--quiet', '--out', join(await tempDir(), 'o')], captureIO().io)) as WattbenchError;
    expectBadInput(e, 'BAD_FLAG', /^--set inputTokens: no prompt length/, /^give --set inputTokens=N \(e\.g\. 1024\) or --set dataset=FILE$/);
  });
});

describe('a concurrency sweep says each concurrency once (audit 8)', () => {
  let server: FakeServer;
  beforeAll(async () => { server = await startFakeServer({ ttftMs: 2, tpotMs: 1 }); });
  afterAll(async () => { await server.close(); });

  it('labels and file names', async () => {
    const dir = await tempDir('wb-msg-');
    const trace = await writeConstantTrace(dir, 100, 4);
    const out = join(dir, 'out');
    const { io, err } = captureIO();
    const code = await serve.run(['--url', server.url, '--model', 'm', '--concurrency', '1,2', '--requests', '6', '--input-tokens', '4', '--output-tokens', '3',
      '--source', 'replay', '--source-opt', `file=${trace}`, '--idle', '0', '--cooldown', '0', '--repetitions', '1', '--progress', 'plain', '--out', out], io);
    expect(code, err()).toBe(0);
    const files = await resultFiles(out);
    expect(files).toHaveLength(2);
    for (const f of files) expect(basename(f)).toMatch(/-serve-m-completions-concurrency-[12]-[0-9a-f]{4}\.json$/);
    const names = (await Promise.all(files.map((f) => readJson(f)))).map((r) => r.workload.name).sort();
    expect(names).toEqual(['serve m (completions, concurrency 1)', 'serve m (completions, concurrency 2)']);
    expect(err()).toMatch(/\[1\/2\] serve m \(completions, concurrency 1\): inventory/);
    expect(err()).not.toMatch(/concurrency=/);
  });
});
