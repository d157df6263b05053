// Every CLI command, in one literal map; `wattbench --help` lists them from here.
import type { Command } from './command.js';
import { run } from './run.js';
import { sample } from './sample.js';
import { validate } from './validate.js';
import { report } from './report.js';
import { analyseCommand } from './analyse.js';

export const COMMANDS = {
  run,
  sample,
  validate,
  report,
  analyse: analyseCommand,
  // more commands register below (one line each)
} as const satisfies Record<string, Command>;
