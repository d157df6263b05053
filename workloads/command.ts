// command: measure any program that speaks the event protocol. Arguments are an array and no shell is involved,
// so nothing in a suite file can inject shell syntax.
import { WORKLOAD_KINDS, type Workload } from './workload.js';
import { checkAgainst } from '../lib/check.js';
import { runProtocolProcess } from './protocol.js';
import { recordableEnv } from '../lib/redact.js';
import { badInput } from '../lib/errors.js';
import { access, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

/** An executable regular file at p. */
async function executable(p: string): Promise<boolean> {
  try { return (await stat(p)).isFile() && (await access(p, constants.X_OK).then(() => true, () => false)); } catch { return false; }
}

// The config is recorded in the result as resolved. `env` there keeps every variable name, but the value of one that
// looks like a secret (HF_TOKEN, …_API_KEY, a value like sk-…) is '[redacted]'; the real values travel under this
// symbol key, which JSON (the result file) and the schema check never see.
const REAL_ENV = Symbol('command.env');

export interface CommandConfig {
  command: string[];
  name?: string;
  kind: 'train' | 'infer' | 'serve' | 'other';
  cwd?: string;
  env?: Record<string, string>;
  timeoutS?: number;
}

const schema = {
  type: 'object', additionalProperties: false, required: ['command'],
  properties: {
    command: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 }, description: 'argv: program then arguments' },
    name: { type: 'string', maxLength: 200 },
    kind: { enum: [...WORKLOAD_KINDS], default: 'other' },
    cwd: { type: 'string' },
    env: { type: 'object', additionalProperties: { type: 'string' } },
    timeoutS: { type: 'number', exclusiveMinimum: 0 },
  },
};

export const command: Workload<CommandConfig> = {
  meta: { id: 'command', title: 'Any program that speaks the wattbench event protocol' },
  resolve(raw, pointer) {
    const c = checkAgainst<CommandConfig>(schema, raw ?? {}, 'workload config', pointer);
    return c.env ? Object.assign({ ...c, env: recordableEnv(c.env) }, { [REAL_ENV]: c.env }) : c;
  },
  describe(c) {
    return { name: c.name ?? c.command.join(' ').slice(0, 200), kind: c.kind };
  },
  // a program that is not there is bad input, found before any measurement, like a missing python or torch
  async preflight(c, opts) {
    const cwd = resolve(c.cwd ?? '.');
    if (c.cwd !== undefined && !(await stat(cwd).then((s) => s.isDirectory(), () => false))) {
      throw badInput('BAD_CONFIG', `the workload's cwd ${JSON.stringify(c.cwd)} is not a folder (${cwd})`, 'set config.cwd to an existing folder, or leave it out');
    }
    const prog = c.command[0]!;
    if (prog.includes('/')) {
      if (!(await executable(resolve(cwd, prog)))) throw badInput('COMMAND_NOT_FOUND', `the workload's program ${JSON.stringify(prog)} is not an executable file (${resolve(cwd, prog)})`, 'give the path of an executable, e.g. command: ["/usr/bin/python3", "bench.py"]');
      return;
    }
    const env = (c as { [REAL_ENV]?: Record<string, string> })[REAL_ENV] ?? c.env;
    const dirs = (env?.PATH ?? opts.env.PATH ?? '').split(delimiter).filter(Boolean);
    for (const d of dirs) if (await executable(join(resolve(cwd, d), prog))) return;
    throw badInput('COMMAND_NOT_FOUND', `the workload's program ${JSON.stringify(prog)} is not on PATH`, 'install it, or give its full path in command: ["/path/to/program", ...] (command is an argv array: no shell, so "sh -c" is not one word)');
  },
  run(c, ctx) {
    return runProtocolProcess({ file: c.command[0]!, args: c.command.slice(1), cwd: c.cwd, env: (c as { [REAL_ENV]?: Record<string, string> })[REAL_ENV] ?? c.env, timeoutS: c.timeoutS }, ctx);
  },
};
