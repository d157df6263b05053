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
     * Path of the raw samples and events, relative to the result file (absolute in a copy rescued to the temp folder, whose samples stayed where the run wrote them).
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
  /**
   * Highest total power in the window: the peak of the devices' interpolated sum where all give power readings, else the sum of their peaks (an upper bound).
   */
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
    | 'REQUESTS_RESENT'
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
 * Serving workload figures (workloads/serve.ts): one entry per repetition that measured, with every request's record and the aggregates derived from them. Times are run-clock seconds; latencies are milliseconds.
 *
 * This interface was referenced by `WattbenchResult`'s JSON-Schema
 * via the `definition` "Serving".
 */
export interface Serving {
  /**
   * @maxItems 100000
   */
  repetitions: ServingRepetition[];
}
/**
 * This interface was referenced by `Serving`'s JSON-Schema
 * via the `definition` "ServingRepetition".
 */
export interface ServingRepetition {
  /**
   * The repetition (result.repetitions[].index).
   */
  index: number;
  endpoint: 'completions' | 'chat';
  endpointUrl: string;
  load: {
    /**
     * closed: fixed concurrency; open: arrivals at a rate (Poisson, or gamma gaps with burstiness ≠ 1).
     */
    kind: 'closed' | 'open';
    concurrency?: number;
    rateRps?: number;
    burstiness?: number;
    maxConcurrency?: number;
    requests?: number;
    durationS?: number;
    warmupS: number;
    peakInFlight: number;
  };
  prompt: {
    kind: 'token-ids' | 'text' | 'dataset';
    inputTokensTarget: number | null;
    outputTokensTarget: number | null;
    /**
     * Words in each synthetic text prompt, calibrated against the server's prompt_tokens.
     */
    textWords?: number;
    /**
     * @maxItems 64
     */
    calibration: {
      words?: number;
      promptTokens: number | null;
    }[];
    /**
     * @maxItems 64
     */
    notes?: string[];
  };
  percentileMethod: string;
  /**
   * The steady state: the energy window (the same as result.repetitions[index].window).
   */
  window: {
    startS: number;
    endS: number;
    durationS: number;
    rule: string;
  };
  /**
   * The whole run: first request sent to last request ended. Its energy is the repetition_energy_J metric.
   */
  run: {
    startS: number;
    endS: number;
    durationS: number;
  };
  requests: {
    total: number;
    ok: number;
    failed: number;
    /**
     * Error kind → requests (the kinds of ServingRecord.error.kind).
     */
    failedByKind: {
      [k: string]: number;
    };
    /**
     * Non-200 HTTP status → requests.
     */
    httpStatus: {
      [k: string]: number;
    };
    usageFromServer: number;
    usageFromClient: number;
    /**
     * Successful requests with fewer output tokens than asked (the server ignored min_tokens / ignore_eos).
     */
    outputShort: number;
    malformedLines: number;
  };
  tokens: {
    window: {
      output: number;
      input: number | null;
      rule: string;
    };
    run: {
      output: number;
      input: number | null;
    };
    /**
     * Token chunks that failed requests had delivered (not counted as tokens).
     */
    failedOutputChunks: number;
  };
  inputTokens: ServingDistribution;
  outputTokens: ServingDistribution1;
  latency: {
    ttftMs: ServingDistribution1;
    tpotMs: ServingDistribution1;
    itlMs: ServingDistribution1;
    e2eMs: ServingDistribution1;
  };
  throughput: {
    run: ServingThroughput;
    window: ServingThroughput;
  };
  /**
   * Successful requests that met every objective, over the whole run.
   */
  goodput: {
    slo: {
      ttftMs?: number;
      tpotMs?: number;
      e2eMs?: number;
    };
    requests: number;
    /**
     * Of all requests, failed ones included.
     */
    sharePct: number | null;
    requestsPerS: number;
    outputTokensPerS: number;
  };
  /**
   * How late requests left the client against their schedule (sent − scheduled).
   */
  schedule: {
    latenessMs: ServingDistribution1;
    lateThresholdMs: number;
    lateRequests: number;
    latePct: number;
    /**
     * More than 1% of requests later than lateThresholdMs.
     */
    behind: boolean;
  };
  client: {
    /**
     * CPU time of the wattbench process over the run, % of one core.
     */
    cpuPct: number | null;
    eventLoopDelayP99Ms: number | null;
    chunkTimes: 'kept' | 'dropped';
    /**
     * Requests sent once more on a new connection because the kept-alive one they went out on was closed by the server before any byte of the response (an idle-timeout race; the server had not read them).
     */
    resentRequests?: number;
  };
  /**
   * @maxItems 64
   */
  warnings: ServingWarning[];
  /**
   * @maxItems 100000000
   */
  records: ServingRecord[];
}
/**
 * Input tokens per successful request (the server's usage confirms the fixed length).
 */
export interface ServingDistribution {
  n: number;
  mean: number | null;
  min: number | null;
  max: number | null;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  p99_9: number | null;
}
/**
 * A distribution over requests (or chunk gaps); percentiles by the method in percentileMethod; null when n = 0. The unit is in the property name that holds it.
 *
 * This interface was referenced by `Serving`'s JSON-Schema
 * via the `definition` "ServingDistribution".
 */
export interface ServingDistribution1 {
  n: number;
  mean: number | null;
  min: number | null;
  max: number | null;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  p99_9: number | null;
}
/**
 * Successful requests and their tokens per second; input (and total) null when some request's input length is unknown (text prompts without usage).
 *
 * This interface was referenced by `Serving`'s JSON-Schema
 * via the `definition` "ServingThroughput".
 */
export interface ServingThroughput {
  requestsPerS: number;
  inputTokensPerS: number | null;
  outputTokensPerS: number;
  totalTokensPerS: number | null;
}
/**
 * A warning the load generator raised; the harness copies it into the result's warnings.
 *
 * This interface was referenced by `Serving`'s JSON-Schema
 * via the `definition` "ServingWarning".
 */
export interface ServingWarning {
  code: 'CLIENT_BEHIND_SCHEDULE' | 'USAGE_FROM_CLIENT' | 'REQUESTS_FAILED' | 'REQUESTS_RESENT';
  message: string;
}
/**
 * One request as the client saw it. Times in run-clock seconds (1 µs resolution). TTFT = firstTokenS − sentS; E2E = doneS − sentS; TPOT = (E2E − TTFT) / (outputTokens − 1).
 *
 * This interface was referenced by `Serving`'s JSON-Schema
 * via the `definition` "ServingRecord".
 */
export interface ServingRecord {
  /**
   * Request index in launch order.
   */
  i: number;
  status: 'ok' | 'failed';
  /**
   * When the load generator meant to send it (closed loop: when its slot's previous request ended).
   */
  scheduledS: number;
  sentS: number;
  firstTokenS: number | null;
  lastTokenS: number | null;
  /**
   * data: [DONE] arrived, or the moment the request failed.
   */
  doneS: number | null;
  inputTokens: number | null;
  outputTokens: number | null;
  /**
   * server: the stream's usage chunk; client: output = token chunks counted by the client; none: the request failed before any.
   */
  usageSource: 'server' | 'client' | 'none';
  /**
   * Chunks that carried text.
   */
  chunks: number;
  itlMeanMs: number | null;
  itlMaxMs: number | null;
  /**
   * Arrival of every token chunk (kept when client.chunkTimes is 'kept').
   *
   * @maxItems 10000000
   */
  chunkTimesS?: number[];
  responseId?: string;
  httpStatus?: number;
  malformedLines?: number;
  error?: {
    kind:
      | 'rate_limited'
      | 'http_client_error'
      | 'http_server_error'
      | 'connect_failed'
      | 'cut_mid_stream'
      | 'first_token_timeout'
      | 'request_timeout'
      | 'malformed_sse'
      | 'stream_error'
      | 'incomplete_stream'
      | 'no_output'
      | 'aborted';
    message: string;
  };
}
/**
 * A multi-node run merged from one shard per node (wattbench merge). Every node's samples and rank 0's events were put on the reference node's clock through offsets measured at the start and end of the job (linear in between); the figures sum every device of every node.
 *
 * This interface was referenced by `WattbenchResult`'s JSON-Schema
 * via the `definition` "Cluster".
 */
export interface Cluster {
  scheduler: 'slurm' | 'kubernetes' | 'none';
  jobId?: string;
  jobName?: string;
  nodeCount: number;
  /**
   * Index of the node whose clock is the time line (it served the time probes; the merge ran there in the generated job scripts).
   */
  referenceNode: number;
  /**
   * Index of the node where rank 0 ran, whose events set the windows.
   */
  eventsNode?: number;
  /**
   * The skew limit the merge enforced: a node further off the reference than this is refused.
   */
  maxSkewMs: number;
  /**
   * Largest |clock offset| measured on any node, start or end.
   */
  skewMs: number;
  /**
   * @maxItems 4096
   */
  nodes: {
    index: number;
    /**
     * node<index>, or the scheduler's node name with --record-hostname.
     */
    name: string;
    sourceId: string;
    scope: 'device' | 'host-cpu' | 'node' | 'estimated';
    /**
     * This node's devices, as named in the result's devices ('node<index>/<source>:<id>').
     *
     * @maxItems 4096
     */
    deviceIds: string[];
    sampleCount: number;
    /**
     * This node's share of each repetition's window energy, J (0 for failed repetitions).
     *
     * @maxItems 100000
     */
    repetitionEnergyJ: number[];
    /**
     * Reference clock minus this node's clock, ms, at the start and end of the job; each good to ± half its probe's round trip. Null where it could not be measured.
     */
    clock: {
      offsetStartMs: number | null;
      offsetEndMs: number | null;
      rttStartMs: number | null;
      rttEndMs: number | null;
    };
    /**
     * The node's own offset from its NTP source (chronyc tracking), ms, where chrony runs.
     */
    ntpOffsetMs?: number;
    cpuModel?: string;
  }[];
}
