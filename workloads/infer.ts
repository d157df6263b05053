// infer: prefill a batch of random prompts, then decode greedily with a KV cache, at fixed input length, output
// length and batch size (workloads/torch/bench.py). Headline tokens = generated tokens (batch × outputTokens per
// round), prompt tokens in `input`; prefill and decode throughput are reported separately.
import type { Workload } from './workload.js';
import { checkAgainst } from '../lib/check.js';
import { commonProperties, completeCommon, countParameters, fmtParams, preflightTorch, runBench, shapeOf, type CommonConfig } from './torch/common.js';

export interface InferConfig extends CommonConfig {
  inputTokens: number;
  outputTokens: number;
}

const schema = {
  type: 'object', additionalProperties: false,
  properties: {
    ...commonProperties,
    batchSize: { ...commonProperties.batchSize, default: 1 },
    inputTokens: { type: 'integer', minimum: 1, maximum: 1_048_576, default: 128, description: 'prompt length' },
    outputTokens: { type: 'integer', minimum: 1, maximum: 1_048_576, default: 128, description: 'generated tokens per sequence (the first comes from prefill)' },
    warmupSteps: { ...commonProperties.warmupSteps, default: 1 },
  },
};

export const infer: Workload<InferConfig> = {
  meta: { id: 'infer', title: 'PyTorch offline inference: prefill + KV-cache decode (Llama-style model, random weights)' },
  resolve(raw, pointer, opts) {
    const c = checkAgainst<InferConfig>(schema, structuredClone(raw ?? {}), 'infer config', pointer);
    return completeCommon(c, pointer, opts, 'infer', 10);
  },
  describe(c) {
    const parameters = countParameters(shapeOf(c));
    return {
      name: `infer ${c.modelSize === 'custom' ? `custom ${fmtParams(parameters)}` : c.modelSize} ${c.dtype} b${c.batchSize} in${c.inputTokens}/out${c.outputTokens}`,
      kind: 'infer', modelSize: c.modelSize, parameters, dtype: c.dtype, backend: c.backend,
    };
  },
  preflight: (c, opts) => preflightTorch(c, opts),
  run: (c, ctx) => runBench('infer', c, ctx),
};
