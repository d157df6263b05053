/* Generated from results/schema.json by `npm run gen:types`. Do not edit by hand. */

/**
 * This interface was referenced by `WattbenchResult`'s JSON-Schema
 * via the `definition` "Source".
 */
export type Source =
  | {
      id: string;
      state: 'used';
      scope: 'device' | 'host-cpu' | 'node' | 'estimated';
      semantics: Semantics;
      deviceIds: string[];
      /**
       * argv of the vendor tool, where one runs.
       */
      command?: string[];
      requestedIntervalMs: number;
      achievedIntervalMs: {
        median: number;
        p99: number;
      } | null;
      sampleCount: number;
      /**
       * @maxItems 100000
       */
      gaps: Gap[];
      restarts: number;
      note?: string;
    }
  | {
      id: string;
      /**
       * available: works here but another source was chosen; unavailable: does not work here.
       */
      state: 'available' | 'unavailable';
      code?: string;
      reason: string;
    };

/**
 * One wattbench run: settings, environment, power sources, every repetition's figures and the statistics across them. Times are seconds on the run clock (monotonic, t = 0 at clock.anchorWallTime) unless named otherwise.
 */
export interface WattbenchResult {
  /**
   * Version of this schema. Older files are upgraded by results/upgrade.ts.
   */
  schemaVersion: 1;
  runId: string;
  /**
   * ok: every repetition measured; failed: at least one repetition failed; interrupted: stopped by a signal, figures cover what finished.
   */
  status: 'ok' | 'failed' | 'interrupted';
  createdAt: string;
  tool: {
    name: 'wattbench';
    version: string;
    gitCommit?: string;
  };
  clock: {
    /**
     * Wall time of run-clock t = 0.
     */
    anchorWallTime: string;
    source: 'process.hrtime';
  };
  host: Host;
  /**
   * Name → version of everything that shapes the figures (node, python, torch, vendor driver, ...).
   */
  software: {
    [k: string]: string;
  };
  /**
   * @maxItems 4096
   */
  devices: Device[];
  workload: Workload;
  settings: Settings;
  /**
   * @maxItems 256
   */
  sources: Source[];
  idle: Idle | null;
  /**
   * @maxItems 100000
   */
  repetitions: Repetition[];
  summary: Summary | null;
  /**
   * @maxItems 100000
   */
  warnings: Warning[];
  /**
   * @maxItems 10000
   */
  errors: ErrorEntry[];
  rawSamples: {
    /**
     * Path of the raw samples and events, relative to the result file.
     */
    file: string;
    format: 'wattbench-samples-jsonl-v1';
  };
  fidelity?: Fidelity;
  serving?: Serving;
  cluster?: Cluster;
}
/**
 * This interface was referenced by `WattbenchResult`'s JSON-Schema
 * via the `definition` "Host".
 */
export interface Host {
  cpuModel: string;
  /**
   * Physical cores.
   */
  cpuCores: number;
  /**
   * Logical CPUs.
   */
  cpuThreads: number;
  memoryMiB: number;
  os: string;
  kernel: string;
  arch: string;
  /**
   * Only when the user asked for it (--record-hostname).
   */
  hostname?: string;
  virtualization?: string;
}
/**
 * This interface was referenced by `WattbenchResult`'s JSON-Schema
 * via the `definition` "Device".
 */
export interface Device {
  /**
   * Stable key within the run: '<source>:<index>' (e.g. 'nvidia-smi:0', 'rapl:package-0', 'host:cpu').
   */
  id: string;
  index?: number;
  vendor: string;
  name: string;
  kind?: 'accelerator' | 'cpu' | 'dram' | 'node' | 'other';
  uuid?: string;
  serial?: string;
  busId?: string;
  driverVersion?: string;
  firmwareVersion?: string;
  memoryMiB?: number;
  powerLimitW?: number;
  tdpW?: number;
  /**
   * MIG instance, compute partition or die, where the device is part of a chip.
   */
  partition?: string;
}
/**
 * This interface was referenced by `WattbenchResult`'s JSON-Schema
 * via the `definition` "Workload".
 */
export interface Workload {
  /**
   * Workload module id (smoke, command, train, infer, serve).
   */
  id: string;
  name: string;
  /**
   * What the headline tokens count: train = steps × batch × sequence length; infer and serve = generated output tokens.
   */
  kind?: 'train' | 'infer' | 'serve' | 'other';
  /**
   * Named size from workloads/model_sizes.json, or 'custom'.
   */
  modelSize?: string;
  /**
   * Model parameter count.
   */
  parameters?: number;
  dtype?: string;
  backend?: string;
  /**
   * The full resolved workload configuration, as run.
   */
  config: {};
}
/**
 * This interface was referenced by `WattbenchResult`'s JSON-Schema
 * via the `definition` "Settings".
 */
export interface Settings {
  repetitions: number;
  maxRepetitions?: number;
  /**
   * Adaptive repetitions: stop once the 95% CI half-width of tokens per joule is within this percentage of the mean.
   */
  targetCiPct?: number;
  idleS: number;
  cooldownS: number;
  /**
   * Requested sampling interval.
   */
  intervalMs: number;
  timeoutS?: number;
  sourceRequested?: string;
  suite?: {
    path: string;
    sha256: string;
    entry?: string;
  };
}
/**
 * What one reading of the sensor means.
 *
 * This interface was referenced by `WattbenchResult`'s JSON-Schema
 * via the `definition` "Semantics".
 */
export interface Semantics {
  kind: 'instantaneous' | 'windowed-average' | 'energy-counter' | 'estimated';
  /**
   * For windowed-average: the length of the averaging window.
   */
  averagingWindowMs?: number;
  /**
   * How often the sensor produces a new value, whatever the polling rate.
   */
  updatePeriodMs?: number;
  /**
   * For instantaneous: share of time the sensor actually observes (about 25% on A100/H100).
   */
  dutyCyclePct?: number;
  /**
   * Delay between the load and the reading; the integrator shifts readings back by this much.
   */
  lagMs?: number;
  counterResolutionJ?: number;
  /**
   * Counter wraps to 0 after this value.
   */
  counterMaxJ?: number;
  /**
   * The vendor field read (e.g. power.draw.instant).
   */
  field?: string;
  note?: string;
}
/**
 * This interface was referenced by `WattbenchResult`'s JSON-Schema
 * via the `definition` "Gap".
 */
export interface Gap {
  startS: number;
  endS: number;
  deviceId?: string;
  reason: string;
}
/**
 * This interface was referenced by `WattbenchResult`'s JSON-Schema
 * via the `definition` "Idle".
 */
export interface Idle {
  startS: number;
  endS: number;
  durationS: number;
  /**
   * Mean idle power summed over the measured devices.
   */
  powerW: number;
  /**
   * @maxItems 4096
   */
  devices: {
    deviceId: string;
    powerW: number;
    sampleCount: number;
  }[];
}
/**
 * This interface was referenced by `WattbenchResult`'s JSON-Schema
 * via the `definition` "Repetition".
 */
export interface Repetition {
  index: number;
  status: 'ok' | 'failed' | 'interrupted';
  error?: ErrorEntry;
  /**
   * @maxItems 64
   */
  phases: {
    phase: 'start' | 'warmup' | 'window' | 'cooldown' | 'done';
    startS: number;
    endS?: number;
  }[];
  window: {
    startS: number;
    endS: number;
    durationS: number;
  } | null;
  tokens: Tokens | null;
  figures: Figures | null;
  /**
   * @maxItems 4096
   */
  devices: DevicePower[];
  diagnostics?: Diagnostics;
  /**
   * Workload-specific figures (prefill tokens/s, MFU, TTFT, ...).
   *
   * @maxItems 1024
   */
  metrics: Metric[];
  exit?: {
    exitCode?: number | null;
    signal?: string | null;
  };
  /**
   * False when the window is too short (under 10 sensor updates) for a figure to stand alone.
   */
  headline?: boolean;
}
/**
 * This interface was referenced by `WattbenchResult`'s JSON-Schema
 * via the `definition` "ErrorEntry".
 */
export interface ErrorEntry {
  code: string;
  message: string;
  /**
   * Last lines of the workload's stderr.
   */
  stderrTail?: string;
  repetition?: number;
}
/**
 * This interface was referenced by `WattbenchResult`'s JSON-Schema
 * via the `definition` "Tokens".
 */
export interface Tokens {
  input?: number;
  output?: number;
  /**
   * The headline count used for tokens/s and tokens per joule.
   */
  total: number;
}
/**
 * One repetition's headline figures, over the measured window, summed over the devices the workload used.
 *
 * This interface was referenced by `WattbenchResult`'s JSON-Schema
 * via the `definition` "Figures".
 */
export interface Figures {
  durationS: number;
  energyJ: number;
  /**
   * energyJ − idle power × durationS; null without an idle baseline.
   */
  idleSubtractedEnergyJ: number | null;
  meanPowerW: number;
  peakPowerW: number | null;
  tokensPerS: number;
  /**
   * tokens / energyJ, the same number as (tokens/s) per watt.
   */
  tokensPerJ: number | null;
  idleSubtractedTokensPerJ?: number | null;
  joulesPerToken: number | null;
}
/**
 * This interface was referenced by `WattbenchResult`'s JSON-Schema
 * via the `definition` "DevicePower".
 */
export interface DevicePower {
  deviceId: string;
  sourceId: string;
  /**
   * trapezoid: power samples, both window edges interpolated; counter: energy counter difference; shifted-trapezoid: windowed-average readings moved back by the sensor lag.
   */
  method: 'trapezoid' | 'counter' | 'shifted-trapezoid' | 'step';
  energyJ: number;
  meanPowerW: number;
  peakPowerW: number | null;
  sampleCount: number;
  /**
   * Share of the window with samples on both sides closer than 2× the interval.
   */
  coveragePct?: number;
}
/**
 * This interface was referenced by `WattbenchResult`'s JSON-Schema
 * via the `definition` "Diagnostics".
 */
export interface Diagnostics {
  maxTemperatureC?: number;
  minSmClockMHz?: number;
  maxSmClockMHz?: number;
  meanUtilizationPct?: number;
  maxMemoryUsedMiB?: number;
  /**
   * @maxItems 64
   */
  throttleReasons?: string[];
}
/**
 * This interface was referenced by `WattbenchResult`'s JSON-Schema
 * via the `definition` "Metric".
 */
export interface Metric {
  name: string;
  value: number | null;
  unit: string;
}
/**
 * This interface was referenced by `WattbenchResult`'s JSON-Schema
 * via the `definition` "Summary".
 */
export interface Summary {
  repetitionsOk: number;
  repetitionsTotal: number;
  tokensPerJ: Stats;
  tokensPerS: Stats;
  energyJ: Stats;
  meanPowerW: Stats;
  joulesPerToken: Stats;
  idleSubtractedTokensPerJ?: Stats;
  /**
   * @maxItems 1024
   */
  metrics?: {
    name: string;
    unit: string;
    stats: Stats;
  }[];
}
/**
 * Across repetitions: sample standard deviation (n − 1), 95% CI with Student t, coefficient of variation.
 *
 * This interface was referenced by `WattbenchResult`'s JSON-Schema
 * via the `definition` "Stats".
 */
export interface Stats {
  n: number;
  mean: number;
  sd: number | null;
  ci95Low: number | null;
  ci95High: number | null;
  ci95HalfWidth: number | null;
  cvPct: number | null;
  min: number;
  max: number;
}
/**
 * This interface was referenced by `WattbenchResult`'s JSON-Schema
 * via the `definition` "Warning".
 */
export interface Warning {
  /**
   * A closed set; reports turn each code into a sentence (results/warnings.ts).
   */
  code:
    | 'HIGH_CV'
    | 'SHORT_WINDOW'
    | 'SAMPLING_GAP'
    | 'ESTIMATED_POWER'
    | 'HIGH_IDLE'
    | 'THROTTLED'
    | 'SOURCE_RESTARTED'
    | 'WINDOW_NOT_COVERED'
    | 'REPETITION_FAILED'
    | 'INTERRUPTED'
    | 'NO_IDLE_BASELINE'
    | 'FEW_REPETITIONS'
    | 'AVERAGED_SENSOR'
    | 'COUNTER_RESET'
    | 'TARGET_CI_NOT_REACHED'
    | 'CLIENT_BEHIND_SCHEDULE'
    | 'USAGE_FROM_CLIENT'
    | 'REQUESTS_FAILED'
    | 'CLOCK_SKEW'
    | 'PARTIAL_DEVICE_POWER'
    | 'HOST_SCOPE'
    | 'PROTOCOL_ERRORS'
    | 'OUTPUT_TRUNCATED';
  message: string;
  repetition?: number;
  sourceId?: string;
  deviceId?: string;
}
/**
 * How much to trust the energy: what was measured, how, and the bound on its error.
 *
 * This interface was referenced by `WattbenchResult`'s JSON-Schema
 * via the `definition` "Fidelity".
 */
export interface Fidelity {
  /**
   * A: energy counter on the device; B: corrected or instantaneous device sensor at its update rate; C: averaged or coarse sensor, host scope, or short windows; D: estimated.
   */
  grade: 'A' | 'B' | 'C' | 'D';
  method: string;
  energyErrorBoundPct: number | null;
  /**
   * @maxItems 64
   */
  notes?: string[];
}
/**
 * Serving workload figures (issue: serving). Filled by workloads/serve.
 *
 * This interface was referenced by `WattbenchResult`'s JSON-Schema
 * via the `definition` "Serving".
 */
export interface Serving {
  [k: string]: unknown;
}
/**
 * Multi-node facts: nodes, per-node clock offsets (ms), scheduler job id.
 *
 * This interface was referenced by `WattbenchResult`'s JSON-Schema
 * via the `definition` "Cluster".
 */
export interface Cluster {
  [k: string]: unknown;
}
