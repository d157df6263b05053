// The shape of a CLI command. Each command is one module; harness/commands/index.ts lists them in one map.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { badInput } from '../../lib/errors.js';

export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[], io: CommandIO): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs with exit-2 messages that name the flag and point at --help. */
export function parseFlags<O extends Options>(argv: string[], options: O, command: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    const msg = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw badInput('BAD_FLAG', `${command}: ${msg}`, `see \`wattbench ${command} --help\``);
  }
}

export function num(v: string | undefined, flag: string, opts: { min?: number; integer?: boolean; exclusiveMin?: boolean } = {}): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  const bad = !Number.isFinite(n) || (opts.integer && !Number.isInteger(n)) || (opts.min !== undefined && (opts.exclusiveMin ? n <= opts.min : n < opts.min));
  if (bad) throw badInput('BAD_FLAG', `${flag} '${v}' is not ${opts.integer ? 'an integer' : 'a number'}${opts.min !== undefined ? ` ${opts.exclusiveMin ? '>' : '≥'} ${opts.min}` : ''}`, `pass e.g. ${flag} ${opts.min !== undefined ? Math.max(1, opts.min + 1) : 1}`);
  return n;
}
