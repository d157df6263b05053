// Every CLI command, in one literal map; `wattbench --help` lists them from here.
import type { Command } from './command.js';
import { run } from './run.js';
import { sample } from './sample.js';
import { validate } from './validate.js';
import { report } from './report.js';

export const COMMANDS = {
  run,
  sample,
  validate,
  report,
  // more commands register below (one line each)
} as const satisfies Record<string, Command>;
