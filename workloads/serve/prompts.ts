// What each request asks for. Three prompt kinds:
//   token-ids — /v1/completions with `prompt` as an array of token ids: the input length is exact by construction;
//   text      — synthetic text of common one-token English words, calibrated against the server's usage
//               (see probe.ts) so that prompt_tokens matches the target; every request's usage confirms it;
//   dataset   — prompts read from a local JSONL file.
// Every synthetic prompt is different (seeded per request), so a server's prefix cache cannot turn the prefill
// into a lookup. The output length is forced with max_tokens + min_tokens + ignore_eos (each can be turned off
// for servers that reject it).
import { readFile } from 'node:fs/promises';
import { badInput } from '../../lib/errors.js';

/** A small, fast, seedable PRNG (mulberry32). Deterministic across platforms. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed for request `index` of run `seed`, so request i gets the same prompt in every repetition and sweep point. */
export function requestSeed(seed: number, index: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ index, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

// Words that are one token (with their leading space) in the GPT-2, Llama-2/3, Mistral and Qwen tokenizers.
// Calibration against the server's usage makes the exact count right even where a tokenizer disagrees.
export const WORDS = (' the of and to in is it that was for on are with as be at by this have from or one had not but what all were'
  + ' when we there can an your which their said if do will each about how up out them then she many some so these would other into has'
  + ' more her two like him see time could no make than first been its who now people my made over did down only way find use may water'
  + ' long little very after words called just where most know').split(' ').filter(Boolean).map((w) => ` ${w}`);

export function tokenIdPrompt(seed: number, index: number, n: number, range: [number, number]): number[] {
  const r = rng(requestSeed(seed, index));
  const span = range[1] - range[0] + 1;
  const ids = new Array<number>(n);
  for (let i = 0; i < n; i++) ids[i] = range[0] + Math.floor(r() * span);
  return ids;
}

export function textPrompt(seed: number, index: number, words: number): string {
  const r = rng(requestSeed(seed, index));
  let s = '';
  for (let i = 0; i < words; i++) s += WORDS[Math.floor(r() * WORDS.length)]!;
  return s.trimStart();
}

export interface DatasetEntry { prompt?: string | number[]; messages?: Array<{ role: string; content: string }>; outputTokens?: number }

/** Read a JSONL dataset: one object a line with `prompt` (text or token ids) or `messages`, and optionally
 *  `output_tokens` / `outputTokens` / `max_tokens`. Blank lines and lines starting with # are skipped. */
export async function loadDataset(path: string): Promise<DatasetEntry[]> {
  let text: string;
  try { text = await readFile(path, 'utf8'); } catch (err) {
    throw badInput('DATASET_UNREADABLE', `cannot read the dataset ${path}: ${(err as Error).message}`, 'check the path given as dataset / --dataset');
  }
  return parseDataset(text, path);
}

export function parseDataset(text: string, path = 'dataset'): DatasetEntry[] {
  const out: DatasetEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    let o: any;
    try { o = JSON.parse(line); } catch { throw badInput('BAD_DATASET', `${path}:${i + 1}: not a JSON line`, 'write one JSON object a line, e.g. {"prompt": "…", "output_tokens": 128}'); }
    if (o === null || typeof o !== 'object' || Array.isArray(o)) throw badInput('BAD_DATASET', `${path}:${i + 1}: not a JSON object`, 'write one JSON object a line');
    const e: DatasetEntry = {};
    if (typeof o.prompt === 'string' || (Array.isArray(o.prompt) && o.prompt.every((x: unknown) => Number.isInteger(x) && (x as number) >= 0))) e.prompt = o.prompt;
    if (Array.isArray(o.messages) && o.messages.every((m: any) => m && typeof m.role === 'string' && typeof m.content === 'string')) e.messages = o.messages;
    if (e.prompt === undefined && e.messages === undefined) throw badInput('BAD_DATASET', `${path}:${i + 1}: no "prompt" (text or token ids) and no "messages" (chat)`, 'give each line a "prompt" or "messages"');
    const outTok = o.output_tokens ?? o.outputTokens ?? o.max_tokens;
    if (outTok !== undefined) {
      if (!Number.isInteger(outTok) || outTok < 1) throw badInput('BAD_DATASET', `${path}:${i + 1}: output_tokens must be a positive integer`, 'fix that value or leave it out');
      e.outputTokens = outTok;
    }
    out.push(e);
  });
  if (out.length === 0) throw badInput('BAD_DATASET', `${path}: no prompts`, 'add at least one JSON line with a "prompt"');
  return out;
}

export interface BodyOptions {
  model: string;
  endpoint: 'completions' | 'chat';
  ignoreEos: boolean;
  minTokens: boolean;
  extraBody?: Record<string, unknown>;
}

export type Prompt = { kind: 'text'; text: string } | { kind: 'ids'; ids: number[] } | { kind: 'messages'; messages: Array<{ role: string; content: string }> };

/** The JSON body of one streaming request. */
export function requestBody(o: BodyOptions, prompt: Prompt, outputTokens: number): string {
  const body: Record<string, unknown> = { model: o.model };
  if (o.endpoint === 'chat') {
    body.messages = prompt.kind === 'messages' ? prompt.messages : [{ role: 'user', content: prompt.kind === 'text' ? prompt.text : '' }];
  } else {
    body.prompt = prompt.kind === 'ids' ? prompt.ids : prompt.kind === 'text' ? prompt.text : prompt.messages.map((m) => m.content).join('\n');
  }
  body.max_tokens = outputTokens;
  if (o.minTokens) body.min_tokens = outputTokens;
  if (o.ignoreEos) body.ignore_eos = true;
  body.stream = true;
  body.stream_options = { include_usage: true };
  if (o.extraBody) Object.assign(body, o.extraBody);
  return JSON.stringify(body);
}
