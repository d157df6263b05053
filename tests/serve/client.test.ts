// The streaming client and load generator against the fake server on 127.0.0.1: timing matches the server's pace,
// and every fault is counted by kind and kept in the records.
import { describe, it, expect, afterEach } from 'vitest';
import net from 'node:net';
import { startFakeServer, type FakeServer, type Fault, type FakeServerOptions } from './fake-server.js';
import { StreamClient, redactor } from '../../workloads/serve/client.js';
import { runLoad, type LoadShape } from '../../workloads/serve/load.js';
import { figures } from '../../workloads/serve/metrics.js';
import { requestBody, tokenIdPrompt, textPrompt } from '../../workloads/serve/prompts.js';

let server: FakeServer | undefined;
afterEach(async () => { await server?.close(); server = undefined; });

const now = () => performance.now() / 1000;

async function drive(o: {
  server: FakeServerOptions; chat?: boolean; shape: LoadShape; requests: number; outputTokens: number;
  firstTokenTimeoutMs?: number; requestTimeoutMs?: number; headers?: Record<string, string>; secret?: string; url?: string;
}) {
  server = await startFakeServer(o.server);
  const endpoint = o.chat ? 'chat' : 'completions';
  const client = new StreamClient({
    url: o.url ?? `${server.url}/v1/${o.chat ? 'chat/completions' : 'completions'}`,
    headers: o.headers, maxSockets: o.shape.kind === 'closed' ? o.shape.concurrency : undefined,
    firstTokenTimeoutMs: o.firstTokenTimeoutMs ?? 30_000, requestTimeoutMs: o.requestTimeoutMs ?? 60_000, now, redact: redactor(o.secret),
  });
  const bodyOpts = { model: 'fake', endpoint, ignoreEos: true, minTokens: true } as const;
  const ctrl = new AbortController();
  const run = await runLoad({
    shape: o.shape, bound: { requests: o.requests }, seed: 3, now, signal: ctrl.signal,
    send: (i, scheduledS) => client.send({
      index: i, scheduledS, targetOutputTokens: o.outputTokens,
      body: requestBody(bodyOpts, o.chat ? { kind: 'text', text: textPrompt(3, i, 16) } : { kind: 'ids', ids: tokenIdPrompt(3, i, 16, [1000, 9999]) }, o.outputTokens),
      ...(o.chat ? {} : { knownInputTokens: 16 }),
    }),
  });
  client.close();
  const f = figures(run.records, { startS: run.startS, endS: run.endS }, { startS: run.steadyS ?? run.drainS, endS: run.drainS }, { ttftMs: 500, tpotMs: 50 }, 10);
  return { run, f };
}

describe('timing against a paced server', () => {
  // Paces long enough that a scheduling delay on a loaded 2-core CI machine (tens of ms) stays inside the 5%; the
  // TTFT check is on the median so that a few starved requests do not decide it. TPOT is an average over each
  // request's own 20 gaps, so the mean is already robust.
  for (const chat of [false, true]) {
    it(`measures TTFT and TPOT within 5% of the server's pace (${chat ? 'chat' : 'completions'})`, async () => {
      const ttftMs = 1000, tpotMs = 50;
      const { f, run } = await drive({ server: { ttftMs, tpotMs }, chat, shape: { kind: 'closed', concurrency: 4 }, requests: 8, outputTokens: 21 });
      expect(f.requests.ok).toBe(8);
      expect(f.latency.ttftMs.p50!).toBeGreaterThan(ttftMs * 0.95);
      expect(f.latency.ttftMs.p50!).toBeLessThan(ttftMs * 1.05);
      expect(f.latency.ttftMs.min!).toBeGreaterThanOrEqual(ttftMs * 0.99);
      expect(f.latency.tpotMs.mean!).toBeGreaterThan(tpotMs * 0.95);
      expect(f.latency.tpotMs.mean!).toBeLessThan(tpotMs * 1.05);
      expect(f.latency.tpotMs.p50!).toBeGreaterThan(tpotMs * 0.95);
      expect(f.latency.tpotMs.p50!).toBeLessThan(tpotMs * 1.05);
      expect(f.latency.itlMs.n).toBe(8 * 20);
      // the server's usage, not the client's count
      expect(f.requests.usageFromServer).toBe(8);
      expect(f.outputTokens.mean).toBe(21);
      expect(run.peakInFlight).toBe(4);
    });
  }

  it('spreads a multi-token chunk: TPOT from usage, ITL per chunk', async () => {
    const { f } = await drive({ server: { ttftMs: 50, tpotMs: 100, tokensPerChunk: 4 }, shape: { kind: 'closed', concurrency: 2 }, requests: 4, outputTokens: 32 });
    expect(f.requests.ok).toBe(4);
    // 8 chunks 100 ms apart carry 32 tokens: E2E − TTFT = 7 × 100 ms over 31 token gaps
    expect(f.latency.tpotMs.p50!).toBeGreaterThan((7 * 100) / 31 * 0.95);
    expect(f.latency.tpotMs.p50!).toBeLessThan((7 * 100) / 31 * 1.05);
    expect(f.latency.itlMs.p50!).toBeGreaterThan(100 * 0.9);
    expect(f.latency.itlMs.n).toBe(4 * 7);
  });
});

describe('faults are counted by kind, never dropped', () => {
  it('connection cut, no usage, 429, 500, malformed SSE, a first token that never comes, no [DONE], an error in the stream', async () => {
    const plan: Fault[] = ['none', 'cut', 'no-usage', 'http-429', 'http-500', 'malformed', 'hang', 'no-done', 'stream-error', 'none'];
    const { f, run } = await drive({
      server: { ttftMs: 5, tpotMs: 2, fault: (n) => plan[n] ?? 'none' },
      shape: { kind: 'closed', concurrency: 1 }, requests: plan.length, outputTokens: 10, firstTokenTimeoutMs: 1500,
    });
    expect(run.records).toHaveLength(plan.length);
    expect(f.requests.total).toBe(plan.length);
    expect(f.requests.ok).toBe(3);
    expect(f.requests.failed).toBe(7);
    expect(f.requests.failedByKind).toEqual({
      rate_limited: 1, http_server_error: 1, cut_mid_stream: 1, first_token_timeout: 1, malformed_sse: 1, stream_error: 1, incomplete_stream: 1,
    });
    expect(f.requests.httpStatus).toEqual({ 429: 1, 500: 1 });
    expect(f.requests.usageFromClient).toBe(1);
    expect(f.requests.malformedLines).toBe(2);
    const byIndex = run.records;
    // the request without usage: output counted by the client from its token chunks
    expect(byIndex[2]!.usageSource).toBe('client');
    expect(byIndex[2]!.outputTokens).toBe(10);
    // the cut stream kept what it had received
    expect(byIndex[1]!.chunkTimes.n).toBe(5);
    expect(byIndex[1]!.error!.kind).toBe('cut_mid_stream');
    expect(byIndex[6]!.firstTokenS).toBeNull();
    expect((byIndex[6]!.doneS! - byIndex[6]!.sentS) * 1000).toBeGreaterThanOrEqual(1400);
    // latency figures cover only the successful requests
    expect(f.latency.ttftMs.n).toBe(3);
    expect(f.goodput.sharePct).toBeCloseTo(30, 5);
  });

  it('a request that outlives its timeout fails as request_timeout', async () => {
    const { f } = await drive({ server: { ttftMs: 10, tpotMs: 200 }, shape: { kind: 'closed', concurrency: 1 }, requests: 2, outputTokens: 50, requestTimeoutMs: 600 });
    expect(f.requests.failedByKind).toEqual({ request_timeout: 2 });
  });

  it('a refused connection fails as connect_failed', async () => {
    const port = await new Promise<number>((resolve) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); }); });
    const { f } = await drive({ server: {}, url: `http://127.0.0.1:${port}/v1/completions`, shape: { kind: 'closed', concurrency: 1 }, requests: 2, outputTokens: 4 });
    expect(f.requests.failedByKind).toEqual({ connect_failed: 2 });
  });

  it('a server that stops early (ignores ignore_eos) is counted as outputShort', async () => {
    server = await startFakeServer({ eosAfter: 3 });
    const client = new StreamClient({ url: `${server.url}/v1/completions`, firstTokenTimeoutMs: 5000, requestTimeoutMs: 5000, now });
    const body = requestBody({ model: 'fake', endpoint: 'completions', ignoreEos: false, minTokens: false }, { kind: 'text', text: 'hello there' }, 8);
    const rec = await client.send({ index: 0, scheduledS: now(), body, targetOutputTokens: 8 });
    client.close();
    const f = figures([rec], { startS: rec.sentS, endS: rec.doneS! }, { startS: rec.sentS, endS: rec.doneS! }, {}, 10);
    expect(rec.outputTokens).toBe(3);
    expect(f.requests.outputShort).toBe(1);
  });

  it('redacts an API key a server echoes in an error body', async () => {
    const secret = 'sk-test-7d1e0c55b2a94f18a3c6e0d9';
    const { run } = await drive({
      server: { fault: () => 'http-500-echo' }, headers: { authorization: `Bearer ${secret}` }, secret,
      shape: { kind: 'closed', concurrency: 1 }, requests: 2, outputTokens: 4,
    });
    const msg = run.records[0]!.error!.message;
    expect(msg).toContain('[redacted]');
    expect(msg).not.toContain(secret);
    expect(msg).not.toContain(secret.slice(-8));
  });
});
