// A streaming OpenAI-compatible test server on 127.0.0.1: /v1/completions and /v1/chat/completions as SSE, one
// token chunk at a set pace (first token ttftMs after the request arrived, then one every tpotMs, each on an
// absolute deadline so timer jitter does not add up), usage chunk on request, and faults on demand. Used in-process
// by the tests and as a separate process by bench/serve-client.ts:
//   node --import tsx tests/serve/fake-server.ts [--ttft-ms N] [--tpot-ms N] [--stamp-ids]   → prints {"port": N}
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

export type Fault =
  | 'none'
  | 'cut'            // the connection is destroyed halfway through the tokens
  | 'no-usage'       // no usage chunk although include_usage was asked for
  | 'http-429' | 'http-500'
  | 'http-500-echo'  // a 500 whose body echoes the request's headers (a key must be redacted by the client)
  | 'malformed'      // a broken JSON data line and a line that is no SSE field, mid-stream
  | 'hang'           // 200 and headers, then nothing: the first token never comes
  | 'no-done'        // tokens, then the stream ends without finish_reason, usage or [DONE]
  | 'stream-error'   // a few tokens, then an error object in the stream, then [DONE]
  | 'drop';          // the connection closed on reading the request, not a byte sent (a kept-alive one at its idle timeout)

export interface FakeServerOptions {
  ttftMs?: number;
  tpotMs?: number;
  /** Tokens per chunk (usage counts tokens; chunks carry several words). */
  tokensPerChunk?: number;
  /** Answer 400 to prompts given as token ids. */
  rejectTokenIds?: boolean;
  /** Prompt tokens per word of a text prompt, and tokens a chat template / BOS adds. */
  promptTokensPerWord?: number;
  textOverheadTokens?: number;
  /** Require `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Which fault request n (0-based, in arrival order) gets. */
  fault?: (n: number, body: any) => Fault;
  /** Put the server's own receive and first-write times (process.hrtime ns) into the chunk id, for the bench. */
  stampIds?: boolean;
  /** Stop after this many tokens unless the request says ignore_eos (a model meeting EOS). */
  eosAfter?: number;
}

export interface SeenRequest { n: number; path: string; headers: http.IncomingHttpHeaders; body: any }

export interface FakeServer {
  url: string;
  port: number;
  seen: SeenRequest[];
  close(): Promise<void>;
}

const wordsOf = (s: string) => s.split(/\s+/).filter(Boolean).length;

export async function startFakeServer(o: FakeServerOptions = {}): Promise<FakeServer> {
  const ttftMs = o.ttftMs ?? 0, tpotMs = o.tpotMs ?? 0, perChunk = o.tokensPerChunk ?? 1;
  const seen: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  let count = 0;
  const server = http.createServer((req, res) => {
    const recvNs = process.hrtime.bigint();
    const t0 = performance.now();
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => { raw += d; });
    req.on('end', () => {
      const n = count++;
      let body: any;
      try { body = JSON.parse(raw); } catch { body = null; }
      // keep what the tests look at; the bench makes millions of requests
      if (!o.stampIds) seen.push({ n, path: req.url ?? '', headers: req.headers, body });
      const json = (status: number, obj: unknown) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(obj)); };
      const chat = req.url === '/v1/chat/completions';
      if (req.method !== 'POST' || (!chat && req.url !== '/v1/completions')) return json(404, { error: { message: `no route ${req.method} ${req.url}` } });
      if (o.apiKey !== undefined && req.headers.authorization !== `Bearer ${o.apiKey}`) return json(401, { error: { message: 'Incorrect API key provided' } });
      if (!body || typeof body.model !== 'string') return json(400, { error: { message: 'body must be JSON with a model' } });
      const fault = o.fault?.(n, body) ?? 'none';
      if (fault === 'drop') { req.socket.destroy(); return; }
      if (fault === 'http-429') return json(429, { error: { message: 'Too many requests' } });
      if (fault === 'http-500') return json(500, { error: { message: 'Internal server error' } });
      if (fault === 'http-500-echo') return json(500, { error: { message: `failed; request headers were ${JSON.stringify(req.headers)}` } });

      let promptTokens: number;
      const perWord = o.promptTokensPerWord ?? 1, overhead = o.textOverheadTokens ?? 0;
      if (chat) {
        if (!Array.isArray(body.messages)) return json(400, { error: { message: 'messages required' } });
        promptTokens = body.messages.reduce((s: number, m: any) => s + wordsOf(String(m.content)) * perWord, 0) + overhead;
      } else if (Array.isArray(body.prompt)) {
        if (o.rejectTokenIds) return json(400, { error: { message: 'prompt must be a string' } });
        promptTokens = body.prompt.length;
      } else if (typeof body.prompt === 'string') {
        promptTokens = wordsOf(body.prompt) * perWord + overhead;
      } else return json(400, { error: { message: 'prompt required' } });
      let outTokens = Number(body.max_tokens ?? 16);
      if (o.eosAfter !== undefined && body.ignore_eos !== true) outTokens = Math.min(outTokens, o.eosAfter);
      const usage = body.stream_options?.include_usage === true && fault !== 'no-usage';

      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      if (fault === 'hang') { res.flushHeaders(); return; }
      let id = `cmpl-${n}`;
      const created = Math.floor(Date.now() / 1000);
      const chunk = (text: string, finish: string | null) => chat
        ? `data: {"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(body.model)},"choices":[{"index":0,"delta":{"content":${JSON.stringify(text)}},"finish_reason":${finish ? `"${finish}"` : 'null'}}]}\n\n`
        : `data: {"id":"${id}","object":"text_completion","created":${created},"model":${JSON.stringify(body.model)},"choices":[{"index":0,"text":${JSON.stringify(text)},"logprobs":null,"finish_reason":${finish ? `"${finish}"` : 'null'}}]}\n\n`;
      // vLLM's chat stream opens with a role-only chunk; it is no token
      if (chat) res.write(`data: {"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(body.model)},"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n`);
      const chunks = Math.ceil(outTokens / perChunk);
      let k = 0;
      let closed = false;
      res.on('close', () => { closed = true; });
      const step = () => {
        if (closed) return;
        if (k === 0 && o.stampIds) id = `cmpl-${n}-${recvNs}-${process.hrtime.bigint()}`;
        if (fault === 'cut' && k === Math.floor(chunks / 2)) { res.socket?.destroy(); return; }
        if (fault === 'stream-error' && k === Math.min(2, chunks)) {
          res.write(`data: {"error":{"message":"engine died","type":"InternalServerError","code":500}}\n\n`);
          res.end('data: [DONE]\n\n');
          return;
        }
        if (fault === 'malformed' && k === Math.floor(chunks / 2)) res.write('data: {"choices": [{"text": "broken\n\nthis line is no SSE field\n');
        const last = k === chunks - 1;
        const words = Math.min(perChunk, outTokens - k * perChunk);
        res.write(chunk(' tok'.repeat(words), last && fault !== 'no-done' ? 'length' : null));
        k++;
        if (!last) return schedule();
        if (fault === 'no-done') { res.end(); return; }
        if (usage) res.write(`data: {"id":"${id}","object":"${chat ? 'chat.completion.chunk' : 'text_completion'}","created":${created},"model":${JSON.stringify(body.model)},"choices":[],"usage":{"prompt_tokens":${promptTokens},"completion_tokens":${outTokens},"total_tokens":${promptTokens + outTokens}}}\n\n`);
        res.end('data: [DONE]\n\n');
      };
      const schedule = () => {
        const due = t0 + ttftMs + k * tpotMs;
        const wait = due - performance.now();
        if (wait > 0) setTimeout(step, wait);
        else setImmediate(step);
      };
      schedule();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`, port, seen,
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}

// as a program: the bench runs the server in its own process, so the client's CPU is its own
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string) => { const i = process.argv.indexOf(name); return i >= 0 ? process.argv[i + 1] : undefined; };
  const s = await startFakeServer({ ttftMs: Number(arg('--ttft-ms') ?? 0), tpotMs: Number(arg('--tpot-ms') ?? 0), stampIds: process.argv.includes('--stamp-ids') });
  process.stdout.write(`${JSON.stringify({ port: s.port })}\n`);
  const stop = () => { void s.close().then(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
