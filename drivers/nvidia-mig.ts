// NVIDIA MIG, shared by the NVIDIA power sources (nvidia-smi, nvml): which device string the workload is given.
// Not a driver (it is not registered); the drivers that read MIG facts their own way (`nvidia-smi -L`, NVML's MIG
// calls) hand them here in one shape, so both sources decide the same way.
// A GPU in MIG mode is not a CUDA device: CUDA enumerates its slices, a process is pointed at one by its MIG UUID
// (CUDA_VISIBLE_DEVICES=MIG-<uuid>; drivers < 470 list MIG-GPU-<uuid>/<gi>/<ci>, used as listed), and one CUDA
// process sees only one slice. The power sensor stays the board's, so the device stays the physical GPU; its
// `partition` names the slice the workload ran on.

import type { WorkloadVisibility } from './driver.js';
import type { Device } from '../results/types.gen.js';
import { badInput, WattbenchError } from '../lib/errors.js';

/** One MIG slice (a GPU instance with its compute instance), as `nvidia-smi -L` or NVML lists it. */
export interface NvMigSlice { profile: string; device: number; uuid?: string }

/** A GPU as the visibility decision needs it: its index and, when it is in MIG mode, its slices. */
export interface NvMigPlan { index: number; mig?: NvMigSlice[] }

export type MigChoice = { uuid: string } | { gpu: number; device: number };

/** `--source-opt mig=`: a MIG UUID as `nvidia-smi -L` prints it, or `<gpu>:<mig device>` (0:1). */
export function parseMigChoice(value: string): MigChoice | WattbenchError {
  const v = value.trim();
  if (/^MIG-\S+$/i.test(v)) return { uuid: v };
  const m = /^(\d+):(\d+)$/.exec(v);
  if (m) return { gpu: Number(m[1]), device: Number(m[2]) };
  return badInput('MIG_BAD_OPTION', `--source-opt mig=${value} names no MIG slice`, 'give the MIG UUID that `nvidia-smi -L` prints (mig=MIG-…) or GPU:DEVICE (mig=0:1, device as in `nvidia-smi -L`)');
}

const sliceName = (gpu: number, s: NvMigSlice) => `${gpu}:${s.device} ${s.profile}${s.uuid ? ` ${s.uuid}` : ''}`;

/**
 * CUDA_VISIBLE_DEVICES for the selected GPUs. Without a GPU in MIG mode: their indices, as before (CUDA_DEVICE_ORDER
 * makes them agree with nvidia-smi's). With one, selected alone: its slice's MIG UUID — the one `mig` picks, else
 * its first. Two GPUs in MIG mode, a MIG GPU beside any other GPU, a slice that is not there or a slice without a
 * UUID are bad input (exit 2).
 */
export function nvidiaVisibility(devices: Device[], plans: NvMigPlan[], migOption?: string): WorkloadVisibility | WattbenchError {
  const choice = migOption?.trim() ? parseMigChoice(migOption) : undefined;
  if (choice instanceof WattbenchError) return choice;
  const planOf = (d: Device) => plans.find((p) => p.index === d.index);
  const migGpus = devices.filter((d) => planOf(d)?.mig);
  const selected = devices.map((d) => d.index).join(', ');
  // where the option's slice is, among every GPU the probe saw (to say "select GPU 3" rather than "no such slice")
  let wanted: { gpu: number; slice: NvMigSlice } | undefined;
  if (choice) {
    for (const p of plans) {
      const s = p.mig?.find((x) => ('uuid' in choice ? x.uuid?.toLowerCase() === choice.uuid.toLowerCase() : p.index === choice.gpu && x.device === choice.device));
      if (s) { wanted = { gpu: p.index, slice: s }; break; }
    }
    const all = plans.flatMap((p) => (p.mig ?? []).map((s) => sliceName(p.index, s)));
    if (!wanted) return badInput('MIG_NO_SUCH_SLICE', `no MIG slice ${migOption!.trim()} on this machine (${all.length ? `slices: ${all.join('; ')}` : 'no GPU is in MIG mode'})`, all.length ? 'pick one of those with --source-opt mig=GPU:DEVICE or mig=MIG-UUID (`nvidia-smi -L` lists them)' : 'leave out --source-opt mig=');
    if (!devices.some((d) => d.index === wanted!.gpu)) return badInput('MIG_NO_SUCH_SLICE', `MIG slice ${migOption!.trim()} is on GPU ${wanted.gpu}, which is not selected (selected: ${selected})`, `select it with --devices ${wanted.gpu}, or pick a slice of a selected GPU`);
  }
  if (!migGpus.length) {
    return { env: { CUDA_VISIBLE_DEVICES: devices.map((d) => String(d.index ?? 0)).join(',') } };
  }
  if (migGpus.length > 1) {
    return badInput('MIG_SEVERAL_GPUS', `GPUs ${migGpus.map((d) => d.index).join(', ')} are in MIG mode, and one CUDA process sees only one MIG slice`, `select one of them with --devices${wanted ? ` ${wanted.gpu}` : ' N'} (and its slice with --source-opt mig=GPU:DEVICE; default its first)`);
  }
  const gpu = migGpus[0]!;
  // CUDA cannot use a MIG slice together with another device in one process (NVIDIA's k8s device plugin 0.7.0 notes:
  // a container given a whole GPU and a MIG device sees only one of them)
  if (devices.length > 1) return badInput('MIG_WITH_OTHER_GPUS', `GPU ${gpu.index} is in MIG mode and GPUs ${devices.filter((d) => d !== gpu).map((d) => d.index).join(', ')} are selected with it: one CUDA process cannot use a MIG slice together with another device`, `select the MIG GPU alone (--devices ${gpu.index}) or only GPUs not in MIG mode`);
  const slices = planOf(gpu)!.mig!;
  const slice = wanted?.slice ?? slices[0];
  if (!slice) return badInput('MIG_NO_SLICES', `GPU ${gpu.index} is in MIG mode but \`nvidia-smi -L\` lists no MIG slice on it: a CUDA workload has nothing to run on`, `create a GPU and compute instance (nvidia-smi mig -i ${gpu.index} -cgi PROFILE -C), disable MIG (nvidia-smi -i ${gpu.index} -mig 0), or select another GPU with --devices`);
  if (!slice.uuid) return badInput('MIG_NO_SLICES', `\`nvidia-smi -L\` prints no UUID for MIG slice ${sliceName(gpu.index!, slice)}, so CUDA cannot be pointed at it`, 'update the NVIDIA driver, or select another GPU with --devices');
  const value = slice.uuid;
  // the slice first: it is what the workload ran on; the board's other slices after it while they fit
  const head = `MIG slice ${sliceName(gpu.index!, slice)}`;
  const whole = `${head} (of ${slices.map((s) => s.profile).join(', ')})`;
  const partition = (whole.length <= 128 ? whole : head).slice(0, 128);
  return { env: { CUDA_VISIBLE_DEVICES: value }, devices: devices.map((d) => (d === gpu ? { ...d, partition } : d)) };
}

