// A request resent after the server closed its kept-alive connection unanswered is counted and warned about: the
// server may have begun generating before it closed, energy the window pays for with no tokens to show.
import { describe, it, expect, afterEach } from 'vitest';
import { startFakeServer, type FakeServer } from './fake-server.js';
import { serve, resolveServe } from '../../workloads/serve.js';
import { createRunClock } from '../../lib/clock.js';
import type { WorkloadContext } from '../../workloads/workload.js';
import type { ServingRepetition } from '../../results/types.gen.js';

let server: FakeServer | undefined;
afterEach(async () => { await server?.close(); server = undefined; });

async function run(dropAt: number[]) {
  server = await startFakeServer({ ttftMs: 5, tpotMs: 1, fault: (n) => (dropAt.includes(n) ? 'drop' : 'none') });
  const c = resolveServe({ url: server.url, model: 'fake', concurrency: 1, requests: 6, inputTokens: 8, outputTokens: 4 }, '/config');
  const ctx: WorkloadContext = {
    repetition: 0, clock: createRunClock(), signal: new AbortController().signal, env: {}, devices: [],
    onEvent: () => {}, onLog: () => {}, onProtocolError: () => {},
  };
  await serve.preflight!(c, { env: {} });
  const outcome = await serve.run(c, ctx);
  expect(outcome.state).toBe('completed');
  return (outcome as { details: unknown }).details as Omit<ServingRepetition, 'index'>;
}

describe('serve: a kept-alive connection closed before the answer', () => {
  it('resends the request once, counts it, and warns REQUESTS_RESENT; every request still succeeds', async () => {
    const d = await run([3]);
    expect(d.requests).toMatchObject({ total: 6, ok: 6, failed: 0 });
    expect(d.client.resentRequests).toBe(1);
    expect(server!.seen).toHaveLength(1 + 7); // the preflight's request, then six requests, one of them twice
    const w = d.warnings.find((x) => x.code === 'REQUESTS_RESENT');
    expect(w?.message).toMatch(/^1 request was sent a second time/);
  });

  it('no resend, no warning', async () => {
    const d = await run([]);
    expect(d.client.resentRequests).toBe(0);
    expect(d.warnings.map((x) => x.code)).not.toContain('REQUESTS_RESENT');
    expect(server!.seen).toHaveLength(1 + 6);
  });
});
