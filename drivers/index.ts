// The registry: one literal map from source id to driver. The CLI's --source choices, `wattbench devices` and
// the automatic choice of the best source all derive from this map. A new vendor is one file plus one line here.
import type { Driver } from './driver.js';
import { replay } from './replay.js';
import { rapl } from './rapl.js';
import { estimate } from './estimate.js';
import { nvidiaSmi } from './nvidia-smi.js';
import { nvml } from './nvml.js';
import { amdSmi } from './amd-smi.js';
import { npuSmi } from './npu-smi.js';
import { prometheus } from './prometheus.js';
import { ipmi } from './ipmi.js';
import { redfish } from './redfish.js';
import { hlSmi } from './hl-smi.js';
import { xpuSmi } from './xpu-smi.js';
import { cnmon } from './cnmon.js';
import { efsmi } from './efsmi.js';
import { hySmi } from './hy-smi.js';
import { mxSmi } from './mx-smi.js';
import { ixsmi } from './ixsmi.js';
import { tegrastats } from './tegrastats.js';
import { mthreadsGmi } from './mthreads-gmi.js';
import { kunlunXpuSmi } from './kunlun-xpu-smi.js';
import { ttSmi } from './tt-smi.js';

export const DRIVERS = {
  replay,
  rapl,
  estimate,
  // vendor CLI drivers register below (one line each)
  'nvidia-smi': nvidiaSmi,
  nvml,
  'amd-smi': amdSmi,
  'npu-smi': npuSmi,
  prometheus,
  ipmi,
  redfish,
  'hl-smi': hlSmi,
  'xpu-smi': xpuSmi,
  cnmon,
  efsmi,
  'hy-smi': hySmi,
  'mx-smi': mxSmi,
  ixsmi,
  tegrastats,
  'mthreads-gmi': mthreadsGmi,
  'kunlun-xpu-smi': kunlunXpuSmi,
  'tt-smi': ttSmi,
} as const satisfies Record<string, Driver>;

export type SourceId = keyof typeof DRIVERS;
export const SOURCE_IDS = Object.keys(DRIVERS) as SourceId[];

export function getDriver(id: string): Driver | undefined {
  return (DRIVERS as Record<string, Driver>)[id];
}
