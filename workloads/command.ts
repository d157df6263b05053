// command: measure any program that speaks the event protocol. Arguments are an array and no shell is involved,
// so nothing in a suite file can inject shell syntax.
import type { Workload } from './workload.js';
import { checkAgainst } from '../lib/check.js';
import { runProtocolProcess } from './protocol.js';

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
    return checkAgainst<CommandConfig>(schema, raw ?? {}, 'workload config', pointer);
  },
  describe(c) {
    return { name: c.name ?? c.command.join(' ').slice(0, 200), kind: c.kind };
  },
  run(c, ctx) {
    return runProtocolProcess({ file: c.command[0]!, args: c.command.slice(1), cwd: c.cwd, env: c.env, timeoutS: c.timeoutS }, ctx);
  },
};
