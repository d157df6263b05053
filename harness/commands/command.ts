// The shape of a CLI command. Each command is one module; harness/commands/index.ts lists them in one map.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { badInput } from '../../lib/errors.js';
import { WORKLOAD_KINDS, type WorkloadKind } from '../../workloads/workload.js';

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
    // a value that starts with a dash (--idle -1) gets node's three-line text: say it in one line, with the fix
    const ambiguous = /^Option '(--[^']+)' argument is ambiguous/.exec(msg);
    if (ambiguous) throw badInput('BAD_FLAG', `${command}: ${ambiguous[1]} needs a value; one that starts with a dash must be joined with =`, `write it as ${ambiguous[1]}=VALUE (see \`wattbench ${command} --help\`)`);
    throw badInput('BAD_FLAG', `${command}: ${oneLine(msg)}`, `see \`wattbench ${command} --help\``);
  }
}

/** Collapse line breaks (and the indentation around them) into single spaces: every message is one line. */
export function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/** A plain decimal number: optional sign, digits with an optional fraction, optional exponent (no hex, no blanks). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export interface NumOptions {
  min?: number;
  max?: number;
  integer?: boolean;
  exclusiveMin?: boolean;
  /** A valid value shown in the remedy (default: one that the bounds allow). */
  example?: number;
}

/**
 * A numeric flag value, or undefined when the flag is absent. Number() alone would take '' and ' ' as 0 and
 * '0x2' as 2, so the text must be a plain decimal number before it is converted; bad values exit 2 (BAD_FLAG).
 */
export function num(v: string | undefined, flag: string, opts: NumOptions = {}): number | undefined {
  if (v === undefined) return undefined;
  const text = v.trim();
  const n = DECIMAL.test(text) ? Number(text) : NaN;
  const bad = !Number.isFinite(n) || (opts.integer && !Number.isInteger(n))
    || (opts.min !== undefined && (opts.exclusiveMin ? n <= opts.min : n < opts.min))
    || (opts.max !== undefined && n > opts.max);
  if (!bad) return n;
  const bounds = opts.min !== undefined && opts.max !== undefined && !opts.exclusiveMin ? `from ${opts.min} to ${opts.max}` : [
    ...(opts.min !== undefined ? [`${opts.exclusiveMin ? '>' : '≥'} ${opts.min}`] : []),
    ...(opts.max !== undefined ? [`≤ ${opts.max}`] : []),
  ].join(' and ');
  const shown = v.trim() === '' ? `'${v}' (empty)` : `'${v.replace(/[\x00-\x1f\x7f]/g, '?')}'`;
  throw badInput('BAD_FLAG', `${flag} ${shown} is not ${opts.integer ? 'an integer' : 'a decimal number'}${bounds ? ` ${bounds}` : ''}`, `pass e.g. ${flag} ${opts.example ?? exampleFor(opts)}`);
}

/** A value the bounds accept, for the remedy. */
function exampleFor(o: NumOptions): number {
  let x = o.min !== undefined ? Math.max(1, o.min + 1) : 1;
  if (o.max !== undefined && x > o.max) x = o.integer ? Math.floor(o.max) : o.max;
  return x;
}

/** --kind as given (or the command's default), one of the workload kinds; anything else is exit 2 with `remedy`. */
export function kindFlag(v: string | undefined, dflt: WorkloadKind, remedy: string): WorkloadKind {
  const kind = v ?? dflt;
  if (!(WORKLOAD_KINDS as readonly string[]).includes(kind)) throw badInput('BAD_FLAG', `--kind '${v}' is not one of ${WORKLOAD_KINDS.join(', ')}`, remedy);
  return kind as WorkloadKind;
}
