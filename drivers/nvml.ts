// nvml: NVIDIA GPUs through libnvidia-ml itself (via koffi, a maintained FFI library) instead of the nvidia-smi
// CLI. Its point is the energy counter: nvmlDeviceGetTotalEnergyConsumption (mJ since the driver loaded, Volta
// and newer), which nvidia-smi does not print. The counter refreshes about every 100 ms (ml.energy, "Thermally
// stable profiling"), so it is polled 4× faster by default: the poll where a new value first appears is then within
// 25 ms of the update, and the integration (harness/analyse.ts methodFor) stamps each value there. The power
// reading (nvmlDeviceGetPowerUsage, mW; a 1 s average on Ampere and newer except GA100) is read once per update
// for peak power and display. Pre-Volta GPUs have no counter: their power readings are integrated instead.
//
// MIG: a GPU in MIG mode is not a CUDA device, its slices are. The probe lists each such GPU's slices through NVML
// and the workload is pointed at one by its MIG UUID, with exactly the nvidia-smi driver's rules and error codes:
// both decide through drivers/nvidia-mig.ts (shared, not a driver).
import type { Device, Semantics } from '../results/types.gen.js';
import type { Driver, ProbeResult, UnavailableCode } from './driver.js';
import { sleepMs } from '../lib/clock.js';
import { nvidiaVisibility, type NvMigPlan, type NvMigSlice } from './nvidia-mig.js';

const DEFAULT_LIB = 'libnvidia-ml.so.1';
/** How often the driver refreshes the counter and the power reading, ms (override: --source-opt update-ms=N). */
const DEFAULT_UPDATE_MS = 100;

// nvmlReturn_t values (nvml.h)
const NVML = {
  SUCCESS: 0, UNINITIALIZED: 1, INVALID_ARGUMENT: 2, NOT_SUPPORTED: 3, NO_PERMISSION: 4, NOT_FOUND: 6,
  DRIVER_NOT_LOADED: 9, LIBRARY_NOT_FOUND: 12, FUNCTION_NOT_FOUND: 13, GPU_IS_LOST: 15, LIB_RM_VERSION_MISMATCH: 18,
} as const;
/** nvml.h: NVML_DEVICE_MIG_DISABLE 0x0, NVML_DEVICE_MIG_ENABLE 0x1. */
const MIG_ENABLE = 1;

const RC_NAMES: Record<number, string> = {
  0: 'SUCCESS', 1: 'UNINITIALIZED', 2: 'INVALID_ARGUMENT', 3: 'NOT_SUPPORTED', 4: 'NO_PERMISSION', 5: 'ALREADY_INITIALIZED',
  6: 'NOT_FOUND', 7: 'INSUFFICIENT_SIZE', 8: 'INSUFFICIENT_POWER', 9: 'DRIVER_NOT_LOADED', 10: 'TIMEOUT', 11: 'IRQ_ISSUE',
  12: 'LIBRARY_NOT_FOUND', 13: 'FUNCTION_NOT_FOUND', 14: 'CORRUPTED_INFOROM', 15: 'GPU_IS_LOST', 16: 'RESET_REQUIRED',
  17: 'OPERATING_SYSTEM', 18: 'LIB_RM_VERSION_MISMATCH', 19: 'IN_USE', 20: 'MEMORY', 21: 'NO_DATA', 999: 'UNKNOWN',
};

type Handle = unknown;

/** The part of NVML wattbench calls; every call returns the nvmlReturn_t and never throws. */
export interface NvmlApi {
  path: string;
  init(): number;
  shutdown(): number;
  count(): { rc: number; count: number };
  handle(index: number): { rc: number; handle: Handle };
  name(h: Handle): { rc: number; value: string };
  uuid(h: Handle): { rc: number; value: string };
  /** Total energy since the driver loaded, mJ. */
  energyMj(h: Handle): { rc: number; value: number };
  /** Power reading, mW. */
  powerMw(h: Handle): { rc: number; value: number };
  /** Optional symbols: absent in some builds, undefined then. */
  powerLimitMw?(h: Handle): { rc: number; value: number };
  driverVersion?(): { rc: number; value: string };
  /** MIG calls (nvml.h, R450+; Ampere and newer answer them): all three, or none where the library predates MIG. */
  mig?: {
    /** nvmlDeviceGetMigMode(device, *currentMode, *pendingMode): NVML_DEVICE_MIG_ENABLE (1) or _DISABLE (0);
     *  NVML_ERROR_NOT_SUPPORTED where the GPU has no MIG. */
    mode(h: Handle): { rc: number; current: number; pending: number };
    /** nvmlDeviceGetMaxMigDeviceCount(device, *count): "zero if MIG is not supported or enabled". */
    maxDevices(h: Handle): { rc: number; count: number };
    /** nvmlDeviceGetMigDeviceHandleByIndex(device, index, *migDevice): NVML_ERROR_NOT_FOUND "if no valid MIG device
     *  was found at index" (an empty slot). The MIG handle answers nvmlDeviceGetName / nvmlDeviceGetUUID. */
    deviceHandle(h: Handle, index: number): { rc: number; handle: Handle };
  };
  errorString(rc: number): string;
}

const bound = new Map<string, NvmlApi>();

/** Why binding failed: the FFI module itself, the library file, or a function the library lacks. */
export class NvmlBindError extends Error {
  constructor(readonly stage: 'koffi' | 'load' | 'symbol', message: string) { super(message); }
}

/** dlopen the library (once per path per process: NVML keeps its own state, and unloading it buys nothing). */
export async function bindNvml(path: string): Promise<NvmlApi> {
  const cached = bound.get(path);
  if (cached) return cached;
  let koffi: (typeof import('koffi'))['default'];
  try { koffi = (await import('koffi')).default; } catch (err) { throw new NvmlBindError('koffi', (err as Error).message); }
  let lib: import('koffi').LibraryHandle;
  try { lib = koffi.load(path); } catch (err) { throw new NvmlBindError('load', (err as Error).message); }
  const device = koffi.pointer(koffi.opaque());
  const fn = (name: string, result: string, args: unknown[]) => {
    try { return lib.func(name, result, args as never[]); } catch (err) { throw new NvmlBindError('symbol', `${name}: ${(err as Error).message}`); }
  };
  const optional = (name: string, result: string, args: unknown[]) => { try { return fn(name, result, args); } catch { return undefined; } };
  const init = fn('nvmlInit_v2', 'int', []);
  const shutdown = fn('nvmlShutdown', 'int', []);
  const getCount = fn('nvmlDeviceGetCount_v2', 'int', [koffi.out(koffi.pointer('uint'))]);
  const getHandle = fn('nvmlDeviceGetHandleByIndex_v2', 'int', ['uint', koffi.out(koffi.pointer(device))]);
  const getName = fn('nvmlDeviceGetName', 'int', [device, 'uint8_t *', 'uint']);
  const getUuid = fn('nvmlDeviceGetUUID', 'int', [device, 'uint8_t *', 'uint']);
  const getEnergy = fn('nvmlDeviceGetTotalEnergyConsumption', 'int', [device, koffi.out(koffi.pointer('uint64'))]);
  const getPower = fn('nvmlDeviceGetPowerUsage', 'int', [device, koffi.out(koffi.pointer('uint'))]);
  const getLimit = optional('nvmlDeviceGetEnforcedPowerLimit', 'int', [device, koffi.out(koffi.pointer('uint'))]);
  const getVersion = optional('nvmlSystemGetDriverVersion', 'int', ['uint8_t *', 'uint']);
  const errString = optional('nvmlErrorString', 'str', ['int']);
  // signatures and return codes from nvml.h (NVML 12.2.140 as NVIDIA/go-nvml vendors it, gen/nvml/nvml.h; the same in
  // https://docs.nvidia.com/deploy/nvml-api/api/group__nvmlMultiInstanceGPU.html); a library without them has no MIG
  const getMigMode = optional('nvmlDeviceGetMigMode', 'int', [device, koffi.out(koffi.pointer('uint')), koffi.out(koffi.pointer('uint'))]);
  const getMaxMig = optional('nvmlDeviceGetMaxMigDeviceCount', 'int', [device, koffi.out(koffi.pointer('uint'))]);
  const getMigHandle = optional('nvmlDeviceGetMigDeviceHandleByIndex', 'int', [device, 'uint', koffi.out(koffi.pointer(device))]);
  const text = (f: (...a: unknown[]) => number, ...pre: unknown[]) => {
    const buf = Buffer.alloc(96);
    const rc = f(...pre, buf, buf.length);
    const end = buf.indexOf(0);
    return { rc, value: rc === NVML.SUCCESS ? buf.toString('utf8', 0, end < 0 ? buf.length : end) : '' };
  };
  const num = (f: (...a: unknown[]) => number, h: Handle) => {
    const out: unknown[] = [0];
    const rc = f(h, out);
    return { rc, value: Number(out[0]) };
  };
  const api: NvmlApi = {
    path,
    init: () => init(),
    shutdown: () => shutdown(),
    count: () => { const out: unknown[] = [0]; const rc = getCount(out); return { rc, count: Number(out[0]) }; },
    handle: (i) => { const out: unknown[] = [null]; const rc = getHandle(i, out); return { rc, handle: out[0] }; },
    name: (h) => text(getName, h),
    uuid: (h) => text(getUuid, h),
    energyMj: (h) => num(getEnergy, h),
    powerMw: (h) => num(getPower, h),
    ...(getLimit ? { powerLimitMw: (h: Handle) => num(getLimit, h) } : {}),
    ...(getVersion ? { driverVersion: () => text(getVersion) } : {}),
    ...(getMigMode && getMaxMig && getMigHandle ? {
      mig: {
        mode: (h: Handle) => { const cur: unknown[] = [0], pend: unknown[] = [0]; const rc = getMigMode(h, cur, pend); return { rc, current: Number(cur[0]), pending: Number(pend[0]) }; },
        maxDevices: (h: Handle) => { const out: unknown[] = [0]; const rc = getMaxMig(h, out); return { rc, count: Number(out[0]) }; },
        deviceHandle: (h: Handle, i: number) => { const out: unknown[] = [null]; const rc = getMigHandle(h, i, out); return { rc, handle: out[0] }; },
      },
    } : {}),
    errorString: (rc) => {
      try { const s = errString?.(rc); if (typeof s === 'string' && s) return `${s} (${RC_NAMES[rc] ?? rc})`; } catch { /* fall through */ }
      return `NVML_ERROR_${RC_NAMES[rc] ?? rc}`;
    },
  };
  bound.set(path, api);
  return api;
}

/** The probe's per-GPU MIG facts in the nvidia-smi driver's shape, so its nvidiaVisibility decides for both. */
export type NvmlGpuPlan = NvMigPlan;
interface NvPrivate { lib: string; counter: boolean[]; updateMs: number; plans: NvmlGpuPlan[] }

/** The profile in a MIG device's NVML name ("NVIDIA H100 80GB HBM3 MIG 1g.10gb" → 1g.10gb, also 1c.3g.71gb,
 *  1g.10gb+me); "unknown" where the name carries none. */
export function migProfileFromName(name: string): string {
  return /\bMIG\s+(\S*\d+g\.\d+gb\S*)/i.exec(name)?.[1] ?? 'unknown';
}

/**
 * A GPU's MIG slices as NVML lists them: undefined when the GPU is not in MIG mode (or the library or GPU has no
 * MIG), else the slices, possibly none. MIG device indices are those nvmlDeviceGetMigDeviceHandleByIndex takes,
 * the "Device N" of `nvidia-smi -L`; empty slots (NOT_FOUND) are skipped. `problems` gets what could not be read.
 */
export function nvmlMigSlices(api: NvmlApi, gpu: number, h: Handle, problems: string[]): NvMigSlice[] | undefined {
  if (!api.mig) return undefined;
  const mode = api.mig.mode(h);
  if (mode.rc === NVML.NOT_SUPPORTED) return undefined;
  if (mode.rc !== NVML.SUCCESS) { problems.push(`GPU ${gpu}: MIG mode unreadable (${api.errorString(mode.rc)}), taken as off`); return undefined; }
  // the current mode is what CUDA sees now; a pending change applies only after a GPU reset
  if (mode.current !== MIG_ENABLE) return undefined;
  const max = api.mig.maxDevices(h);
  if (max.rc !== NVML.SUCCESS) { problems.push(`GPU ${gpu}: nvmlDeviceGetMaxMigDeviceCount failed (${api.errorString(max.rc)})`); return []; }
  const slices: NvMigSlice[] = [];
  for (let i = 0; i < max.count; i++) {
    const m = api.mig.deviceHandle(h, i);
    if (m.rc === NVML.NOT_FOUND) continue;
    if (m.rc !== NVML.SUCCESS) { problems.push(`GPU ${gpu}: MIG device ${i}: ${api.errorString(m.rc)}`); continue; }
    const name = api.name(m.handle), uuid = api.uuid(m.handle);
    slices.push({ profile: name.rc === NVML.SUCCESS ? migProfileFromName(name.value) : 'unknown', device: i, ...(uuid.rc === NVML.SUCCESS && uuid.value ? { uuid: uuid.value } : {}) });
  }
  return slices;
}

function unavailable(code: UnavailableCode, reason: string): ProbeResult {
  return { state: 'unavailable', code, reason };
}

function initFailure(api: NvmlApi, rc: number): ProbeResult {
  const why = api.errorString(rc);
  if (rc === NVML.NO_PERMISSION) return unavailable('permission-denied', `nvmlInit_v2 failed: ${why} — run as a user with access to /dev/nvidia*`);
  if (rc === NVML.DRIVER_NOT_LOADED || rc === NVML.LIBRARY_NOT_FOUND) return unavailable('not-installed', `nvmlInit_v2 failed: ${why} — the NVIDIA kernel driver is not loaded`);
  if (rc === NVML.LIB_RM_VERSION_MISMATCH) return unavailable('error', `nvmlInit_v2 failed: ${why} — the driver was updated without a reboot; reboot or reload the nvidia module`);
  return unavailable('error', `nvmlInit_v2 failed: ${why}`);
}

function updateMsOf(options: Record<string, string>): number {
  const v = Number(options['update-ms'] ?? DEFAULT_UPDATE_MS);
  return Number.isFinite(v) && v > 0 ? v : DEFAULT_UPDATE_MS;
}

export const nvml: Driver = {
  meta: {
    id: 'nvml', title: 'NVIDIA GPUs through NVML (energy counter)', vendor: 'NVIDIA', scope: 'device', priority: 70,
    // 4 polls per ~100 ms counter update: each update is then pinned to within 25 ms (see the header)
    defaultIntervalMs: 25, minIntervalMs: 5,
    visibilityEnv: ['CUDA_VISIBLE_DEVICES'],
    // nvidia-smi numbers GPUs in PCI bus order, CUDA by default fastest-first: make CUDA use the same order
    workloadEnv: { CUDA_DEVICE_ORDER: 'PCI_BUS_ID' },
    options: {
      lib: `path of libnvidia-ml (default ${DEFAULT_LIB}, found by the dynamic loader)`,
      'update-ms': `how often the GPU refreshes its counter and power reading, ms (default ${DEFAULT_UPDATE_MS})`,
      mig: 'the MIG slice the workload runs on when the selected GPU is in MIG mode: its UUID (MIG-…, as `nvidia-smi -L` prints it) or GPU:DEVICE (0:1); default the GPU\'s first slice',
    },
  },
  async probe(ctx): Promise<ProbeResult> {
    const lib = ctx.options.lib ?? DEFAULT_LIB;
    let api: NvmlApi;
    try { api = await bindNvml(lib); } catch (err) {
      const msg = (err as Error).message.split('\n')[0];
      const stage = err instanceof NvmlBindError ? err.stage : 'load';
      if (stage === 'koffi') return unavailable('error', `the koffi FFI module failed to load (${msg}) — reinstall wattbench's dependencies (npm ci)`);
      if (stage === 'symbol') return unavailable('error', `${lib} lacks an NVML function wattbench needs (${msg}) — update the NVIDIA driver`);
      return unavailable('not-installed', `cannot load ${lib} (${msg}) — no NVIDIA driver here; install it, or pass --source nvml --source-opt lib=/path/to/libnvidia-ml.so.1`);
    }
    const rc = api.init();
    if (rc !== NVML.SUCCESS) return initFailure(api, rc);
    try {
      const c = api.count();
      if (c.rc !== NVML.SUCCESS) return unavailable('error', `nvmlDeviceGetCount_v2 failed: ${api.errorString(c.rc)}`);
      if (c.count === 0) return unavailable('no-devices', 'NVML sees no GPU');
      const devices: Device[] = [];
      const counter: boolean[] = [];
      let version: string | undefined;
      const v = api.driverVersion?.();
      if (v && v.rc === NVML.SUCCESS && v.value) version = v.value;
      const problems: string[] = [];
      const migProblems: string[] = [];
      const plans: NvmlGpuPlan[] = [];
      for (let i = 0; i < c.count; i++) {
        const h = api.handle(i);
        if (h.rc !== NVML.SUCCESS) { problems.push(`GPU ${i}: ${api.errorString(h.rc)}`); continue; }
        const name = api.name(h.handle), uuid = api.uuid(h.handle);
        const e = api.energyMj(h.handle), p = api.powerMw(h.handle);
        if (e.rc !== NVML.SUCCESS && p.rc !== NVML.SUCCESS) { problems.push(`GPU ${i}: no energy counter (${api.errorString(e.rc)}) and no power reading (${api.errorString(p.rc)})`); continue; }
        const limit = api.powerLimitMw?.(h.handle);
        counter[i] = e.rc === NVML.SUCCESS;
        const mig = nvmlMigSlices(api, i, h.handle, migProblems);
        plans.push({ index: i, ...(mig ? { mig } : {}) });
        devices.push({
          id: `nvml:${i}`, index: i, vendor: 'NVIDIA', name: name.rc === NVML.SUCCESS && name.value ? name.value : `GPU ${i}`, kind: 'accelerator',
          ...(uuid.rc === NVML.SUCCESS && uuid.value ? { uuid: uuid.value } : {}),
          ...(limit && limit.rc === NVML.SUCCESS && limit.value > 0 ? { powerLimitW: limit.value / 1000 } : {}),
          ...(version ? { driverVersion: version } : {}),
          // MIG slices share the board's one power sensor: the device stays the physical GPU, its slices listed here
          ...(mig ? { partition: `MIG${mig.length ? `: ${mig.map((m) => m.profile).join(', ')}` : ' enabled'}`.slice(0, 128) } : {}),
        });
      }
      if (!devices.length) return unavailable('no-power-field', `NVML sees ${c.count} GPU(s) but reads power on none: ${problems.join('; ')}`);
      const updateMs = updateMsOf(ctx.options);
      // mixed devices report the weakest (driver.ts): one GPU without a counter makes the source a power sensor
      const allCounters = devices.every((d) => counter[d.index!]);
      const semantics: Semantics = allCounters
        ? { kind: 'energy-counter', updatePeriodMs: updateMs, counterResolutionJ: 0.001, field: 'nvmlDeviceGetTotalEnergyConsumption', note: 'total energy since the driver loaded, mJ; power from nvmlDeviceGetPowerUsage for peaks only' }
        : { kind: 'instantaneous', field: 'nvmlDeviceGetPowerUsage', note: 'no energy counter on this GPU (pre-Volta): power readings are integrated' };
      const notes: string[] = [];
      if (problems.length) notes.push(`skipped: ${problems.join('; ')}`);
      if (migProblems.length) notes.push(migProblems.join('; '));
      if (devices.some((d) => d.partition?.startsWith('MIG'))) notes.push('MIG: power is measured per physical GPU; a workload on one MIG slice is charged the whole board');
      return {
        state: 'ok', devices, semantics,
        software: { ...(version ? { nvidiaDriver: version } : {}), nvml: api.path },
        ...(notes.length ? { note: notes.join('. ').slice(0, 2000) } : {}),
        private: { lib, counter, updateMs, plans } satisfies NvPrivate,
      };
    } finally {
      api.shutdown();
    }
  },
  // the same choice as the nvidia-smi source: indices, or one MIG slice's UUID (drivers/driver.ts workloadVisibility)
  workloadVisibility(devices, probe, options) {
    return nvidiaVisibility(devices, (probe.private as NvPrivate).plans, options.mig);
  },
  async start(opts) {
    const priv = opts.probe.private as NvPrivate;
    const api = await bindNvml(priv.lib);
    const rc = api.init();
    if (rc !== NVML.SUCCESS) throw new Error(`nvmlInit_v2 failed: ${api.errorString(rc)}`);
    const targets = opts.devices.map((d) => {
      const h = api.handle(d.index ?? 0);
      return { device: d, handle: h.rc === NVML.SUCCESS ? h.handle : undefined, counter: priv.counter[d.index ?? 0] === true, lastPowerS: -Infinity, failing: undefined as undefined | { since: number; why: string } };
    });
    const updateS = priv.updateMs / 1000;
    let stopped = false;
    const read = () => {
      for (const t of targets) {
        const tS = opts.clock.nowS();
        if (t.handle === undefined) continue;
        let energyJ: number | undefined, powerW: number | undefined, failure: number | undefined;
        if (t.counter) {
          const e = api.energyMj(t.handle);
          if (e.rc === NVML.SUCCESS) energyJ = e.value / 1000; else failure = e.rc;
        }
        // the power reading refreshes once per update: reading it more often adds copies, not information
        if (!t.counter || tS - t.lastPowerS >= updateS * 0.95) {
          const p = api.powerMw(t.handle);
          if (p.rc === NVML.SUCCESS) { powerW = p.value / 1000; t.lastPowerS = tS; } else if (!t.counter) failure = p.rc;
        }
        if (failure !== undefined) {
          if (!t.failing) { t.failing = { since: tS, why: api.errorString(failure) }; opts.sink.note(`nvml: ${t.device.id}: ${t.failing.why}`); }
          continue;
        }
        if (t.failing) { opts.sink.gap({ startS: t.failing.since, endS: tS, deviceId: t.device.id, reason: `NVML read failed: ${t.failing.why}` }); t.failing = undefined; }
        if (energyJ === undefined && powerW === undefined) continue;
        opts.sink.sample({ tS, sourceId: 'nvml', deviceId: t.device.id, ...(energyJ !== undefined ? { energyJ } : {}), ...(powerW !== undefined ? { powerW } : {}) });
      }
    };
    // the first reading before start() returns, so a window opened right after has a sample at its edge
    read();
    const loop = (async () => {
      let next = opts.clock.nowS();
      while (!stopped && !opts.signal.aborted) {
        next += opts.intervalMs / 1000;
        const now = opts.clock.nowS();
        if (next < now) next = now; // fell behind (a busy host): skip, do not burst
        await sleepMs((next - now) * 1000, opts.signal);
        if (stopped || opts.signal.aborted) break;
        read();
      }
    })();
    return {
      stop: async () => {
        stopped = true;
        await loop;
        read(); // one last reading, so a window that closed just before stop() has a sample after its edge
        api.shutdown();
      },
    };
  },
};
