// serve: tokens per joule of a live OpenAI-compatible inference server (vLLM, SGLang, TGI, llama.cpp, MindIE …).
// The load generator runs in-process (workloads/serve/), streams every request, and reports through the event
// protocol's in-process form:
//   warmup_start  — the first request goes out (the ramp: the server filling up)
//   window_start  — the steady state: the target concurrency reached (open loop: the first arrival), or warmupS
//                   after the first send if later; emitted live
//   tokens        — the output tokens delivered inside the window (metrics.ts says how they are counted), and the
//                   input tokens of the requests whose first token came inside it
//   window_end    — the drain began (the last request sent, or the duration over), stamped with that moment
// tokens and window_end are emitted once the drain has finished, because a request's output token count comes
// with its last chunk (the server's usage); the events carry their own times, so the window is exact.
// The per-request records and aggregates come back as the outcome's `details` (result.serving.repetitions[i]).
// The API key is read from the environment variable named by apiKeyEnv, at run time, and goes nowhere else.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { suiteSettingName, type Workload, type WorkloadContext, type WorkloadOutcome, type TimedEvent, type SettingName } from './workload.js';
import type { ServingRepetition, ServingWarning } from '../results/types.gen.js';
import { checkAgainst } from '../lib/check.js';
import { badInput, WattbenchError, errorMessage } from '../lib/errors.js';
import { StreamClient, redactor, type RequestSpec } from './serve/client.js';
import { runLoad, type LoadShape } from './serve/load.js';
import { figures, PERCENTILE_METHOD, type Slo } from './serve/metrics.js';
import { requestBody, tokenIdPrompt, textPrompt, rng, type Prompt } from './serve/prompts.js';
import { prepare, authHeaders, endpointUrl, type Prepared } from './serve/probe.js';
import { toResultRecord } from './serve/records.js';

export interface ServeConfig {
  url: string;
  model: string;
  endpoint: 'completions' | 'chat';
  concurrency?: number;
  rateRps?: number;
  burstiness: number;
  maxConcurrency?: number;
  requests?: number;
  durationS?: number;
  warmupS: number;
  inputTokens?: number;
  outputTokens?: number;
  dataset?: string;
  datasetShuffle: boolean;
  promptMode: 'auto' | 'token-ids' | 'text';
  tokenIdRange: [number, number];
  ignoreEos: boolean;
  minTokens: boolean;
  extraBody?: Record<string, unknown>;
  apiKeyEnv: string;
  apiKeyHeader: string;
  slo: Slo;
  requestTimeoutS: number;
  firstTokenTimeoutS?: number;
  seed: number;
  chunkTimes: 'auto' | 'all' | 'none';
  lateThresholdMs: number;
}

/** Chunk times go into the result up to this many per repetition under chunkTimes 'auto' (8 bytes each in memory,
 *  ~12 in the JSON); above it the records keep per-request inter-chunk mean and max only. */
export const AUTO_CHUNK_TIMES_LIMIT = 200_000;

const positive = { type: 'number', exclusiveMinimum: 0 } as const;
export const serveConfigSchema = {
  type: 'object', additionalProperties: false, required: ['url', 'model'],
  properties: {
    url: { type: 'string', minLength: 1, maxLength: 2048, description: 'base URL of the server (http://host:8000, …/v1) or the full endpoint URL' },
    model: { type: 'string', minLength: 1, maxLength: 512 },
    endpoint: { enum: ['completions', 'chat'], default: 'completions' },
    concurrency: { type: 'integer', minimum: 1, maximum: 100000, description: 'closed loop: requests in flight' },
    rateRps: { type: 'number', exclusiveMinimum: 0, maximum: 1e6, description: 'open loop: mean arrivals per second' },
    burstiness: { type: 'number', exclusiveMinimum: 0, maximum: 1000, default: 1, description: 'gamma shape of the arrival gaps; 1 = Poisson' },
    maxConcurrency: { type: 'integer', minimum: 1, maximum: 100000, description: 'open loop: most requests in flight' },
    requests: { type: 'integer', minimum: 1, maximum: 100000000 },
    durationS: { type: 'number', exclusiveMinimum: 0, maximum: 604800 },
    warmupS: { type: 'number', minimum: 0, maximum: 86400, default: 0, description: 'the window opens no earlier than this long after the first send' },
    inputTokens: { type: 'integer', minimum: 1, maximum: 10000000 },
    outputTokens: { type: 'integer', minimum: 1, maximum: 10000000 },
    dataset: { type: 'string', minLength: 1, maxLength: 4096, description: 'local JSONL file of prompts' },
    datasetShuffle: { type: 'boolean', default: false },
    promptMode: { enum: ['auto', 'token-ids', 'text'], default: 'auto' },
    tokenIdRange: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 2, maxItems: 2, default: [1000, 9999] },
    ignoreEos: { type: 'boolean', default: true },
    minTokens: { type: 'boolean', default: true },
    extraBody: { type: 'object', description: 'extra fields merged into every request body' },
    apiKeyEnv: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$', maxLength: 128, default: 'OPENAI_API_KEY', description: 'NAME of the environment variable holding the API key' },
    apiKeyHeader: { type: 'string', pattern: '^[A-Za-z0-9-]+$', maxLength: 64, default: 'authorization', description: 'authorization (Bearer KEY) or a header that takes the bare key (api-key)' },
    slo: {
      type: 'object', additionalProperties: false, default: { ttftMs: 500, tpotMs: 50 },
      properties: { ttftMs: positive, tpotMs: positive, e2eMs: positive },
    },
    requestTimeoutS: { ...positive, maximum: 86400, default: 600 },
    firstTokenTimeoutS: { ...positive, maximum: 86400 },
    seed: { type: 'integer', minimum: 0, maximum: 4294967295, default: 1 },
    chunkTimes: { enum: ['auto', 'all', 'none'], default: 'auto' },
    lateThresholdMs: { ...positive, maximum: 3600000, default: 10 },
  },
} as const;

const SECRET_KEY = /^(api[-_]?key|apikey|secret|password|token|authorization|bearer)$/i;

function findSecretKey(o: unknown, path: string): string | null {
  if (!o || typeof o !== 'object') return null;
  for (const [k, v] of Object.entries(o)) {
    if (SECRET_KEY.test(k)) return `${path}/${k}`;
    const deeper = findSecretKey(v, `${path}/${k}`);
    if (deeper) return deeper;
  }
  return null;
}

export function resolveServe(raw: unknown, pointer: string, say: SettingName = suiteSettingName): ServeConfig {
  // a key in the config would be written into the result: refuse it with a message that says where keys go
  const secret = findSecretKey(raw, pointer);
  if (secret) throw badInput('SECRET_IN_CONFIG', `serve config: at ${secret}: an API key or secret may not be written in the config (it would be stored in the result)`, `put the key in an environment variable and name it with ${say('apiKeyEnv')} (default OPENAI_API_KEY)`);
  const c = checkAgainst<ServeConfig>(serveConfigSchema, structuredClone(raw ?? {}), 'serve config', pointer);
  const bad = (key: string, msg: string, fix: string) => badInput('BAD_CONFIG', `serve config: at ${pointer}/${key}: ${msg}`, fix);
  const url = say('url', 'http://127.0.0.1:8000');
  let u: URL;
  try { u = new URL(c.url); } catch { throw bad('url', `'${c.url}' is not a URL`, `e.g. ${url}`); }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw bad('url', `'${u.protocol}' is not http: or https:`, `e.g. ${url}`);
  if (u.username || u.password) throw bad('url', 'the URL carries credentials, which would be stored in the result', `drop them from the URL and put the key in an environment variable (${say('apiKeyEnv')})`);
  try { endpointUrl(c.url, c.endpoint, say); } catch (err) { // a URL that names the other endpoint
    if (err instanceof WattbenchError) throw bad('url', err.message, err.remedy);
    throw err;
  }
  if ((c.concurrency === undefined) === (c.rateRps === undefined)) throw bad('concurrency', `give exactly one of ${say('concurrency')} (closed loop) and ${say('rateRps')} (open loop)`, `e.g. ${say('concurrency', 32)}, or ${say('rateRps', 10)}`);
  if ((c.requests === undefined) === (c.durationS === undefined)) throw bad('requests', `give exactly one of ${say('requests')} and ${say('durationS')}`, `e.g. ${say('requests', 1000)}, or ${say('durationS', 120)}`);
  if (c.maxConcurrency !== undefined && c.rateRps === undefined) throw bad('maxConcurrency', `${say('maxConcurrency')} caps an open loop; a closed loop has ${say('concurrency')}`, `drop ${say('maxConcurrency')} or use ${say('rateRps')}`);
  if (c.concurrency !== undefined && c.requests !== undefined && c.requests <= c.concurrency) {
    throw bad('requests', `${say('requests')} (${c.requests}) must exceed ${say('concurrency')} (${c.concurrency}): the steady state lasts from the moment ${c.concurrency} requests are in flight to the last one sent`, `use ${say('requests', 4 * c.concurrency)} or more for a window worth measuring`);
  }
  if (c.durationS !== undefined && c.warmupS >= c.durationS) throw bad('warmupS', `${say('warmupS')} (${c.warmupS}) must be shorter than ${say('durationS')} (${c.durationS})`, `shorten ${say('warmupS')} or lengthen ${say('durationS')}`);
  if (c.dataset === undefined && c.inputTokens === undefined) throw bad('inputTokens', `no prompt length: synthetic prompts need ${say('inputTokens')}, and no ${say('dataset')} was given`, `give ${say('inputTokens', 'N')} (e.g. 1024) or ${say('dataset', 'FILE')}`);
  if (c.dataset === undefined && c.outputTokens === undefined) throw bad('outputTokens', `no output length: synthetic prompts need ${say('outputTokens')}`, `give ${say('outputTokens', 'N')} (e.g. 256), or ${say('dataset', 'FILE')} with output_tokens on its lines`);
  if (c.dataset !== undefined && c.inputTokens !== undefined) throw bad('inputTokens', `${say('inputTokens')} applies to synthetic prompts, not to ${say('dataset')}`, 'drop one of them');
  if (c.endpoint === 'chat' && c.promptMode === 'token-ids') throw bad('promptMode', `token-id prompts (${say('promptMode', 'token-ids')}) need the completions endpoint`, `use ${say('promptMode', 'text')}, or the completions endpoint (${say('endpoint', 'completions')})`);
  if (c.tokenIdRange[0] > c.tokenIdRange[1]) throw bad('tokenIdRange', 'the range is [low, high] with low ≤ high', 'e.g. [1000, 9999]');
  return c;
}

function loadShape(c: ServeConfig): LoadShape {
  return c.concurrency !== undefined ? { kind: 'closed', concurrency: c.concurrency } : { kind: 'open', rateRps: c.rateRps!, burstiness: c.burstiness, ...(c.maxConcurrency ? { maxConcurrency: c.maxConcurrency } : {}) };
}

function loadLabel(c: ServeConfig): string {
  if (c.concurrency !== undefined) return `concurrency ${c.concurrency}`;
  return `${c.rateRps} req/s${c.burstiness !== 1 ? ` burstiness ${c.burstiness}` : ''}`;
}

/** How request i is asked: its prompt, max_tokens and (for token ids) its known length. */
function requestMaker(c: ServeConfig, p: Prepared): (i: number) => { body: string; out: number; known?: number } {
  const opts = { model: c.model, endpoint: c.endpoint, ignoreEos: c.ignoreEos, minTokens: c.minTokens, extraBody: c.extraBody };
  if (p.promptKind === 'dataset') {
    const d = p.dataset!;
    const order = d.map((_, i) => i);
    if (c.datasetShuffle) { const r = rng(c.seed); for (let i = order.length - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [order[i], order[j]] = [order[j]!, order[i]!]; } }
    return (i) => {
      const e = d[order[i % d.length]!]!;
      const out = (e.outputTokens ?? c.outputTokens)!; // probe.ts checked that every line has one or the config does
      const prompt: Prompt = e.messages ? { kind: 'messages', messages: e.messages } : Array.isArray(e.prompt) ? { kind: 'ids', ids: e.prompt } : { kind: 'text', text: e.prompt! };
      return { body: requestBody(opts, prompt, out), out, ...(Array.isArray(e.prompt) ? { known: e.prompt.length } : {}) };
    };
  }
  const out = c.outputTokens!;
  if (p.promptKind === 'token-ids') return (i) => ({ body: requestBody(opts, { kind: 'ids', ids: tokenIdPrompt(c.seed, i, c.inputTokens!, c.tokenIdRange) }, out), out, known: c.inputTokens! });
  return (i) => ({ body: requestBody(opts, { kind: 'text', text: textPrompt(c.seed, i, p.textWords!) }, out), out });
}

const round = (x: number | null, d = 6) => (x === null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

async function runServe(c: ServeConfig, ctx: WorkloadContext): Promise<WorkloadOutcome> {
  let prepared: Prepared;
  try { prepared = await prepare(c, ctx.env); } catch (err) {
    return { state: 'failed', reason: errorMessage(err), exitCode: null, signal: null, stderrTail: '' };
  }
  const now = () => ctx.clock.nowS();
  const emit = (tS: number, e: TimedEvent['e']) => ctx.onEvent({ tS, e });
  const shape = loadShape(c);
  const secret = ctx.env[c.apiKeyEnv];
  const client = new StreamClient({
    url: prepared.endpointUrl, headers: authHeaders(c, ctx.env),
    maxSockets: shape.kind === 'closed' ? shape.concurrency : shape.maxConcurrency,
    firstTokenTimeoutMs: (c.firstTokenTimeoutS ?? c.requestTimeoutS) * 1000, requestTimeoutMs: c.requestTimeoutS * 1000,
    now, redact: redactor(secret),
  });
  const make = requestMaker(c, prepared);
  // bodies for the first wave are built before the clock starts, so the burst at the start is not the client's
  // JSON work; in an open loop the next body is built while waiting for its arrival
  const ahead = new Map<number, ReturnType<typeof make>>();
  const first = shape.kind === 'closed' ? Math.min(shape.concurrency, c.requests ?? Infinity) : 1;
  for (let i = 0; i < first; i++) ahead.set(i, make(i));
  const spec = (i: number, scheduledS: number): RequestSpec => {
    const m = ahead.get(i) ?? make(i);
    ahead.delete(i);
    return { index: i, scheduledS, body: m.body, targetOutputTokens: m.out, ...(m.known !== undefined ? { knownInputTokens: m.known } : {}) };
  };

  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const cpu0 = process.cpuUsage();
  const t0 = now();
  emit(t0, { event: 'warmup_start' });
  let run;
  try {
    run = await runLoad({
      shape, bound: { requests: c.requests, durationS: c.durationS }, seed: c.seed, warmupS: c.warmupS, now, signal: ctx.signal,
      send: (i, scheduledS) => {
        const s = spec(i, scheduledS);
        const p = client.send(s, ctx.signal);
        if (shape.kind === 'open' && (c.requests === undefined || i + 1 < c.requests)) ahead.set(i + 1, make(i + 1));
        return p;
      },
      onSteady: (tS) => emit(tS, { event: 'window_start' }),
    });
  } catch (err) {
    client.close();
    loopDelay.disable();
    if (err instanceof WattbenchError) return { state: 'failed', reason: err.describe(), exitCode: null, signal: null, stderrTail: '' };
    throw err;
  }
  client.close();
  loopDelay.disable();
  const cpu = process.cpuUsage(cpu0);
  const wallS = now() - t0;
  if (ctx.signal.aborted) return { state: 'stopped' };

  const records = run.records.filter(Boolean);
  let windowStart = run.steadyS;
  if (windowStart === null) { windowStart = run.drainS; emit(windowStart, { event: 'window_start' }); }
  const window = { startS: windowStart, endS: Math.max(windowStart, run.drainS) };
  const f = figures(records, { startS: run.startS, endS: run.endS }, window, c.slo, c.lateThresholdMs);
  const cpuPct = wallS > 0 ? (100 * (cpu.user + cpu.system)) / 1e6 / wallS : null;
  const loopP99Ms = loopDelay.count > 0 ? loopDelay.percentile(99) / 1e6 : null;

  const warnings: ServingWarning[] = [];
  // lateness is the signal: a saturated client delays its sends in both loops (a closed loop's next send waits
  // for the event loop too). CPU share is recorded beside it, not judged: a server in the same process (tests)
  // or a short run would make it misleading.
  if (f.schedule.behind) {
    warnings.push({ code: 'CLIENT_BEHIND_SCHEDULE', message: `${f.schedule.lateRequests} of ${f.requests.total} requests (${f.schedule.latePct.toFixed(1)}%) left more than ${c.lateThresholdMs} ms after their schedule (p99 ${(f.schedule.latenessMs.p99 ?? 0).toFixed(1)} ms${shape.kind === 'open' && shape.maxConcurrency ? `; maxConcurrency ${shape.maxConcurrency} holds arrivals back` : ''}); the client process used ${cpuPct === null ? '?' : cpuPct.toFixed(0)}% of a core. The client, not the server, may have limited throughput.` });
  }
  if (f.requests.usageFromClient > 0) {
    warnings.push({ code: 'USAGE_FROM_CLIENT', message: `${f.requests.usageFromClient} of ${f.requests.ok} successful requests came without a usage chunk; their output tokens are the client's count of token chunks${prepared.promptKind === 'text' ? ' and their input tokens are unknown' : ''}.` });
  }
  if (f.requests.failed > 0) {
    const kinds = Object.entries(f.requests.failedByKind).map(([k, n]) => `${k} ${n}`).join(', ');
    warnings.push({ code: 'REQUESTS_FAILED', message: `${f.requests.failed} of ${f.requests.total} requests failed (${kinds}); they are counted in serving.requests.failedByKind and kept in the records, and deliver no tokens to the window count.` });
  }

  if (client.resends > 0) {
    // a server that closes a kept-alive connection may already have read the request and begun generating: that
    // energy lands in the window with no tokens to show for it, so the user should know it happened
    warnings.push({ code: 'REQUESTS_RESENT', message: `${client.resends} request${client.resends === 1 ? ' was' : 's were'} sent a second time: the server closed a kept-alive connection before answering. If it had already begun generating, that work used energy and delivered no counted tokens. Lower the load or raise the server's keep-alive timeout.` });
  }

  const totalChunks = records.reduce((s, r) => s + r.chunkTimes.n, 0);
  const keepChunks = c.chunkTimes === 'all' || (c.chunkTimes === 'auto' && totalChunks <= AUTO_CHUNK_TIMES_LIMIT);
  const L = f.latency;
  const metric = (name: string, value: number | null, unit: string) => emit(now(), { event: 'metric', name, value: round(value), unit });
  metric('ttft_mean_ms', L.ttftMs.mean, 'ms'); metric('ttft_p50_ms', L.ttftMs.p50, 'ms'); metric('ttft_p99_ms', L.ttftMs.p99, 'ms');
  metric('tpot_mean_ms', L.tpotMs.mean, 'ms'); metric('tpot_p50_ms', L.tpotMs.p50, 'ms'); metric('tpot_p99_ms', L.tpotMs.p99, 'ms');
  metric('itl_p50_ms', L.itlMs.p50, 'ms'); metric('itl_p99_ms', L.itlMs.p99, 'ms');
  metric('e2e_p50_ms', L.e2eMs.p50, 'ms'); metric('e2e_p99_ms', L.e2eMs.p99, 'ms');
  metric('requests_per_s', f.throughput.run.requestsPerS, 'req/s');
  metric('output_tokens_per_s_run', f.throughput.run.outputTokensPerS, 'tokens/s');
  metric('goodput_requests_per_s', f.goodput.requestsPerS, 'req/s');
  metric('goodput_pct', f.goodput.sharePct, '%');
  metric('requests_failed', f.requests.failed, 'count');
  metric('schedule_lateness_p99_ms', f.schedule.latenessMs.p99, 'ms');

  const w = f.tokens.window;
  emit(window.endS, { event: 'tokens', tokens: w.output, output: w.output, ...(w.input !== null ? { input: w.input } : {}) });
  emit(window.endS, { event: 'window_end' });

  const details: Omit<ServingRepetition, 'index'> = {
    endpoint: c.endpoint,
    endpointUrl: prepared.endpointUrl,
    load: {
      kind: shape.kind,
      ...(shape.kind === 'closed' ? { concurrency: shape.concurrency } : { rateRps: shape.rateRps, burstiness: shape.burstiness, ...(shape.maxConcurrency ? { maxConcurrency: shape.maxConcurrency } : {}) }),
      ...(c.requests !== undefined ? { requests: c.requests } : { durationS: c.durationS! }),
      warmupS: c.warmupS, peakInFlight: run.peakInFlight,
    },
    prompt: {
      kind: prepared.promptKind,
      inputTokensTarget: c.inputTokens ?? null, outputTokensTarget: c.outputTokens ?? null,
      ...(prepared.textWords !== undefined ? { textWords: prepared.textWords } : {}),
      calibration: prepared.calibration,
      ...(prepared.notes.length ? { notes: prepared.notes } : {}),
    },
    percentileMethod: PERCENTILE_METHOD,
    window: { startS: round(window.startS)!, endS: round(window.endS)!, durationS: round(window.endS - window.startS)!, rule: shape.kind === 'closed' ? 'from the concurrency-th request sent (and warmupS after the first) to the drain (last request sent / duration over)' : 'from the first arrival (and warmupS after it) to the drain (last arrival / duration over)' },
    run: { startS: round(run.startS)!, endS: round(run.endS)!, durationS: round(run.endS - run.startS)! },
    requests: f.requests,
    tokens: {
      window: { output: round(w.output, 3)!, input: w.input, rule: 'output: tokens of successful requests in chunks that arrived inside the window (usage spread evenly over the chunks); input: requests whose first token arrived inside it' },
      run: f.tokens.run, failedOutputChunks: f.tokens.failedOutputChunks,
    },
    inputTokens: f.inputTokens,
    outputTokens: f.outputTokens,
    latency: f.latency,
    throughput: f.throughput,
    goodput: f.goodput,
    schedule: f.schedule,
    client: { cpuPct: round(cpuPct, 2), eventLoopDelayP99Ms: round(loopP99Ms, 3), chunkTimes: keepChunks ? 'kept' : 'dropped', resentRequests: client.resends },
    warnings,
    records: records.map((r) => toResultRecord(r, keepChunks)),
  };
  if (f.requests.ok === 0) {
    const kinds = Object.entries(f.requests.failedByKind).map(([k, n]) => `${k} ${n}`).join(', ');
    const firstErr = records.find((r) => r.error)?.error?.message ?? '';
    return { state: 'failed', reason: `all ${f.requests.total} requests failed (${kinds}); first: ${firstErr.slice(0, 300)}`, exitCode: null, signal: null, stderrTail: '' };
  }
  return { state: 'completed', exitCode: 0, signal: null, details: details as unknown as Record<string, unknown> };
}

export const serve: Workload<ServeConfig> = {
  meta: { id: 'serve', title: 'Live OpenAI-compatible inference server under load (streaming; TypeScript load generator)' },
  resolve(raw, pointer, opts) { return resolveServe(raw, pointer, opts.settingName); },
  describe(c) {
    // the server's address is in the config (url); backend names the protocol
    return { name: `serve ${c.model} (${c.endpoint}, ${loadLabel(c)})`.slice(0, 200), kind: 'serve', backend: 'OpenAI-compatible HTTP' };
  },
  async preflight(c, opts) {
    await prepare(c, opts.env, opts.settingName);
  },
  run: runServe,
};
