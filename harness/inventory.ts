// Step 1 of a run: what machine and what software produced the figures.
import si from 'systeminformation';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Host } from '../results/types.gen.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export async function toolVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** The commit of the wattbench checkout, read from .git without spawning git. */
export async function gitCommit(root = ROOT): Promise<string | undefined> {
  try {
    const head = (await readFile(join(root, '.git', 'HEAD'), 'utf8')).trim();
    if (/^[0-9a-f]{40}$/.test(head)) return head;
    const ref = /^ref: (.+)$/.exec(head)?.[1];
    if (!ref) return undefined;
    try { return (await readFile(join(root, '.git', ref), 'utf8')).trim(); } catch { /* packed */ }
    const packed = await readFile(join(root, '.git', 'packed-refs'), 'utf8');
    return packed.split('\n').find((l) => l.endsWith(` ${ref}`))?.split(' ')[0];
  } catch {
    return undefined;
  }
}

export async function hostFacts(recordHostname: boolean): Promise<Host> {
  const [cpu, mem, os] = await Promise.all([si.cpu(), si.mem(), si.osInfo()]);
  const host: Host = {
    cpuModel: `${cpu.manufacturer} ${cpu.brand}`.trim() || 'unknown',
    cpuCores: cpu.physicalCores || cpu.cores,
    cpuThreads: cpu.cores,
    memoryMiB: Math.round(mem.total / 1048576),
    os: `${os.distro} ${os.release}`.trim() || os.platform,
    kernel: os.kernel,
    arch: os.arch,
  };
  if (recordHostname) host.hostname = os.hostname;
  return host;
}
