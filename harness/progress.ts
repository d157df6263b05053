// Progress for long work: on a terminal a live status line per run; when piped or in CI plain timestamped lines;
// with --quiet nothing. Always on stderr, so stdout stays clean for --json output.

import { badInput } from '../lib/errors.js';

export const PROGRESS_MODES = ['auto', 'tty', 'plain', 'quiet'] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];

/**
 * --progress as given (default auto); any other value is refused, not taken as tty (escape codes in a pipe).
 * --quiet is --progress quiet; given with another mode the two disagree, and guessing which was meant would
 * either hide progress asked for or print it into a log that was meant to stay clean.
 */
export function progressMode(v: string | undefined, quiet = false): ProgressMode {
  if (v !== undefined && !(PROGRESS_MODES as readonly string[]).includes(v)) {
    throw badInput('BAD_FLAG', `--progress ${JSON.stringify(v)} is not a progress mode`, `use one of: ${PROGRESS_MODES.join(' | ')}`);
  }
  if (quiet && v !== undefined && v !== 'quiet') throw badInput('BAD_FLAG', `--quiet and --progress ${v} disagree`, 'give one of them (--quiet is --progress quiet)');
  return quiet ? 'quiet' : ((v as ProgressMode | undefined) ?? 'auto');
}

export interface Status { label: string; phase: string; elapsedS: number; remainingS?: number; powerW?: number; tokensPerS?: number }

export interface Progress {
  phase(label: string, phase: string, detail?: string): void;
  status(s: Status): void;
  info(msg: string): void;
  warn(msg: string): void;
  end(): void;
}

const fmt = (x: number | undefined, d = 1, unit = '') => (x === undefined || !Number.isFinite(x) ? '–' : `${x.toFixed(d)}${unit}`);

export function createProgress(mode: ProgressMode, stream: NodeJS.WriteStream = process.stderr): Progress {
  const m = mode === 'auto' ? (stream.isTTY && !process.env.CI ? 'tty' : 'plain') : mode;
  if (m === 'quiet') return { phase() {}, status() {}, info() {}, warn: (msg) => stream.write(`warning: ${msg}\n`), end() {} };
  const stamp = () => new Date().toISOString().slice(11, 19);
  if (m === 'plain') {
    return {
      phase: (label, phase, detail) => stream.write(`${stamp()} ${label}: ${phase}${detail ? ` — ${detail}` : ''}\n`),
      status() {},
      info: (msg) => stream.write(`${stamp()} ${msg}\n`),
      warn: (msg) => stream.write(`${stamp()} warning: ${msg}\n`),
      end() {},
    };
  }
  let line = '';
  const clear = () => { if (line) { stream.write('\r\x1b[2K'); line = ''; } };
  return {
    phase: (label, phase, detail) => { clear(); stream.write(`${label}: ${phase}${detail ? ` — ${detail}` : ''}\n`); },
    status: (s) => {
      clear();
      line = `  ${s.phase.padEnd(10)} ${fmt(s.elapsedS, 0, 's')}${s.remainingS !== undefined ? ` / ~${fmt(s.remainingS, 0, 's')} left` : ''}  ${fmt(s.powerW, 1, ' W')}  ${s.tokensPerS !== undefined ? fmt(s.tokensPerS, 0, ' tok/s') : ''}`;
      stream.write(line);
    },
    info: (msg) => { clear(); stream.write(`${msg}\n`); },
    warn: (msg) => { clear(); stream.write(`warning: ${msg}\n`); },
    end: clear,
  };
}
