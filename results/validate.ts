// Validation of result files against the one schema. Errors come back as JSON pointers with what was expected,
// so `wattbench validate` and `wattbench report` can say exactly what is wrong and where.
import AjvModule from 'ajv';
import addFormatsModule from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WattbenchResult } from './types.gen.js';

// ajv and ajv-formats ship CommonJS default exports
const Ajv = (AjvModule as unknown as { default: typeof AjvModule }).default ?? AjvModule;
const addFormats = (addFormatsModule as unknown as { default: typeof addFormatsModule }).default ?? addFormatsModule;

export const SCHEMA_VERSION = 1 as const;
export const schema = JSON.parse(readFileSync(fileURLToPath(new URL('./schema.json', import.meta.url)), 'utf8'));

export interface SchemaProblem {
  pointer: string;
  message: string;
}

let compiled: ((data: unknown) => boolean) & { errors?: Array<{ instancePath: string; message?: string; params: Record<string, unknown>; keyword: string }> | null } | undefined;

function validator() {
  if (!compiled) {
    const ajv = new (Ajv as unknown as new (o: object) => { compile: (s: object) => typeof compiled })({ allErrors: true, strict: false });
    (addFormats as unknown as (a: unknown) => void)(ajv);
    compiled = ajv.compile(schema);
  }
  return compiled!;
}

function describe(e: { instancePath: string; message?: string; params: Record<string, unknown>; keyword: string }): SchemaProblem {
  let message = e.message ?? e.keyword;
  if (e.keyword === 'additionalProperties') message = `unexpected property '${String(e.params.additionalProperty)}'`;
  if (e.keyword === 'enum') message = `must be one of ${JSON.stringify(e.params.allowedValues)}`;
  if (e.keyword === 'const') message = `must be ${JSON.stringify(e.params.allowedValue)}`;
  return { pointer: e.instancePath || '/', message };
}

export function validateResult(data: unknown): { ok: true; result: WattbenchResult } | { ok: false; problems: SchemaProblem[] } {
  const v = validator();
  if (v(data)) return { ok: true, result: data as WattbenchResult };
  const seen = new Set<string>();
  const problems: SchemaProblem[] = [];
  for (const e of v.errors ?? []) {
    // oneOf failures repeat each branch's complaints; keep the most specific ones and drop the summary line
    if (e.keyword === 'oneOf') continue;
    const p = describe(e);
    const key = `${p.pointer} ${p.message}`;
    if (!seen.has(key)) { seen.add(key); problems.push(p); }
  }
  if (problems.length === 0) problems.push({ pointer: '/', message: 'does not match the result schema' });
  return { ok: false, problems: problems.slice(0, 50) };
}
