// Config checking with ajv: the first problem becomes one exit-2 message naming the file, the JSON pointer and
// what was expected. Used for suite files and for each workload's own config.
import AjvModule from 'ajv';
import { badInput } from './errors.js';

const Ajv = (AjvModule as unknown as { default: typeof AjvModule }).default ?? AjvModule;
type Validate = ((d: unknown) => boolean) & { errors?: AjvError[] | null };
// verbose: an error carries the schema it failed in (parentSchema), so an unknown key can be answered with the keys
// allowed at that place
const ajv = new (Ajv as unknown as new (o: object) => { compile(s: object): Validate })({ allErrors: false, strict: false, useDefaults: true, verbose: true });
const cache = new WeakMap<object, Validate>();

export function problemText(e: AjvError): string {
  if (e.keyword === 'additionalProperties') return `unknown key '${String(e.params.additionalProperty)}'`;
  if (e.keyword === 'enum') return `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  if (e.keyword === 'required') return `missing required key '${String(e.params.missingProperty)}'`;
  return e.message ?? e.keyword;
}

type AjvError = { instancePath: string; message?: string; keyword: string; params: Record<string, unknown>; parentSchema?: { properties?: Record<string, unknown> } };

const SUITE_README = 'see README "Suite files"';

/**
 * Edit distance (insert, delete, substitute, swap two neighbours: nmae → name is one slip), case-insensitive:
 * idles and idleS are the same key to a reader.
 */
function distance(a: string, b: string): number {
  const x = a.toLowerCase(), y = b.toLowerCase();
  const d = Array.from({ length: x.length + 1 }, (_, i) => Array.from({ length: y.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[x.length]![y.length]!;
}

/** The allowed key a misspelt one most likely meant: within a third of its length in edits (idle → idleS). */
export function closestKey(key: string, allowed: string[]): string | undefined {
  let best: { k: string; d: number } | undefined;
  for (const k of allowed) {
    const d = distance(key, k);
    if (d <= Math.max(1, Math.floor(Math.max(key.length, k.length) / 3)) && (!best || d < best.d)) best = { k, d };
  }
  return best?.k;
}

/**
 * What to do about a failed value. An unknown key is answered with the keys allowed at that place, and the
 * nearest one, as a source option's is (harness/sources.ts): "fix that value" would leave the reader to guess.
 */
export function remedyFor(e: AjvError): string {
  const allowed = e.keyword === 'additionalProperties' ? Object.keys(e.parentSchema?.properties ?? {}) : [];
  if (!allowed.length) return `fix that value (${SUITE_README})`;
  const guess = closestKey(String(e.params.additionalProperty), allowed);
  return `${guess ? `did you mean '${guess}'? ` : ''}allowed here: ${allowed.join(', ')} (${SUITE_README})`;
}

/**
 * The error to show when a oneOf/anyOf failed: ajv lists every branch's error and the first is usually "must be
 * string" from a branch the value was never meant for. The deepest pointer is where the value went wrong (a bad
 * /source/options/file); at equal depth a branch whose type matched says more than "must be <type>", and when only
 * type errors are left they are joined ("must be string or object").
 */
export function bestError(errors: AjvError[]): AjvError {
  const leaves = errors.filter((e) => !['oneOf', 'anyOf', 'allOf', 'if', 'not'].includes(e.keyword));
  if (!leaves.length) return errors[0]!;
  const depth = (e: AjvError) => (e.instancePath.match(/\//g) ?? []).length;
  const deepest = Math.max(...leaves.map(depth));
  const atDeepest = leaves.filter((e) => depth(e) === deepest);
  const specific = atDeepest.find((e) => e.keyword !== 'type');
  if (specific) return specific;
  const types = [...new Set(atDeepest.flatMap((e) => String(e.params.type).split(',')))];
  return { ...atDeepest[0]!, message: `must be ${types.join(' or ')}` };
}

/** Validate (and fill defaults into) `data`; throw BAD_CONFIG naming `where` + pointer on the first problem. */
export function checkAgainst<T>(schema: object, data: unknown, where: string, basePointer = ''): T {
  const odd = unsafeValue(data);
  if (odd) throw badInput('BAD_CONFIG', `${where}: at ${basePointer}${odd.pointer || '/'}: ${odd.problem}`, `fix that value (${SUITE_README})`);
  let v = cache.get(schema);
  if (!v) { v = ajv.compile(schema); cache.set(schema, v); }
  if (v(data)) return data as T;
  const e = bestError(v.errors!);
  const pointer = `${basePointer}${e.instancePath}` || '/';
  throw badInput('BAD_CONFIG', `${where}: at ${pointer}: ${problemText(e)}`, remedyFor(e));
}

/** Deepest nesting a config may have; deeper values would overflow the stack of structuredClone and JSON.stringify. */
export const MAX_CONFIG_DEPTH = 64;

/**
 * What JSON Schema cannot refuse but would break a run: a number that is not finite (YAML has .nan and .inf; ajv's
 * minimum/maximum let NaN through, and JSON would write it as null) or nesting deep enough to overflow the stack.
 * Iterative, so the check itself cannot overflow. Returns the first problem with its JSON pointer.
 */
export function unsafeValue(data: unknown): { pointer: string; problem: string } | undefined {
  const stack: Array<{ v: unknown; p: string; d: number }> = [{ v: data, p: '', d: 0 }];
  while (stack.length) {
    const { v, p, d } = stack.pop()!;
    if (typeof v === 'number' && !Number.isFinite(v)) return { pointer: p, problem: `${v} is not a finite number` };
    if (v === null || typeof v !== 'object') continue;
    if (d >= MAX_CONFIG_DEPTH) return { pointer: p, problem: `nested deeper than ${MAX_CONFIG_DEPTH} levels` };
    for (const [k, x] of Object.entries(v)) stack.push({ v: x, p: `${p}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, d: d + 1 });
  }
  return undefined;
}
