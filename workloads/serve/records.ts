// One record per request: the times the client saw, the token counts and where they came from, and the error if
// any. Every request the load generator launched gets a record — failures included — so nothing is dropped
// silently from the statistics. In memory the chunk arrival times live in a growable Float64Array (8 bytes a
// chunk); the result keeps them only when asked (or when small), and always keeps per-request inter-chunk stats.
import type { ServingRecord } from '../../results/types.gen.js';

/** Why a request failed. A closed set so the result can count each kind. */
export const ERROR_KINDS = [
  'rate_limited',        // HTTP 429
  'http_client_error',   // other HTTP 4xx
  'http_server_error',   // HTTP 5xx (and any other non-200)
  'connect_failed',      // no response at all: refused, reset before headers, DNS
  'cut_mid_stream',      // the connection broke after the response began, before data: [DONE]
  'first_token_timeout', // no token within firstTokenTimeoutS
  'request_timeout',     // the whole request outlived requestTimeoutS
  'malformed_sse',       // lines that are not SSE, or data that is not JSON: a token or the usage may be lost
  'stream_error',        // the server sent an error object inside the stream
  'incomplete_stream',   // the stream ended cleanly without data: [DONE] and without a finish_reason
  'no_output',           // the stream finished but carried no token
  'aborted',             // the run was stopped (signal or run timeout)
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

export function kindForStatus(status: number): ErrorKind {
  if (status === 429) return 'rate_limited';
  if (status >= 400 && status < 500) return 'http_client_error';
  return 'http_server_error';
}

/** Growable array of chunk arrival times (run-clock seconds). */
export class ChunkTimes {
  buf: Float64Array;
  n = 0;
  constructor(capacity = 16) { this.buf = new Float64Array(Math.max(4, capacity)); }
  push(tS: number): void {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = tS;
  }
  view(): Float64Array { return this.buf.subarray(0, this.n); }
  /** How many arrival times lie in [startS, endS] (times are in arrival order). */
  countIn(startS: number, endS: number): number {
    let c = 0;
    for (let i = 0; i < this.n; i++) { const t = this.buf[i]!; if (t >= startS && t <= endS) c++; }
    return c;
  }
}

export interface RequestRecord {
  index: number;
  /** When the load generator meant to send it (closed loop: when the previous request on its slot ended). */
  scheduledS: number;
  /** When the client started sending it. */
  sentS: number;
  firstTokenS: number | null;
  lastTokenS: number | null;
  /** data: [DONE] seen, or the moment the request failed. */
  doneS: number | null;
  inputTokens: number | null;
  outputTokens: number | null;
  /** server: from the usage chunk; client: output = chunks with text (input known only for token-id prompts). */
  usageSource: 'server' | 'client' | 'none';
  chunkTimes: ChunkTimes;
  /** The max_tokens asked for (to spot servers that stopped early). */
  targetOutputTokens: number;
  responseId?: string;
  httpStatus?: number;
  malformedLines: number;
  error?: { kind: ErrorKind; message: string };
}

export const ok = (r: RequestRecord): boolean => r.error === undefined;

export function newRecord(index: number, scheduledS: number, targetOutputTokens: number): RequestRecord {
  return {
    index, scheduledS, sentS: scheduledS, firstTokenS: null, lastTokenS: null, doneS: null,
    inputTokens: null, outputTokens: null, usageSource: 'none',
    chunkTimes: new ChunkTimes(Math.min(targetOutputTokens + 2, 1 << 16)), targetOutputTokens, malformedLines: 0,
  };
}

const us = (tS: number | null) => (tS === null ? null : Math.round(tS * 1e6) / 1e6);
const ms3 = (x: number) => Math.round(x * 1000) / 1000;

/** Mean and max gap between consecutive chunks, ms; null with fewer than 2 chunks. */
export function interChunk(r: RequestRecord): { meanMs: number | null; maxMs: number | null } {
  const n = r.chunkTimes.n;
  if (n < 2) return { meanMs: null, maxMs: null };
  const b = r.chunkTimes.buf;
  let max = 0;
  for (let i = 1; i < n; i++) max = Math.max(max, b[i]! - b[i - 1]!);
  return { meanMs: ((b[n - 1]! - b[0]!) * 1000) / (n - 1), maxMs: max * 1000 };
}

/** The record as it goes into the result: times rounded to 1 µs, chunk times only when asked. */
export function toResultRecord(r: RequestRecord, withChunkTimes: boolean): ServingRecord {
  const itl = interChunk(r);
  return {
    i: r.index,
    status: r.error ? 'failed' : 'ok',
    scheduledS: us(r.scheduledS)!, sentS: us(r.sentS)!, firstTokenS: us(r.firstTokenS), lastTokenS: us(r.lastTokenS), doneS: us(r.doneS),
    inputTokens: r.inputTokens, outputTokens: r.outputTokens, usageSource: r.usageSource,
    chunks: r.chunkTimes.n,
    itlMeanMs: itl.meanMs === null ? null : ms3(itl.meanMs), itlMaxMs: itl.maxMs === null ? null : ms3(itl.maxMs),
    ...(withChunkTimes ? { chunkTimesS: Array.from(r.chunkTimes.view(), (t) => us(t)!) } : {}),
    ...(r.responseId ? { responseId: r.responseId.slice(0, 128) } : {}),
    ...(r.httpStatus !== undefined ? { httpStatus: r.httpStatus } : {}),
    ...(r.malformedLines ? { malformedLines: r.malformedLines } : {}),
    ...(r.error ? { error: { kind: r.error.kind, message: r.error.message.slice(0, 1000) } } : {}),
  };
}
