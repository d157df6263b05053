// Every CLI command, in one literal map; `wattbench --help` lists them from here.
import type { Command } from './command.js';
import { run } from './run.js';
import { sample } from './sample.js';
import { validate } from './validate.js';
import { report } from './report.js';
import { serve } from './serve.js';
import { devices } from './devices.js';
import { analyseCommand } from './analyse.js';
import { shard } from './shard.js';
import { stamp } from './stamp.js';
import { merge } from './merge.js';
import { slurm } from './slurm.js';
import { k8s } from './k8s.js';

export const COMMANDS = {
  run,
  sample,
  validate,
  report,
  serve,
  analyse: analyseCommand,
  // more commands register below (one line each)
  devices,
  shard,
  stamp,
  merge,
  slurm,
  k8s,
} as const satisfies Record<string, Command>;
