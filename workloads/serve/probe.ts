// Before any measurement: talk to the server once or a few times, so that a wrong URL, model, key or request
// shape is one clear exit-2 message instead of a run full of failed requests, and so that fixed-length prompts
// are right:
//   promptMode auto/token-ids — send the prompt as token ids; accepted when the server answers 200 and its usage
//                               says prompt_tokens = the target (or sends no usage: the length is exact anyway);
//   text (or auto's fallback) — calibrate the number of words against the server's prompt_tokens, a few probes.
import { badInput, WattbenchError } from '../../lib/errors.js';
import { StreamClient, redactor } from './client.js';
import { requestBody, tokenIdPrompt, textPrompt, loadDataset, type BodyOptions, type DatasetEntry, type Prompt } from './prompts.js';
import type { RequestRecord } from './records.js';
import { suiteSettingName, type SettingName } from '../workload.js';

export interface ProbeConfig {
  url: string; model: string; endpoint: 'completions' | 'chat';
  promptMode: 'auto' | 'token-ids' | 'text';
  inputTokens?: number; outputTokens?: number; dataset?: string;
  tokenIdRange: [number, number]; ignoreEos: boolean; minTokens: boolean; extraBody?: Record<string, unknown>;
  apiKeyEnv: string; apiKeyHeader: string; requestTimeoutS: number; firstTokenTimeoutS?: number; seed: number;
}

export interface Prepared {
  endpointUrl: string;
  promptKind: 'token-ids' | 'text' | 'dataset';
  /** Words a synthetic text prompt has, after calibration. */
  textWords?: number;
  /** prompt_tokens the server reported for each calibration probe. */
  calibration: Array<{ words?: number; promptTokens: number | null }>;
  /** Whether the probe's stream carried a usage chunk. */
  usageSeen: boolean;
  dataset?: DatasetEntry[];
  notes: string[];
}

/** …/v1/completions or …/v1/chat/completions from a base URL (http://host:8000, …/v1) or a full endpoint URL. */
export function endpointUrl(url: string, endpoint: 'completions' | 'chat', say: SettingName = suiteSettingName): string {
  const u = new URL(url);
  const path = u.pathname.replace(/\/+$/, '');
  const tail = endpoint === 'chat' ? '/chat/completions' : '/completions';
  if (/\/(chat\/)?completions$/.test(path)) {
    const isChat = path.endsWith('/chat/completions');
    const named = isChat ? 'chat' : 'completions';
    if (isChat !== (endpoint === 'chat')) throw badInput('BAD_CONFIG', `the URL ${u.origin}${path} is the ${named} endpoint, but the requests are for the ${endpoint} endpoint (${say('endpoint', endpoint)})`, `give the base URL (e.g. ${u.origin}), or ask for the ${named} endpoint (${say('endpoint', named)})`);
    u.pathname = path;
  } else {
    u.pathname = (path.endsWith('/v1') ? path : `${path}/v1`) + tail;
  }
  return u.toString();
}

export function authHeaders(c: Pick<ProbeConfig, 'apiKeyEnv' | 'apiKeyHeader'>, env: NodeJS.ProcessEnv): Record<string, string> {
  const key = env[c.apiKeyEnv];
  if (!key) return {};
  const h = c.apiKeyHeader.toLowerCase();
  return { [h]: h === 'authorization' ? `Bearer ${key}` : key };
}

const cache = new Map<string, Promise<Prepared>>();

function cacheKey(c: ProbeConfig, env: NodeJS.ProcessEnv): string {
  // the key's presence matters (a 401 without it), never its value
  const { url, model, endpoint, promptMode, inputTokens, dataset, tokenIdRange, ignoreEos, minTokens, extraBody, apiKeyEnv, apiKeyHeader, seed } = c;
  return JSON.stringify([url, model, endpoint, promptMode, inputTokens, dataset, tokenIdRange, ignoreEos, minTokens, extraBody, apiKeyEnv, apiKeyHeader, seed, Boolean(env[apiKeyEnv])]);
}

/** Probe once per distinct server setting (a sweep shares it). `say` names settings in messages (flags or keys). */
export function prepare(c: ProbeConfig, env: NodeJS.ProcessEnv, say: SettingName = suiteSettingName): Promise<Prepared> {
  const k = cacheKey(c, env);
  let p = cache.get(k);
  if (!p) {
    p = doPrepare(c, env, say);
    cache.set(k, p);
    p.catch(() => cache.delete(k));
  }
  return p;
}

async function doPrepare(c: ProbeConfig, env: NodeJS.ProcessEnv, say: SettingName): Promise<Prepared> {
  const url = endpointUrl(c.url, c.endpoint, say);
  const secret = env[c.apiKeyEnv];
  const client = new StreamClient({
    url, headers: authHeaders(c, env), maxSockets: 1,
    firstTokenTimeoutMs: (c.firstTokenTimeoutS ?? c.requestTimeoutS) * 1000, requestTimeoutMs: c.requestTimeoutS * 1000,
    now: () => performance.now() / 1000, redact: redactor(secret),
  });
  const body: BodyOptions = { model: c.model, endpoint: c.endpoint, ignoreEos: c.ignoreEos, minTokens: c.minTokens, extraBody: c.extraBody };
  const probeOut = 2;
  let n = 0;
  const send = (prompt: Prompt, known?: number) => client.send({ index: n++, scheduledS: 0, body: requestBody(body, prompt, probeOut), targetOutputTokens: probeOut, knownInputTokens: known });
  const notes: string[] = [];
  try {
    if (c.dataset) {
      const dataset = await loadDataset(c.dataset);
      const missing = c.outputTokens === undefined ? dataset.findIndex((e) => e.outputTokens === undefined) : -1;
      if (missing >= 0) throw badInput('BAD_DATASET', `${c.dataset}: prompt ${missing + 1} has no output_tokens and no ${say('outputTokens')} was given`, `give ${say('outputTokens', 'N')}, or output_tokens on every line`);
      const first = dataset[0]!;
      if (c.endpoint === 'chat' && Array.isArray(first.prompt)) throw badInput('BAD_DATASET', `${c.dataset}: token-id prompts need the completions endpoint`, `use the completions endpoint (${say('endpoint', 'completions')}), or give text prompts`);
      const r = await send(first.messages ? { kind: 'messages', messages: first.messages } : Array.isArray(first.prompt) ? { kind: 'ids', ids: first.prompt } : { kind: 'text', text: first.prompt! });
      check(r, c, url, say);
      return { endpointUrl: url, promptKind: 'dataset', calibration: [], usageSeen: r.usageSource === 'server', dataset, notes };
    }
    const target = c.inputTokens!;
    if (c.endpoint === 'completions' && c.promptMode !== 'text') {
      const r = await send({ kind: 'ids', ids: tokenIdPrompt(c.seed, -1, target, c.tokenIdRange) }, target);
      const rejected = r.error && (r.error.kind === 'http_client_error') && r.httpStatus !== 401 && r.httpStatus !== 403 && r.httpStatus !== 404;
      if (!rejected) {
        check(r, c, url, say);
        const usage = r.usageSource === 'server';
        if (!usage || r.inputTokens === target) {
          if (!usage) notes.push('the server sent no usage; prompt lengths are exact by construction (token ids)');
          return { endpointUrl: url, promptKind: 'token-ids', calibration: [{ promptTokens: usage ? r.inputTokens : null }], usageSeen: usage, notes };
        }
        if (c.promptMode === 'token-ids') throw badInput('PROMPT_LENGTH_MISMATCH', `the server counted ${r.inputTokens} prompt tokens for ${target} token ids`, `use ${say('promptMode', 'text')} so the length is calibrated against the server`);
        notes.push(`token ids accepted but counted as ${r.inputTokens} tokens for ${target}; calibrated text used instead`);
      } else if (c.promptMode === 'token-ids') {
        throw badInput('TOKEN_IDS_REJECTED', `the server rejected a prompt of token ids: ${r.error!.message}`, `use ${say('promptMode', 'text')} (or auto)`);
      } else {
        notes.push(`token-id prompts rejected (HTTP ${r.httpStatus}); calibrated text used instead`);
      }
    }
    // text: words are one token each in common tokenizers; the server's usage corrects the count
    const calibration: Prepared['calibration'] = [];
    // tokens ≈ a·words + b (b: BOS, chat template); a first proportional step, then secant steps
    let words = target, best: { words: number; diff: number } | null = null;
    let usageSeen = true;
    const tried = new Set<number>();
    let prev: { words: number; tokens: number } | null = null;
    for (let attempt = 0; attempt < 8; attempt++) {
      tried.add(words);
      const r = await send({ kind: 'text', text: textPrompt(c.seed, -2 - attempt, words) });
      check(r, c, url, say);
      if (r.usageSource !== 'server' || r.inputTokens === null) {
        usageSeen = false;
        notes.push('the server sent no usage: the text prompt length is not confirmed (one word taken as one token)');
        calibration.push({ words, promptTokens: null });
        break;
      }
      const tokens = r.inputTokens;
      calibration.push({ words, promptTokens: tokens });
      const diff = tokens - target;
      if (!best || Math.abs(diff) < Math.abs(best.diff)) best = { words, diff };
      if (diff === 0) break;
      if (diff > 0 && words === 1) throw badInput('INPUT_TOO_SHORT', `even a one-word prompt is ${tokens} tokens on this server (its chat template adds tokens), more than ${say('inputTokens', target)}`, `use ${say('inputTokens', tokens)} or more`);
      const slope = prev && prev.words !== words ? (tokens - prev.tokens) / (words - prev.words) : 0;
      const next = Math.max(1, slope > 0 ? Math.round(words - diff / slope) : Math.round((words * target) / Math.max(1, tokens)));
      prev = { words, tokens };
      if (tried.has(next)) break;
      words = next;
    }
    if (best && best.diff !== 0) {
      words = best.words;
      notes.push(`calibration came within ${best.diff > 0 ? '+' : ''}${best.diff} token(s) of ${target}; each request's usage records its own count`);
    } else if (best) words = best.words;
    return { endpointUrl: url, promptKind: 'text', textWords: words, calibration, usageSeen, notes };
  } finally {
    client.close();
  }
}

/** Turn a failed probe into one exit-2 message that says what to fix. */
function check(r: RequestRecord, c: ProbeConfig, url: string, say: SettingName): void {
  if (!r.error) return;
  const m = r.error.message;
  switch (r.error.kind) {
    case 'connect_failed': throw badInput('SERVER_UNREACHABLE', `cannot reach ${url}: ${m}`, `start the server, or check ${say('url')} (the base URL, e.g. http://127.0.0.1:8000)`);
    case 'first_token_timeout': case 'request_timeout': throw badInput('SERVER_TIMEOUT', `the probe request to ${url} timed out: ${m}`, `check the server is up and not overloaded, or raise ${say('requestTimeoutS')}`);
    default: break;
  }
  if (r.httpStatus === 401 || r.httpStatus === 403) throw badInput('SERVER_REJECTED_KEY', `${url} answered ${m}`, `put the API key in the environment variable ${c.apiKeyEnv} (or name another with ${say('apiKeyEnv')})`);
  if (r.httpStatus === 404) throw badInput('SERVER_NOT_FOUND', `${url} answered ${m}`, `check ${say('url')} and ${say('model')} '${c.model}' (GET /v1/models lists the server's models)`);
  if (r.httpStatus !== undefined && r.httpStatus >= 400 && r.httpStatus < 500) {
    const forced = /ignore_eos|min_tokens/i.test(m);
    throw badInput('SERVER_REJECTED_REQUEST', `${url} rejected the request: ${m}`, forced ? `this server does not take ignore_eos/min_tokens: use ${say('ignoreEos', false)} and ${say('minTokens', false)}` : `check ${say('model')}, the endpoint (${say('endpoint')}) and ${say('extraBody')}`);
  }
  throw new WattbenchError('SERVER_PROBE_FAILED', `the probe request to ${url} failed (${r.error.kind}): ${m}`, 'check the server log; the serve workload needs a streaming (SSE) OpenAI-compatible endpoint');
}
