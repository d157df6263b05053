// The streaming client: one POST per request over kept-alive HTTP/1.1 connections (http1.ts, not node:http: see
// there why), the response read as server-sent events (`data: {...}` chunks ended by `data: [DONE]`), every chunk
// that carries text stamped on arrival. Built for throughput: one clock read per socket read (every chunk in that
// read arrived together), one JSON.parse per chunk, no per-chunk allocation beyond the parse, chunk times in a
// typed array.
//
// What counts as a token chunk: a chunk with a choice whose `text` (completions) or `delta.content` /
// `delta.reasoning_content` (chat) is a non-empty string. The role-only first chunk of a chat stream and the
// usage-only last chunk are not tokens. The first token chunk's arrival is the first token (TTFT).
//
// The API key is a header value only: it is never put into a record, an error message (server error bodies are
// redacted, see redactor) or anything else this module returns.
import { Http1Pool, type Exchange } from './http1.js';
import { SseParser } from './sse.js';
import { newRecord, kindForStatus, type RequestRecord, type ErrorKind } from './records.js';

export interface ClientOptions {
  /** The full endpoint URL (…/v1/completions or …/v1/chat/completions). */
  url: string;
  /** Extra headers (the Authorization header goes here, built from the environment). */
  headers?: Record<string, string>;
  /** Sockets to keep open; the load generator passes its concurrency. */
  maxSockets?: number;
  firstTokenTimeoutMs: number;
  requestTimeoutMs: number;
  /** The clock, seconds. */
  now: () => number;
  /** Removes secrets from text that came from the server before it is recorded. */
  redact?: (s: string) => string;
}

export interface RequestSpec {
  index: number;
  scheduledS: number;
  body: string;
  targetOutputTokens: number;
  /** The prompt length when the client knows it exactly (token-id prompts); used when the server sends no usage. */
  knownInputTokens?: number;
}

const MAX_ERROR_BODY = 4096;

/** A function that removes a secret, and any 8-character piece of it, from a text (servers echo keys in 401 bodies). */
export function redactor(secret: string | undefined): (s: string) => string {
  if (!secret) return (s) => s;
  const pieces = new Set<string>([secret]);
  if (secret.length >= 8) for (let i = 0; i + 8 <= secret.length; i++) pieces.add(secret.slice(i, i + 8));
  return (s) => {
    let out = s;
    for (const p of pieces) if (out.includes(p)) out = out.split(p).join('[redacted]');
    return out;
  };
}

export class StreamClient {
  private readonly pool: Http1Pool;
  private readonly redact: (s: string) => string;

  constructor(private readonly opts: ClientOptions) {
    this.pool = new Http1Pool({
      url: new URL(opts.url), now: opts.now, ...(opts.maxSockets !== undefined ? { maxSockets: opts.maxSockets } : {}),
      headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream', ...(opts.headers ?? {}) },
    });
    this.redact = opts.redact ?? ((s) => s);
  }

  /** Close the kept-alive connections. */
  close(): void { this.pool.close(); }

  /** Requests sent a second time because their kept-alive connection went stale before the server read them. */
  get resends(): number { return this.pool.resends; }

  send(spec: RequestSpec, signal?: AbortSignal): Promise<RequestRecord> {
    const now = this.opts.now;
    const rec = newRecord(spec.index, spec.scheduledS, spec.targetOutputTokens);
    return new Promise<RequestRecord>((resolve) => {
      let settled = false;
      let responded = false;
      let sawDone = false;
      let finishReason = false;
      let streamError: string | undefined;
      let usage: { prompt_tokens?: unknown; completion_tokens?: unknown } | undefined;
      let firstTimer: NodeJS.Timeout | undefined;
      let totalTimer: NodeJS.Timeout | undefined;
      let chunkNowS = 0;
      const times = rec.chunkTimes;
      let exchange: Exchange | undefined;
      let errorBody: string | null = null; // collected instead of parsed when the status is not 200

      const cleanup = () => {
        if (firstTimer) clearTimeout(firstTimer);
        if (totalTimer) clearTimeout(totalTimer);
        signal?.removeEventListener('abort', onAbort);
      };
      const fail = (kind: ErrorKind, message: string) => {
        if (settled) return;
        settled = true;
        cleanup();
        rec.doneS = now();
        rec.error = { kind, message: this.redact(message) };
        this.account(rec, usage, spec);
        exchange?.abort();
        resolve(rec);
      };
      const succeed = () => {
        if (settled) return;
        settled = true;
        cleanup();
        this.account(rec, usage, spec);
        if (streamError !== undefined) rec.error = { kind: 'stream_error', message: this.redact(streamError) };
        else if (rec.malformedLines > 0) rec.error = { kind: 'malformed_sse', message: `${rec.malformedLines} line(s) were not SSE or not JSON; a token or the usage may have been lost` };
        else if (times.n === 0) rec.error = { kind: 'no_output', message: 'the stream finished without any token' };
        resolve(rec);
      };
      const onAbort = () => fail('aborted', 'the run was stopped');

      const parser = new SseParser({
        event: (data, name) => {
          if (data === '[DONE]') { sawDone = true; rec.doneS = chunkNowS; return; }
          if (data === '') return; // an empty data line carries nothing (some servers use it as a keep-alive)
          let obj: any;
          try { obj = JSON.parse(data); } catch { rec.malformedLines++; return; }
          if (obj === null || typeof obj !== 'object') { rec.malformedLines++; return; }
          if (name === 'error' || obj.error !== undefined && obj.error !== null) {
            const e = obj.error ?? obj;
            streamError = typeof e === 'string' ? e : typeof e?.message === 'string' ? e.message : JSON.stringify(e).slice(0, 500);
            return;
          }
          if (rec.responseId === undefined && typeof obj.id === 'string') rec.responseId = obj.id;
          const choices = obj.choices;
          let text = false;
          if (Array.isArray(choices)) {
            for (let i = 0; i < choices.length; i++) {
              const c = choices[i];
              if (!c) continue;
              const d = c.delta;
              const t = c.text ?? (d ? (d.content || d.reasoning_content || d.reasoning) : undefined);
              if (typeof t === 'string' && t.length > 0) text = true;
              if (c.finish_reason) finishReason = true;
            }
          } else if (!obj.usage) { rec.malformedLines++; return; }
          if (obj.usage && typeof obj.usage === 'object') usage = obj.usage;
          if (text) {
            if (rec.firstTokenS === null) {
              rec.firstTokenS = chunkNowS;
              if (firstTimer) { clearTimeout(firstTimer); firstTimer = undefined; }
            }
            rec.lastTokenS = chunkNowS;
            times.push(chunkNowS);
          }
        },
        malformed: () => { rec.malformedLines++; },
      });

      const failHttp = () => fail(kindForStatus(rec.httpStatus ?? 0), `HTTP ${rec.httpStatus}${errorBody ? `: ${errorBody.slice(0, MAX_ERROR_BODY).trim()}` : ''}`);
      if (signal) {
        if (signal.aborted) { queueMicrotask(onAbort); }
        else signal.addEventListener('abort', onAbort, { once: true });
      }
      firstTimer = setTimeout(() => fail('first_token_timeout', `no token within ${this.opts.firstTokenTimeoutMs} ms`), this.opts.firstTokenTimeoutMs);
      totalTimer = setTimeout(() => fail('request_timeout', `not finished within ${this.opts.requestTimeoutMs} ms`), this.opts.requestTimeoutMs);

      rec.sentS = now();
      exchange = this.pool.request(spec.body, {
        head: (code) => {
          responded = true;
          rec.httpStatus = code;
          if (code !== 200) errorBody = '';
        },
        body: (text, tS) => {
          if (settled) return;
          if (errorBody !== null) { if (errorBody.length < MAX_ERROR_BODY) errorBody += text; return; }
          chunkNowS = tS;
          parser.push(text);
          if (sawDone) succeed();
        },
        end: (tS) => {
          if (settled) return;
          if (errorBody !== null) return failHttp();
          chunkNowS = tS;
          parser.end();
          if (sawDone) return succeed();
          // a clean end without [DONE]: acceptable only where the server said the generation finished
          if (finishReason || usage) { rec.doneS = chunkNowS; return succeed(); }
          fail('incomplete_stream', 'the stream ended without data: [DONE] and without a finish_reason');
        },
        error: (phase, message) => {
          if (settled) return;
          if (errorBody !== null) return failHttp();
          if (phase === 'cut' || responded) fail('cut_mid_stream', `connection broke mid-stream after ${times.n} token chunk(s): ${message}`);
          else fail('connect_failed', message);
        },
      });
    });
  }

  /** Token counts: the server's usage where it came, else the client's count of token chunks. */
  private account(rec: RequestRecord, usage: { prompt_tokens?: unknown; completion_tokens?: unknown } | undefined, spec: RequestSpec): void {
    const out = usage && typeof usage.completion_tokens === 'number' ? usage.completion_tokens : undefined;
    const inp = usage && typeof usage.prompt_tokens === 'number' ? usage.prompt_tokens : undefined;
    if (out !== undefined) {
      rec.usageSource = 'server';
      rec.outputTokens = out;
      rec.inputTokens = inp ?? spec.knownInputTokens ?? null;
    } else if (rec.chunkTimes.n > 0 || rec.error === undefined) {
      rec.usageSource = 'client';
      rec.outputTokens = rec.chunkTimes.n;
      rec.inputTokens = inp ?? spec.knownInputTokens ?? null;
    }
  }
}
