// train: forward + backward + AdamW step of the reference Llama-style model on random token batches
// (workloads/torch/bench.py). Headline tokens = steps × batch × sequence length; MFU where the chip's peak is known.
import type { Workload } from './workload.js';
import { checkAgainst } from '../lib/check.js';
import { commonProperties, completeCommon, countParameters, fmtParams, preflightTorch, runBench, shapeOf, type CommonConfig } from './torch/common.js';

export interface TrainConfig extends CommonConfig {
  seqLen: number;
}

const schema = {
  type: 'object', additionalProperties: false,
  properties: {
    ...commonProperties,
    batchSize: { ...commonProperties.batchSize, default: 4 },
    seqLen: { type: 'integer', minimum: 2, maximum: 1_048_576, default: 128, description: 'tokens per sequence' },
    warmupSteps: { ...commonProperties.warmupSteps, default: 2 },
  },
};

export const train: Workload<TrainConfig> = {
  meta: { id: 'train', title: 'PyTorch training step (Llama-style model, random weights and tokens)' },
  resolve(raw, pointer, opts) {
    const c = checkAgainst<TrainConfig>(schema, structuredClone(raw ?? {}), 'train config', pointer);
    return completeCommon(c, pointer, opts, 'train', 10);
  },
  describe(c) {
    const parameters = countParameters(shapeOf(c));
    return {
      name: `train ${c.modelSize === 'custom' ? `custom ${fmtParams(parameters)}` : c.modelSize} ${c.dtype} b${c.batchSize}×s${c.seqLen}`,
      kind: 'train', modelSize: c.modelSize, parameters, dtype: c.dtype, backend: c.backend,
    };
  },
  preflight: (c, opts) => preflightTorch(c, opts),
  run: (c, ctx) => runBench('train', c, ctx),
};
