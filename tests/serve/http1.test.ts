// The load generator's HTTP/1.1 client against a raw TCP server that answers with scripted bytes: every framing it
// claims (chunked, Content-Length, read-to-close, 1xx, keep-alive, Connection: close), split at every byte, and the
// broken responses it must refuse rather than misread.
import { afterEach, describe, expect, it } from 'vitest';
import net, { type AddressInfo } from 'node:net';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Http1Pool, type ResponseSink } from '../../workloads/serve/http1.js';

type Reply = (req: string, socket: net.Socket, n: number) => void | Promise<void>;

const servers: net.Server[] = [];
afterEach(async () => { for (const s of servers.splice(0)) await new Promise((r) => s.close(r)); });

/** A server that reads one request (head + Content-Length body) at a time and hands it to reply. */
async function rawServer(reply: Reply): Promise<{ url: URL; connections: () => number; requests: string[] }> {
  let conns = 0;
  const requests: string[] = [];
  const server = net.createServer((socket) => {
    conns++;
    let buf = '';
    socket.setEncoding('latin1');
    socket.on('error', () => {});
    socket.on('data', async (d: string) => {
      buf += d;
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const len = Number(/content-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        const req = buf.slice(0, end + 4 + len);
        buf = buf.slice(end + 4 + len);
        requests.push(req);
        await reply(req, socket, requests.length - 1);
      }
    });
  });
  servers.push(server);
  server.unref();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: new URL(`http://127.0.0.1:${port}/v1/completions`), connections: () => conns, requests };
}

interface Got { status?: number; headers?: Map<string, string>; text: string; reads: number; ended: boolean; error?: { phase: string; message: string } }

function collect(pool: Http1Pool, body = '{"x":1}'): Promise<Got> {
  return new Promise((resolve) => {
    const g: Got = { text: '', reads: 0, ended: false };
    const sink: ResponseSink = {
      head: (s, h) => { g.status = s; g.headers = h; },
      body: (t) => { g.text += t; g.reads++; },
      end: () => { g.ended = true; resolve(g); },
      error: (phase, message) => { g.error = { phase, message }; resolve(g); },
    };
    pool.request(body, sink);
  });
}

const now = () => Number(process.hrtime.bigint()) / 1e9;
const newPool = (url: URL, extra: Partial<ConstructorParameters<typeof Http1Pool>[0]> = {}) =>
  new Http1Pool({ url, now, headers: { 'Content-Type': 'application/json' }, ...extra });

/** Write bytes one at a time with a pause, so every boundary is a read boundary for the client. */
async function trickle(socket: net.Socket, bytes: Buffer): Promise<void> {
  for (const b of bytes) { socket.write(Buffer.from([b])); await new Promise((r) => setTimeout(r, 1)); }
}

const sse = 'data: {"choices":[{"text":"héllo 好"}]}\n\ndata: [DONE]\n\n';
function chunked(text: string, pieces: number[], ext = ''): Buffer {
  const b = Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  let at = 0;
  for (const n of [...pieces, b.length]) {
    const end = Math.min(b.length, at + n);
    if (end > at) parts.push(Buffer.from(`${(end - at).toString(16).toUpperCase()}${ext}\r\n`), b.subarray(at, end), Buffer.from('\r\n'));
    at = end;
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

describe('Http1Pool', () => {
  it('writes one well-formed POST: path, Host, headers, Content-Length in bytes, keep-alive', async () => {
    const srv = await rawServer((_, s) => { s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'); });
    const pool = newPool(srv.url, { headers: { 'Content-Type': 'application/json', Authorization: 'Bearer k' } });
    const g = await collect(pool, '{"p":"é"}');
    pool.close();
    expect(g).toMatchObject({ status: 200, text: 'ok', ended: true });
    const req = srv.requests[0]!;
    expect(req).toMatch(/^POST \/v1\/completions HTTP\/1\.1\r\n/);
    expect(req).toContain(`\r\nHost: 127.0.0.1:${srv.url.port}\r\n`);
    expect(req).toContain('\r\nAuthorization: Bearer k\r\n');
    expect(req).toContain('\r\nContent-Length: 10\r\n'); // é is two bytes
    expect(req).toContain('\r\nConnection: keep-alive\r\n');
  });

  it('chunked SSE split at every byte (sizes in upper-case hex, with extensions, UTF-8 split mid-character) decodes exactly', async () => {
    const bytes = chunked(sse, [7, 13, 5], ';ext=1');
    const srv = await rawServer(async (_, s) => { await trickle(s, Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n'), bytes])); });
    const pool = newPool(srv.url);
    const g = await collect(pool);
    pool.close();
    expect(g.error).toBeUndefined();
    expect(g.text).toBe(sse);
    expect(g.ended).toBe(true);
    expect(g.headers!.get('content-type')).toBe('text/event-stream');
    expect(g.reads).toBeGreaterThan(10); // it did arrive in pieces
  });

  it('keeps the connection alive across requests (chunked or sized), and opens a new one after Connection: close', async () => {
    const srv = await rawServer((_, s, n) => {
      const close = n === 1;
      // the first is chunked: its last chunk and blank trailer line must be read whole for the connection to be reused
      if (n === 0) return void s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n0\r\n0\r\n\r\n');
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: 1\r\n${close ? 'Connection: close\r\n' : ''}\r\n${n}`);
      if (close) s.end();
    });
    const pool = newPool(srv.url);
    const texts = [];
    for (let i = 0; i < 4; i++) texts.push((await collect(pool)).text);
    pool.close();
    expect(texts).toEqual(['0', '1', '2', '3']);
    expect(srv.connections()).toBe(2);
  });

  it('skips a 100 Continue; reads a body delimited by the connection\'s end; a 204 has no body', async () => {
    const srv = await rawServer((_, s, n) => {
      if (n === 0) s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc');
      else if (n === 1) s.end('HTTP/1.0 200 OK\r\n\r\nto the end');
      else s.write('HTTP/1.1 204 No Content\r\n\r\n');
    });
    const pool = newPool(srv.url);
    expect(await collect(pool)).toMatchObject({ status: 200, text: 'abc', ended: true });
    expect(await collect(pool)).toMatchObject({ status: 200, text: 'to the end', ended: true });
    expect(await collect(pool)).toMatchObject({ status: 204, text: '', ended: true });
    pool.close();
  });

  it('an error status is a response like any other (the body is for the caller to keep)', async () => {
    const srv = await rawServer((_, s) => { s.write('HTTP/1.1 429 Too Many Requests\r\nContent-Length: 17\r\n\r\n{"error":"slow"}\n'); });
    const pool = newPool(srv.url);
    expect(await collect(pool)).toMatchObject({ status: 429, text: '{"error":"slow"}\n', ended: true });
    pool.close();
  });

  it('a refused connection fails in the connect phase; a connection cut mid-body fails as cut', async () => {
    const free = net.createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const port = (free.address() as AddressInfo).port;
    await new Promise((r) => free.close(r));
    const refused = newPool(new URL(`http://127.0.0.1:${port}/v1/completions`));
    const g1 = await collect(refused);
    expect(g1.error).toMatchObject({ phase: 'connect' });
    expect(g1.error!.message).toMatch(/ECONNREFUSED/);
    refused.close();

    const srv = await rawServer((_, s) => { s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel'); setTimeout(() => s.destroy(), 20); });
    const pool = newPool(srv.url);
    const g2 = await collect(pool);
    expect(g2.error).toMatchObject({ phase: 'cut' });
    expect(g2.text).toBe('hel');
    pool.close();
  });

  it('refuses what is not HTTP, a bad chunk size and a bad Content-Length, instead of misreading them', async () => {
    const replies = ['SSH-2.0-OpenSSH_9.2\r\n\r\n', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: -4\r\n\r\n'];
    const srv = await rawServer((_, s, n) => { s.write(replies[n]!); });
    const pool = newPool(srv.url);
    const got = [await collect(pool), await collect(pool), await collect(pool)];
    pool.close();
    expect(got[0]!.error).toMatchObject({ phase: 'cut' });
    expect(got[0]!.error!.message).toMatch(/not an HTTP\/1\.x response/);
    expect(got[1]!.error!.message).toMatch(/bad chunk size/);
    expect(got[2]!.error!.message).toMatch(/bad Content-Length/);
  });

  it('holds requests beyond maxSockets until a connection comes free', async () => {
    const srv = await rawServer((_, s, n) => { setTimeout(() => s.write(`HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n${n % 10}`), 10); });
    const pool = newPool(srv.url, { maxSockets: 2 });
    const all = await Promise.all(Array.from({ length: 6 }, () => collect(pool)));
    pool.close();
    expect(all.every((g) => g.ended)).toBe(true);
    expect(srv.connections()).toBe(2);
  });

  it('a reused connection the server closes before answering: the request goes once more on a new connection', async () => {
    // request 1 reaches a connection the server is closing (its idle timeout): closed unanswered, then sent again
    const srv = await rawServer((_, s, n) => { if (n === 1) s.destroy(); else s.write(`HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n${n}`); });
    const pool = newPool(srv.url);
    expect((await collect(pool)).text).toBe('0');
    const g = await collect(pool);
    pool.close();
    expect(g).toMatchObject({ status: 200, text: '2', ended: true });
    expect(g.error).toBeUndefined();
    expect(pool.resends).toBe(1);
    expect(srv.connections()).toBe(2);
  });

  it('never resends a request on a fresh connection, or one that got any byte of its response', async () => {
    const fresh = await rawServer((_, s) => { s.destroy(); });
    const p1 = newPool(fresh.url);
    const g1 = await collect(p1);
    p1.close();
    expect(g1.error?.phase).toBe('connect');
    expect(fresh.requests).toHaveLength(1);
    expect(p1.resends).toBe(0);
    // reused, but the server began its answer: what it did is unknown, so the request fails as cut
    const part = await rawServer((_, s, n) => { if (n === 1) { s.write('HTTP/1.1 200 OK\r\n'); setTimeout(() => s.destroy(), 20); } else s.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx'); });
    const p2 = newPool(part.url);
    await collect(p2);
    const g2 = await collect(p2);
    p2.close();
    expect(g2.error?.phase).toBe('cut');
    expect(part.requests).toHaveLength(2);
    expect(p2.resends).toBe(0);
  });

  it('does not reuse a connection past the keep-alive timeout the server states, less a second', async () => {
    // timeout=1: reusable for 0 ms, so each request opens a connection; timeout=5: reused after a short pause
    for (const [timeoutS, conns] of [[1, 2], [5, 1]] as const) {
      const srv = await rawServer((_, s) => { s.write(`HTTP/1.1 200 OK\r\nKeep-Alive: timeout=${timeoutS}, max=100\r\nContent-Length: 2\r\n\r\nok`); });
      const pool = newPool(srv.url);
      await collect(pool);
      await new Promise((r) => setTimeout(r, 50));
      const g = await collect(pool);
      pool.close();
      expect(g.ended).toBe(true);
      expect(srv.connections(), `Keep-Alive: timeout=${timeoutS}`).toBe(conns);
      expect(pool.resends).toBe(0);
    }
  });

  it('aborting a request that waited for a connection closes the connection it got', async () => {
    let closed!: () => void;
    const closedP = new Promise<void>((r) => { closed = r; });
    const srv = await rawServer((_, s, n) => {
      if (n === 0) s.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na');
      else { s.on('close', () => closed()); s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'); } // and never ends
    });
    const pool = newPool(srv.url, { maxSockets: 1 });
    const first = collect(pool);
    let aborted = false;
    const ex = pool.request('{}', {
      head: () => {}, end: () => {}, error: () => {},
      body: () => { if (!aborted) { aborted = true; ex.abort(); } },
    });
    await first;
    try {
      await Promise.race([closedP, new Promise((_, rej) => setTimeout(() => rej(new Error('the aborted request kept its connection open')), 5000))]);
    } finally { pool.close(); }
  });

  it('refuses a header that would smuggle a second header', () => {
    expect(() => newPool(new URL('http://127.0.0.1:1/v1/completions'), { headers: { Authorization: 'Bearer x\r\nX-Evil: 1' } })).toThrow(/line break/);
  });

  // a certificate for 127.0.0.1 made here with openssl (Debian has it; skipped with a note where it is absent)
  const cert = (() => {
    try {
      const d = mkdtempSync(join(tmpdir(), 'wb-tls-'));
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(d, 'k.pem'), '-out', join(d, 'c.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
      return { key: readFileSync(join(d, 'k.pem')), cert: readFileSync(join(d, 'c.pem')) };
    } catch { console.log('note: openssl is absent; the https case of the load generator\'s client is skipped'); return null; }
  })();

  it.skipIf(!cert)('https: streams over TLS with the CA it is given, and refuses a certificate it cannot verify', async () => {
    const server = https.createServer({ key: cert!.key, cert: cert!.cert }, (req, res) => {
      req.resume();
      req.on('end', () => { res.writeHead(200, { 'content-type': 'text/event-stream' }); res.write(sse.slice(0, 20)); setTimeout(() => res.end(sse.slice(20)), 5); });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}/v1/completions`);
    try {
      const trusted = newPool(url, { tls: { ca: cert!.cert } });
      expect(await collect(trusted)).toMatchObject({ status: 200, text: sse, ended: true });
      trusted.close();
      const untrusted = newPool(url);
      const g = await collect(untrusted);
      untrusted.close();
      expect(g.error).toMatchObject({ phase: 'connect' });
      expect(g.error!.message).toMatch(/self[- ]signed|certificate/i);
    } finally { server.closeAllConnections(); await new Promise((r) => server.close(r)); }
  });
});
