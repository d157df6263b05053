// The serve workload in-process, as the harness runs it: its events, the steady-state window, the tokens counted
// in it, prompt calibration, dataset mode, and the config checks.
import { describe, it, expect, afterEach } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFakeServer, type FakeServer, type FakeServerOptions } from './fake-server.js';
import { serve, resolveServe } from '../../workloads/serve.js';
import { createRunClock } from '../../lib/clock.js';
import type { TimedEvent, WorkloadContext } from '../../workloads/workload.js';
import type { ServingRepetition } from '../../results/types.gen.js';
import { WattbenchError } from '../../lib/errors.js';
import { tempDir } from '../helpers/cli.js';

let server: FakeServer | undefined;
afterEach(async () => { await server?.close(); server = undefined; });

async function runServe(serverOpts: FakeServerOptions, config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) {
  server = await startFakeServer(serverOpts);
  const c = resolveServe({ url: server.url, model: 'fake', ...config }, '/config');
  const events: TimedEvent[] = [];
  const ctx: WorkloadContext = {
    repetition: 0, clock: createRunClock(), signal: new AbortController().signal, env, devices: [],
    onEvent: (e) => events.push(e), onLog: () => {}, onProtocolError: () => {},
  };
  await serve.preflight!(c, { env });
  const outcome = await serve.run(c, ctx);
  const details = outcome.state === 'completed' ? (outcome.details as unknown as Omit<ServingRepetition, 'index'>) : undefined;
  return { outcome, events, details, server };
}

describe('serve workload', () => {
  it('opens the window at the target concurrency, closes it at the drain, and counts the tokens delivered inside', async () => {
    const { outcome, events, details } = await runServe({ ttftMs: 40, tpotMs: 8 }, { concurrency: 4, requests: 24, inputTokens: 16, outputTokens: 12 });
    expect(outcome.state).toBe('completed');
    const d = details!;
    const names = events.map((e) => e.e.event);
    expect(names[0]).toBe('warmup_start');
    expect(names[1]).toBe('window_start');
    expect(names.slice(-2)).toEqual(['tokens', 'window_end']);
    const ws = events[1]!.tS, we = events[events.length - 1]!.tS;
    expect(d.window.startS).toBeCloseTo(ws, 5);
    expect(d.window.endS).toBeCloseTo(we, 5);
    // steady state: the 4th request was sent when it opened; the drain: the last request was sent when it closed
    const sent = d.records.map((r) => r.sentS).sort((a, b) => a - b);
    expect(sent.filter((t) => t <= ws + 1e-6)).toHaveLength(4);
    expect(we).toBeGreaterThanOrEqual(sent[sent.length - 1]! - 1e-6);
    expect(we).toBeLessThan(d.run.endS);
    // tokens event = chunks inside the window, recounted here from the records
    let recount = 0;
    for (const r of d.records) if (r.status === 'ok') recount += (r.outputTokens! / r.chunks) * r.chunkTimesS!.filter((t) => t >= d.window.startS && t <= d.window.endS).length;
    const tokensEv = events[events.length - 2]!.e as { event: 'tokens'; tokens: number; output?: number; input?: number };
    expect(tokensEv.tokens).toBeCloseTo(recount, 2);
    expect(tokensEv.output).toBe(tokensEv.tokens);
    expect(tokensEv.tokens).toBeGreaterThan(0);
    expect(tokensEv.tokens).toBeLessThan(24 * 12);
    expect(d.tokens.run.output).toBe(24 * 12);
    expect(d.requests).toMatchObject({ total: 24, ok: 24, failed: 0, usageFromServer: 24 });
    expect(d.client.resentRequests).toBe(0); // the test server never closes a kept-alive connection
    expect(d.prompt.kind).toBe('token-ids');
    expect(d.inputTokens).toMatchObject({ min: 16, max: 16 });
    // (CLIENT_BEHIND_SCHEDULE may be true on a starved CI machine; these two may not)
    expect(d.warnings.map((w) => w.code)).not.toEqual(expect.arrayContaining(['REQUESTS_FAILED']));
    expect(d.warnings.map((w) => w.code)).not.toEqual(expect.arrayContaining(['USAGE_FROM_CLIENT']));
    // per-repetition metrics for the statistics across repetitions
    const metrics = events.filter((e) => e.e.event === 'metric').map((e) => (e.e as { name: string }).name);
    expect(metrics).toEqual(expect.arrayContaining(['ttft_p50_ms', 'tpot_p99_ms', 'goodput_pct', 'requests_failed']));
  });

  it('prompts differ per request (no prefix-cache shortcut) and carry the forcing parameters', async () => {
    const { server: s } = await runServe({}, { concurrency: 2, requests: 4, inputTokens: 8, outputTokens: 3 });
    const bodies = s.seen.map((x) => x.body).filter((b) => b.max_tokens === 3);
    expect(bodies).toHaveLength(4);
    expect(new Set(bodies.map((b) => JSON.stringify(b.prompt))).size).toBe(4);
    for (const b of bodies) expect(b).toMatchObject({ stream: true, stream_options: { include_usage: true }, ignore_eos: true, min_tokens: 3, max_tokens: 3 });
  });

  it('falls back to text calibrated by the server usage when token ids are rejected', async () => {
    const { details } = await runServe({ rejectTokenIds: true, textOverheadTokens: 5 }, { concurrency: 2, requests: 6, inputTokens: 40, outputTokens: 4 });
    expect(details!.prompt.kind).toBe('text');
    expect(details!.prompt.textWords).toBe(35);
    expect(details!.inputTokens).toMatchObject({ min: 40, max: 40 });
    expect(details!.prompt.notes!.join(' ')).toMatch(/rejected/);
  });

  it('chat: text calibrated through the chat template; the role-only chunk is no token', async () => {
    const { details } = await runServe({ ttftMs: 60, tpotMs: 5, textOverheadTokens: 9 }, { endpoint: 'chat', concurrency: 2, requests: 6, inputTokens: 30, outputTokens: 6 });
    expect(details!.endpoint).toBe('chat');
    expect(details!.endpointUrl).toMatch(/\/v1\/chat\/completions$/);
    expect(details!.inputTokens).toMatchObject({ min: 30, max: 30 });
    expect(details!.latency.ttftMs.min!).toBeGreaterThan(55);
    expect(details!.records.every((r) => r.chunks === 6)).toBe(true);
  });

  it('says how close calibration came when the exact length is unreachable', async () => {
    const { details } = await runServe({ rejectTokenIds: true, promptTokensPerWord: 2 }, { concurrency: 1, requests: 2, inputTokens: 41, outputTokens: 2 });
    expect(Math.abs(details!.inputTokens.mean! - 41)).toBe(1);
    expect(details!.prompt.notes!.join(' ')).toMatch(/within/);
  });

  it('dataset mode: prompts and output lengths from a JSONL file, in order', async () => {
    const dir = await tempDir();
    const file = join(dir, 'prompts.jsonl');
    await writeFile(file, ['{"prompt": "one two three", "output_tokens": 3}', '# a comment', '', '{"prompt": [5, 6, 7, 8], "output_tokens": 5}', '{"messages": [{"role": "user", "content": "hi there"}], "output_tokens": 2}'].join('\n'));
    const { details } = await runServe({}, { concurrency: 1, requests: 6, dataset: file });
    expect(details!.prompt.kind).toBe('dataset');
    expect(details!.records.map((r) => r.outputTokens)).toEqual([3, 5, 2, 3, 5, 2]);
    expect(details!.records.map((r) => r.inputTokens)).toEqual([3, 4, 2, 3, 4, 2]);
  });

  it('failed requests and missing usage become warnings in the details, and every request keeps its record', async () => {
    const { details } = await runServe({ fault: (n, b) => (b.max_tokens === 2 ? 'none' : n % 3 === 0 ? 'http-429' : n % 3 === 1 ? 'no-usage' : 'none') }, { concurrency: 1, requests: 9, inputTokens: 4, outputTokens: 3 });
    expect(details!.records).toHaveLength(9);
    expect(details!.warnings.map((w) => w.code).sort()).toEqual(['REQUESTS_FAILED', 'USAGE_FROM_CLIENT']);
    expect(details!.requests.failed + details!.requests.ok).toBe(9);
  });

  it('fails the repetition, with the reason, when every request fails', async () => {
    const { outcome } = await runServe({ fault: (_n, b) => (b.max_tokens === 2 ? 'none' : 'http-500') }, { concurrency: 1, requests: 3, inputTokens: 4, outputTokens: 3 });
    expect(outcome.state).toBe('failed');
    if (outcome.state === 'failed') expect(outcome.reason).toMatch(/all 3 requests failed \(http_server_error 3\)/);
  });

  it('preflight: unreachable server, wrong key and unknown route are exit-2 errors that say what to fix', async () => {
    server = await startFakeServer({ apiKey: 'right-key-123456' });
    const pre = (config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => serve.preflight!(resolveServe({ model: 'm', concurrency: 1, requests: 2, inputTokens: 4, outputTokens: 2, ...config }, '/c'), { env });
    await expect(pre({ url: 'http://127.0.0.1:9/' })).rejects.toMatchObject({ code: 'SERVER_UNREACHABLE', exit: 2 });
    const keyErr = await pre({ url: server.url, apiKeyEnv: 'MY_KEY' }, { MY_KEY: 'wrong-key-987654321' }).catch((e: WattbenchError) => e);
    expect(keyErr).toMatchObject({ code: 'SERVER_REJECTED_KEY' });
    expect((keyErr as WattbenchError).remedy).toMatch(/MY_KEY/);
    expect((keyErr as WattbenchError).describe()).not.toContain('wrong-key-987654321');
    await expect(pre({ url: `${server.url}/nope/v1/completions` }, { OPENAI_API_KEY: 'right-key-123456' })).rejects.toMatchObject({ code: 'SERVER_NOT_FOUND' });
    await pre({ url: server.url }, { OPENAI_API_KEY: 'right-key-123456' });
  });
});

describe('serve config', () => {
  const base = { url: 'http://127.0.0.1:8000', model: 'm', concurrency: 4, requests: 100, inputTokens: 8, outputTokens: 8 };
  const err = (c: Record<string, unknown>) => { try { resolveServe(c, '/runs/0/config'); return null; } catch (e) { return e as WattbenchError; } };

  it('refuses a key written in the config, naming where keys go', () => {
    const e = err({ ...base, apiKey: 'sk-123' });
    expect(e?.code).toBe('SECRET_IN_CONFIG');
    expect(e?.message).toContain('/runs/0/config/apiKey');
    expect(e?.message).not.toContain('sk-123');
    expect(err({ ...base, extraBody: { api_key: 'x' } })?.code).toBe('SECRET_IN_CONFIG');
    expect(err({ ...base, url: 'http://user:pw@127.0.0.1:8000' })?.message).toMatch(/credentials/);
  });

  it('needs exactly one load shape and one bound, and a window', () => {
    expect(err({ ...base, rateRps: 3 })?.message).toMatch(/exactly one of concurrency/);
    expect(err({ ...base, durationS: 3 })?.message).toMatch(/exactly one of requests/);
    expect(err({ ...base, requests: 4 })?.message).toMatch(/must exceed concurrency/);
    expect(err({ ...base, concurrency: undefined, rateRps: 2, maxConcurrency: 1 })).toBeNull();
    expect(err({ ...base, maxConcurrency: 2 })?.message).toMatch(/open loop/);
    expect(err({ ...base, endpoint: 'chat', promptMode: 'token-ids' })?.message).toMatch(/completions endpoint/);
    expect(err({ ...base, inputTokens: undefined })?.message).toMatch(/inputTokens/);
    expect(err({ ...base, url: 'http://h:1/v1/chat/completions' })?.message).toMatch(/chat endpoint/);
    expect(err({ ...base, colour: 'red' })?.message).toMatch(/unknown key 'colour'/);
  });

  it('fills defaults that the result records', () => {
    const c = resolveServe(base, '/c');
    expect(c).toMatchObject({ endpoint: 'completions', promptMode: 'auto', ignoreEos: true, minTokens: true, apiKeyEnv: 'OPENAI_API_KEY', slo: { ttftMs: 500, tpotMs: 50 } });
  });
});
