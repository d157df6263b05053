// The contract every power source implements: probe → start(devices, interval, abort signal) → samples → stop.
// A new vendor is one module in drivers/ exporting a Driver, plus one line in drivers/index.ts.
import type { Device, Semantics } from '../results/types.gen.js';
import type { Sample } from '../results/samples.js';
import type { RunClock } from '../lib/clock.js';
import type { WattbenchError } from '../lib/errors.js';

export type Scope = 'device' | 'host-cpu' | 'node' | 'estimated';

export interface DriverMeta {
  /** Registry key and the value of --source. */
  id: string;
  title: string;
  vendor: string;
  scope: Scope;
  /** When several sources work, the highest priority wins (device counters > device sensors > node > host > estimate). */
  priority: number;
  defaultIntervalMs: number;
  minIntervalMs: number;
  /** Variables that restrict which devices a workload sees: the selected devices' indices, or what Driver.workloadVisibility decides. */
  visibilityEnv?: string[];
  /** Fixed variables set for the workload beside the visibility ones (e.g. CUDA_DEVICE_ORDER, so indices agree). */
  workloadEnv?: Record<string, string>;
  /** Options accepted through --source-opt KEY=VALUE or a suite's source.options, with what each does. */
  options?: Record<string, string>;
}

export type UnavailableCode = 'not-installed' | 'permission-denied' | 'no-power-field' | 'no-devices' | 'not-configured' | 'error';

export type ProbeResult =
  | {
      state: 'ok';
      devices: Device[];
      /** What one reading means, per source (drivers with mixed devices report the weakest). */
      semantics: Semantics;
      /** Where one driver serves sources of different scope (Prometheus: dcgm-exporter vs Kepler), the scope found; default meta.scope. */
      scope?: Scope;
      software?: Record<string, string>;
      note?: string;
      /** Per-device facts a driver wants back in start() (e.g. which field each device supports). */
      private?: unknown;
    }
  | { state: 'unavailable'; code: UnavailableCode; reason: string };

export interface ProbeContext {
  env: NodeJS.ProcessEnv;
  options: Record<string, string>;
  signal?: AbortSignal;
}

export interface GapReport {
  startS: number;
  endS: number;
  deviceId?: string;
  reason: string;
}

/** Where a running sampler delivers what it sees. Every call is cheap and never throws. */
export interface SamplerSink {
  sample(s: Sample): void;
  gap(g: GapReport): void;
  /** The tool died or hung and was started again. */
  restarted(reason: string): void;
  /** Something worth telling the user that is not a gap (unparseable line, ...). */
  note(message: string): void;
}

export interface StartOptions {
  devices: Device[];
  intervalMs: number;
  clock: RunClock;
  signal: AbortSignal;
  sink: SamplerSink;
  options: Record<string, string>;
  env: NodeJS.ProcessEnv;
  /** What probe() returned for this source. */
  probe: Extract<ProbeResult, { state: 'ok' }>;
}

/** What the workload is given to see the selected devices (Driver.workloadVisibility). */
export interface WorkloadVisibility {
  /** Values of the driver's meta.visibilityEnv variables (e.g. CUDA_VISIBLE_DEVICES=MIG-<uuid>). */
  env: Record<string, string>;
  /** The selected devices as the result records them, where the choice narrows a device (its `partition` naming
   *  the MIG slice the workload ran on); absent: unchanged. */
  devices?: Device[];
}

export interface Sampler {
  /** argv of the vendor tool, for the result. */
  readonly command?: string[];
  stop(): Promise<void>;
}

export interface Driver {
  readonly meta: DriverMeta;
  probe(ctx: ProbeContext): Promise<ProbeResult>;
  start(opts: StartOptions): Promise<Sampler>;
  /**
   * Optional: decide the visibility variables for the selected devices where a device's index is not what the
   * vendor runtime takes (an NVIDIA GPU in MIG mode: CUDA runs on one slice, named by its MIG UUID). Called once per
   * run, after device selection and before any sampling or workload starts, with the source's options
   * (--source-opt). A WattbenchError (bad input, exit 2) says the selection cannot be run that way and how to fix it;
   * the harness throws it. Without this hook every variable is set to the selected devices' indices.
   */
  workloadVisibility?(devices: Device[], probe: Extract<ProbeResult, { state: 'ok' }>, options: Record<string, string>): WorkloadVisibility | WattbenchError;
}

/** Shared missing-value test: none of these spellings is zero (FORMATS.md). */
export function isMissing(token: string | undefined | null): boolean {
  if (token === undefined || token === null) return true;
  const t = token.trim();
  return t === '' || t.startsWith('[') || t === 'N/A' || t === 'NA' || t === '-' || t === 'n/a' || t.startsWith('N/A ');
}

/** Parse a number that may carry a unit suffix ("631.95 W", "80.0W", "55 °C"); undefined for any missing spelling. */
export function parseNumber(token: string | undefined | null): number | undefined {
  if (isMissing(token)) return undefined;
  const t = token!.trim();
  const m = /^[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?/.exec(t);
  if (!m) return undefined;
  // a byte that was not UTF-8 right after the digits ("1\xff50.00" decodes to "1\uFFFD50.00") means a corrupted
  // number, not 1 with a unit; a corrupted unit after a space ("55 \uFFFDC") still reads 55
  if (t[m[0].length] === '\uFFFD') return undefined;
  const v = Number(m[0]);
  return Number.isFinite(v) ? v : undefined;
}
