// The workload registry: one literal map from id to module. Suite files name workloads by these ids.
import type { Workload } from './workload.js';
import { smoke } from './smoke.js';
import { command } from './command.js';
import { serve } from './serve.js';
import { train } from './train.js';
import { infer } from './infer.js';

export const WORKLOADS = {
  smoke,
  command,
  serve,
  train,
  infer,
  // more workloads register below (one line each)
} as const satisfies Record<string, Workload<any>>;

export type WorkloadId = keyof typeof WORKLOADS;
export const WORKLOAD_IDS = Object.keys(WORKLOADS) as WorkloadId[];

export function getWorkload(id: string): Workload<unknown> | undefined {
  return (WORKLOADS as Record<string, Workload<unknown>>)[id];
}
