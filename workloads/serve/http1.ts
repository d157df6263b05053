// A minimal HTTP/1.1 client for the streaming load generator: kept-alive TCP (or TLS) connections, one request at a
// time on each, the response's body handed over as decoded text together with the clock reading taken when its
// bytes were read.
//
// Why not node:http: at a few hundred concurrent streams a server's decode step delivers one chunk to every stream
// at once, and the client must drain that burst before it can notice a first token queued behind it. node:http's
// per-read machinery (parser callbacks, IncomingMessage stream, events) costs about 2.5× the CPU of a raw socket
// read here, and its tails were 6× longer: bench/serve-client.ts at 256 streams, 20 ms TPOT, measured a mean
// TTFT overhead of 5.2–5.5 ms with node:http against 1.3–1.4 ms with a raw socket on the same 2-core machine.
//
// Kept-alive connections go stale: a server closes one it has held idle for its keep-alive timeout (uvicorn, under
// vLLM and SGLang, after 5 s; Node's http server after 5 s and says so in `Keep-Alive: timeout=5`). Two defences,
// as browsers and undici have: an idle connection is not reused past the server's stated timeout less a second
// (4 s when it states none), and a request whose reused connection closes before any byte of the response is sent
// once more on a new connection — the server closed it without reading the request, so nothing ran twice.
// A request on a fresh connection, or one that got any response byte, is never resent.
//
// Scope, on purpose: POST with a body of known length; responses with Content-Length, chunked transfer coding or
// read-to-close; 1xx interim responses skipped; keep-alive unless the server says `Connection: close` (or speaks
// HTTP/1.0 without keep-alive). No redirects, proxies, compression or pipelining: an OpenAI-compatible endpoint
// needs none of them, and each would be a place for the benchmark to measure itself.
import net from 'node:net';
import tls from 'node:tls';
import { StringDecoder } from 'node:string_decoder';

export interface ResponseSink {
  /** Status and headers (names lower-case) of the final response. */
  head(status: number, headers: Map<string, string>): void;
  /** Decoded body text that arrived in one socket read, with the clock reading taken when it was read. */
  body(text: string, tS: number): void;
  /** The response is complete. */
  end(tS: number): void;
  /** The connection failed: before any byte of the response (`connect`) or after (`cut`). */
  error(phase: 'connect' | 'cut', message: string): void;
}

export interface PoolOptions {
  url: URL;
  /** Extra request headers (content-type, accept, authorization, ...). */
  headers: Record<string, string>;
  /** Connections to keep at most; requests beyond wait for one to come free. Default: no limit. */
  maxSockets?: number;
  /** The clock, seconds. */
  now: () => number;
  /** Extra TLS settings for https URLs (a private CA, say); the system's trust store otherwise. */
  tls?: tls.ConnectionOptions;
}

/** What a request can be asked: stop (the run was stopped, or a timeout fired); its connection is closed. */
export interface Exchange { abort(): void }

/** Reuse an idle connection for at most this long when the server states no keep-alive timeout. */
const DEFAULT_IDLE_REUSE_MS = 4000;
/** Margin under a stated keep-alive timeout: a request must reach the server well before it closes the connection. */
const KEEP_ALIVE_MARGIN_MS = 1000;

/** One request from the call to its end: waiting for a connection, on one, and on a second after a stale one. */
class Pending implements Exchange {
  conn: Connection | null = null;
  cancelled = false;
  /** Sent once more after a reused connection closed before any response byte. */
  resent = false;
  constructor(readonly sink: ResponseSink, readonly request: Buffer) {}
  abort(): void {
    this.cancelled = true;
    if (this.conn?.pending === this) this.conn.abort();
  }
}

const enum State { Head, Chunk, ChunkData, ChunkDataEnd, Trailers, Length, ToClose, Done }
const CRLF2 = Buffer.from('\r\n\r\n');

/** One connection and the response being read on it. */
class Connection {
  /** The request on this connection now; its sink hears the response. */
  pending: Pending | null = null;
  get sink(): ResponseSink | null { return this.pending?.sink ?? null; }
  /** Responses completed on this connection: more than 0 makes it a reused connection. */
  served = 0;
  /** When it went back to the idle list (ms, monotonic), and how long it may stay there and still be reused. */
  idleSinceMs = 0;
  reuseForMs = DEFAULT_IDLE_REUSE_MS;
  private state = State.Done;
  private head: Buffer | null = null;
  private remaining = 0;
  private keepAlive = true;
  private gotBytes = false;
  private decoder = new StringDecoder('utf8');
  /** A trailer line split across reads. */
  private line = '';
  /** Chunk-size line state, kept across reads: digits seen, and whether the size has ended (extension, CR). */
  private sizeDigits = 0;
  private sizeDone = false;
  private crSeen = false;
  /** The decoder holds the start of a UTF-8 character split across pieces. */
  private decoderPending = false;

  constructor(readonly socket: net.Socket, private readonly pool: Http1Pool, private readonly now: () => number) {
    socket.on('data', (b: Buffer) => this.onData(b));
    socket.on('error', (e: NodeJS.ErrnoException) => this.onClose(`${e.code ?? 'error'}: ${e.message}`, true));
    socket.on('close', () => this.onClose('the server closed the connection', false));
  }

  start(p: Pending): void {
    p.conn = this;
    this.pending = p;
    this.state = State.Head;
    this.head = null;
    this.gotBytes = false;
    this.keepAlive = true;
    this.decoder = new StringDecoder('utf8');
    this.decoderPending = false;
    this.remaining = 0; this.sizeDigits = 0; this.sizeDone = false; this.crSeen = false; this.line = '';
    this.socket.write(p.request);
  }

  /** UTF-8 text of buf[a, b): a direct slice when no character is split across pieces (an SSE chunk ends in \n). */
  private decode(buf: Buffer, a: number, b: number): string {
    if (a === b) return '';
    if (!this.decoderPending && buf[b - 1]! < 0x80) return buf.toString('utf8', a, b);
    const t = this.decoder.write(buf.subarray(a, b));
    this.decoderPending = buf[b - 1]! >= 0x80;
    return t;
  }

  private onClose(why: string, failed: boolean): void {
    this.pool.forget(this);
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    const sink = p.sink;
    // a reused connection the server closed before answering: it had not read the request (see the top)
    if (!this.gotBytes && this.served > 0 && !p.resent && !p.cancelled) { p.resent = true; this.pool.resend(p); return; }
    // a body delimited by the connection's end is complete when the server closes it cleanly, not on a reset
    if (this.state === State.ToClose && !failed) { const t = this.now(); const rest = this.decoder.end(); if (rest) sink.body(rest, t); sink.end(t); return; }
    sink.error(this.gotBytes ? 'cut' : 'connect', why);
  }

  private onData(buf: Buffer): void {
    const t = this.now();
    const sink = this.sink;
    if (!sink) { this.socket.destroy(); return; } // bytes nobody asked for: this connection cannot be trusted
    this.gotBytes = true;
    let text = '';
    let pos = 0;
    const len = buf.length;
    while (pos < len && this.sink) {
      switch (this.state) {
        case State.Head: {
          const all = this.head ? Buffer.concat([this.head, buf.subarray(pos)]) : buf.subarray(pos);
          const end = all.indexOf(CRLF2);
          if (end === -1) {
            if (all.length > 64 * 1024) return this.broken('response headers over 64 KiB');
            this.head = Buffer.from(all);
            pos = len;
            break;
          }
          const consumed = end + 4 - (this.head ? this.head.length : 0);
          this.head = null;
          pos += consumed;
          if (!this.onHead(all.subarray(0, end).toString('latin1'))) return;
          break;
        }
        case State.Length:
        case State.ChunkData: {
          // a sized body, or one chunk's data: the rest of it, or what this read holds
          const n = Math.min(this.remaining, len - pos);
          text += this.decode(buf, pos, pos + n);
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = this.state === State.Length ? State.Done : State.ChunkDataEnd;
          break;
        }
        case State.ToClose:
          text += this.decode(buf, pos, len);
          pos = len;
          break;
        case State.Chunk: {
          // the hex size, read byte by byte (no string per chunk); an extension after ';' is skipped to the LF
          for (; pos < len; pos++) {
            const c = buf[pos]!;
            if (c === 10) break;
            if (this.sizeDone || c === 13) { this.sizeDone = true; continue; }
            if (c === 59 /* ; */ || c === 32 || c === 9) { this.sizeDone = true; continue; }
            const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
            if (d < 0 || ++this.sizeDigits > 12) return this.broken('bad chunk size line');
            this.remaining = this.remaining * 16 + d;
          }
          if (pos === len) break;
          pos++; // the LF
          if (this.sizeDigits === 0) return this.broken('empty chunk size line');
          this.sizeDigits = 0; this.sizeDone = false;
          if (this.remaining === 0) this.state = State.Trailers;
          else this.state = State.ChunkData;
          break;
        }
        case State.ChunkDataEnd: {
          // CRLF after the data (a bare LF is tolerated)
          const c = buf[pos++]!;
          if (c === 13 && this.crSeen === false) { this.crSeen = true; break; }
          if (c !== 10) return this.broken('chunk data not followed by CRLF');
          this.crSeen = false;
          this.state = State.Chunk;
          break;
        }
        case State.Trailers: {
          const nl = buf.indexOf(10, pos);
          const piece = buf.toString('latin1', pos, nl === -1 ? len : nl + 1);
          pos = nl === -1 ? len : nl + 1;
          this.line += piece;
          if (this.line.length > 8192) return this.broken('a trailer line over 8 KiB');
          if (nl === -1) break;
          const l = this.line.trimEnd();
          this.line = '';
          if (l === '') this.state = State.Done; // the blank line after the (usually absent) trailers
          break;
        }
        case State.Done:
          pos = len; // bytes after a complete response (no pipelining here): ignored, and the connection not reused
          this.keepAlive = false;
          break;
      }
      if (this.state === State.Done && this.sink) break;
    }
    if (text && this.sink) this.sink.body(text, t);
    if (this.state === State.Done && this.sink) this.finish(t, pos < len);
  }

  /** Parse the status line and headers; decide how the body is delimited. False when the connection was given up. */
  private onHead(head: string): boolean {
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? '');
    if (!m) { this.broken(`not an HTTP/1.x response: ${JSON.stringify((lines[0] ?? '').slice(0, 60))}`); return false; }
    const status = Number(m[2]);
    if (status >= 100 && status < 200) { this.state = State.Head; return true; } // 100 Continue and friends
    const headers = new Map<string, string>();
    for (let i = 1; i < lines.length; i++) {
      const c = lines[i]!.indexOf(':');
      if (c <= 0) continue;
      const k = lines[i]!.slice(0, c).trim().toLowerCase(), v = lines[i]!.slice(c + 1).trim();
      headers.set(k, headers.has(k) ? `${headers.get(k)}, ${v}` : v);
    }
    const conn = (headers.get('connection') ?? '').toLowerCase();
    this.keepAlive = m[1] === '1' ? !conn.includes('close') : conn.includes('keep-alive');
    const ka = /(?:^|[,;\s])timeout\s*=\s*(\d+)/i.exec(headers.get('keep-alive') ?? '');
    if (ka) this.reuseForMs = Math.max(0, Number(ka[1]) * 1000 - KEEP_ALIVE_MARGIN_MS);
    const te = (headers.get('transfer-encoding') ?? '').toLowerCase();
    const cl = headers.get('content-length');
    if (status === 204 || status === 304) this.state = State.Done;
    else if (te.includes('chunked')) this.state = State.Chunk;
    else if (cl !== undefined) {
      const n = Number(cl);
      if (!Number.isSafeInteger(n) || n < 0) { this.broken(`bad Content-Length ${JSON.stringify(cl.slice(0, 40))}`); return false; }
      this.remaining = n;
      this.state = n === 0 ? State.Done : State.Length;
    } else { this.state = State.ToClose; this.keepAlive = false; }
    this.sink!.head(status, headers);
    return true;
  }

  private finish(t: number, extraBytes: boolean): void {
    const sink = this.sink!;
    this.pending = null;
    this.served++;
    const rest = this.decoder.end();
    if (rest) sink.body(rest, t);
    sink.end(t);
    if (this.keepAlive && !extraBytes && !this.socket.destroyed) this.pool.release(this);
    else { this.pool.forget(this); this.socket.destroy(); }
  }

  private broken(why: string): void {
    const sink = this.sink;
    this.pending = null;
    this.pool.forget(this);
    this.socket.destroy();
    sink?.error(this.gotBytes ? 'cut' : 'connect', `malformed HTTP response: ${why}`);
  }

  abort(): void {
    this.pending = null;
    this.pool.forget(this);
    this.socket.destroy();
  }
}

export class Http1Pool {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly waiting: Pending[] = [];
  /** Requests sent once more after a stale kept-alive connection (see the top); a figure for the result. */
  resends = 0;
  private readonly prefix: string;
  private readonly secure: boolean;
  private readonly host: string;
  private readonly port: number;
  private closed = false;

  constructor(private readonly opts: PoolOptions) {
    const u = opts.url;
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`unsupported protocol ${u.protocol}`);
    this.secure = u.protocol === 'https:';
    this.host = u.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(u.port || (this.secure ? 443 : 80));
    const lines = [`POST ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`];
    for (const [k, v] of Object.entries(opts.headers)) {
      // a header from a suite or the environment must not smuggle a second header or a body
      if (/[\r\n\0]/.test(k) || /[\r\n\0]/.test(v)) throw new TypeError(`header ${JSON.stringify(k)} holds a line break or NUL`);
      lines.push(`${k}: ${v}`);
    }
    lines.push('Connection: keep-alive');
    this.prefix = `${lines.join('\r\n')}\r\n`;
  }

  /** Send one POST with this body; the sink hears the response. */
  request(body: string, sink: ResponseSink): Exchange {
    const request = Buffer.from(`${this.prefix}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    if (this.closed) { queueMicrotask(() => sink.error('connect', 'the client was closed')); return { abort() {} }; }
    const p = new Pending(sink, request);
    const nowMs = performance.now();
    let conn = this.idle.pop();
    // not reused: a connection the server has begun to close (FIN seen, 'close' not yet emitted), or one idle so long
    // the server may be closing it as the request goes out
    while (conn && (conn.socket.destroyed || !conn.socket.writable || conn.socket.readableEnded || nowMs - conn.idleSinceMs > conn.reuseForMs)) {
      this.forget(conn); conn.socket.destroy(); conn = this.idle.pop();
    }
    if (!conn && this.all.size >= (this.opts.maxSockets ?? Infinity)) this.waiting.push(p);
    else (conn ?? this.open()).start(p);
    return p;
  }

  /** Send a request again on a new connection: its kept-alive one went stale before the server read it. */
  resend(p: Pending): void {
    if (this.closed) { p.sink.error('connect', 'the client was closed'); return; }
    this.resends++;
    this.open().start(p);
  }

  private open(): Connection {
    const socket = this.secure
      ? tls.connect({ ...this.opts.tls, host: this.host, port: this.port, servername: net.isIP(this.host) ? undefined : this.host, ALPNProtocols: ['http/1.1'] })
      : net.connect({ host: this.host, port: this.port });
    socket.setNoDelay(true);
    const c = new Connection(socket, this, this.opts.now);
    this.all.add(c);
    return c;
  }

  /** A connection finished its response and may carry the next request. */
  release(c: Connection): void {
    if (this.closed) { this.forget(c); c.socket.destroy(); return; }
    for (let w = this.waiting.shift(); w; w = this.waiting.shift()) {
      if (!w.cancelled) { c.start(w); return; }
    }
    c.idleSinceMs = performance.now();
    this.idle.push(c);
  }

  /** A connection is gone (closed, broken, aborted): a waiting request gets a new one. */
  forget(c: Connection): void {
    if (!this.all.delete(c)) return;
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    if (this.closed) return;
    for (let w = this.waiting.shift(); w; w = this.waiting.shift()) {
      if (!w.cancelled) { this.open().start(w); return; }
    }
  }

  /** Close every connection. */
  close(): void {
    this.closed = true;
    for (const w of this.waiting.splice(0)) if (!w.cancelled) w.sink.error('connect', 'the client was closed');
    for (const c of [...this.all]) { c.abort(); }
    this.idle.length = 0;
  }
}
