// smoke: the built-in CPU workload, so `wattbench run` does real work on a machine with nothing else installed.
// A pipeline smoke test: its tokens are this small model's, not an LLM's, and figures from it compare nothing.
import { fileURLToPath } from 'node:url';
import type { Workload } from './workload.js';
import { checkAgainst } from '../lib/check.js';
import { badInput } from '../lib/errors.js';
import { runProtocolProcess } from './protocol.js';

export interface SmokeConfig {
  durationS: number; warmupS: number; seed: number;
  vocab: number; dModel: number; layers: number; heads: number; ffHidden: number;
  promptTokens: number; outputTokens: number;
}

const schema = {
  type: 'object', additionalProperties: false,
  properties: {
    durationS: { type: 'number', exclusiveMinimum: 0, maximum: 86400, default: 8, description: 'length of the measured window' },
    warmupS: { type: 'number', minimum: 0, maximum: 3600, default: 1 },
    seed: { type: 'integer', minimum: 0, default: 1 },
    vocab: { type: 'integer', minimum: 2, maximum: 65536, default: 512 },
    dModel: { type: 'integer', minimum: 8, maximum: 4096, multipleOf: 2, default: 128 },
    layers: { type: 'integer', minimum: 1, maximum: 64, default: 4 },
    heads: { type: 'integer', minimum: 1, maximum: 64, default: 4 },
    ffHidden: { type: 'integer', minimum: 8, maximum: 16384, default: 384 },
    promptTokens: { type: 'integer', minimum: 1, maximum: 4096, default: 16 },
    outputTokens: { type: 'integer', minimum: 1, maximum: 4096, default: 32 },
  },
};

const main = fileURLToPath(new URL('./smoke/main.ts', import.meta.url));

export const smoke: Workload<SmokeConfig> = {
  meta: { id: 'smoke', title: 'Built-in CPU smoke workload (small transformer decode, TypeScript)' },
  resolve(raw, pointer) {
    const c = checkAgainst<SmokeConfig>(schema, structuredClone(raw ?? {}), 'smoke config', pointer);
    if (c.dModel % c.heads !== 0 || (c.dModel / c.heads) % 2 !== 0) {
      throw badInput('BAD_CONFIG', `smoke config: at ${pointer}/heads: dModel (${c.dModel}) must split into heads of even size`, 'choose heads so that dModel / heads is an even integer');
    }
    return c;
  },
  describe(c) {
    return { name: `smoke d${c.dModel}×${c.layers}L decode`, kind: 'infer', modelSize: 'smoke', dtype: 'fp32', backend: 'cpu (TypeScript)',
      parameters: c.vocab * c.dModel + c.layers * (4 * c.dModel * c.dModel + 3 * c.dModel * c.ffHidden) };
  },
  run(c, ctx) {
    const tsx = import.meta.resolve('tsx');
    return runProtocolProcess({ file: process.execPath, args: ['--import', tsx, main, JSON.stringify(c)] }, ctx);
  },
};
