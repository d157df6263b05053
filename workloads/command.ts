// command: measure any program that speaks the event protocol. Arguments are an array and no shell is involved,
// so nothing in a suite file can inject shell syntax.
import type { Workload } from './workload.js';
import { checkAgainst } from '../lib/check.js';
import { runProtocolProcess } from './protocol.js';
import { recordableEnv } from '../lib/redact.js';

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
    kind: { enum: ['train', 'infer', 'serve', 'other'], default: 'other' },
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
  run(c, ctx) {
    return runProtocolProcess({ file: c.command[0]!, args: c.command.slice(1), cwd: c.cwd, env: (c as { [REAL_ENV]?: Record<string, string> })[REAL_ENV] ?? c.env, timeoutS: c.timeoutS }, ctx);
  },
};
