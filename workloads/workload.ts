// The contract every workload implements. Most workloads are programs that speak the event protocol on stdout
// (workloads/PROTOCOL.md); the harness stamps each event on the run clock as it arrives.
import type { RunClock } from '../lib/clock.js';
import type { Device, Metric } from '../results/types.gen.js';

export type WorkloadEvent =
  | { event: 'start'; info?: Record<string, unknown> }
  | { event: 'warmup_start' }
  | { event: 'window_start' }
  | { event: 'tokens'; tokens: number; input?: number; output?: number }
  | { event: 'metric'; name: string; value: number | null; unit: string }
  | { event: 'window_end' }
  | { event: 'info'; [k: string]: unknown };

export interface TimedEvent { tS: number; e: WorkloadEvent }

/** What a workload's tokens count; also the --kind of the multi-node commands. */
export const WORKLOAD_KINDS = ['train', 'infer', 'serve', 'other'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export interface WorkloadDescription {
  name: string;
  kind: WorkloadKind;
  modelSize?: string;
  parameters?: number;
  dtype?: string;
  backend?: string;
}

export interface WorkloadContext {
  repetition: number;
  clock: RunClock;
  signal: AbortSignal;
  /** Environment for the workload: the caller's, plus device visibility variables. Never written to results. */
  env: NodeJS.ProcessEnv;
  devices: Device[];
  onEvent(ev: TimedEvent): void;
  /** A line of the workload's own output that is not protocol (kept as the stderr tail for failures). */
  onLog(line: string, stream: 'stdout' | 'stderr'): void;
  /** A protocol line that could not be understood. */
  onProtocolError(line: string, why: string): void;
}

export type WorkloadOutcome =
  | {
      state: 'completed'; exitCode: number | null; signal: string | null;
      /** Structured figures an in-process workload hands back (the serving load generator's request records). */
      details?: Record<string, unknown>;
    }
  | { state: 'failed'; reason: string; exitCode: number | null; signal: string | null; stderrTail: string }
  | { state: 'timed-out'; reason: string; stderrTail: string }
  | { state: 'stopped' };

export interface Workload<C = unknown> {
  readonly meta: { id: string; title: string };
  /** Check and complete a raw config (from a suite file or flags). Throws a WattbenchError (exit 2) naming the JSON pointer. */
  resolve(raw: unknown, pointer: string, opts: ResolveOptions): C;
  describe(config: C): WorkloadDescription;
  /** Checks that need the machine (python present, torch importable) before any measurement starts. May resolve
   *  'auto' choices in the config to what was found, and return software versions (name → version) for the result. */
  preflight?(config: C, opts: ResolveOptions): Promise<void | Record<string, string>>;
  /** Metrics and facts recorded once per run (e.g. model parameter count). */
  run(config: C, ctx: WorkloadContext): Promise<WorkloadOutcome>;
}

export interface ResolveOptions {
  /** --python, where given. */
  python?: string;
  env: NodeJS.ProcessEnv;
  /** How messages name a config setting; suiteSettingName (the suite's own keys) where not given. */
  settingName?: SettingName;
}

/**
 * A config setting in the words of whatever gave the config, so that a remedy points at what the user wrote: a
 * suite's key (`inputTokens`, `inputTokens: 1024`) or a command's flag (`--input-tokens`, `--input-tokens 1024`).
 * `value` is an example or a placeholder (N, FILE); without one, the setting's name alone.
 */
export type SettingName = (key: string, value?: string | number | boolean) => string;

export const suiteSettingName: SettingName = (key, value) => (value === undefined ? key : `${key}: ${value}`);

export type { Metric };
