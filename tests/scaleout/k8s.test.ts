// The Kubernetes manifest generator: the documents parse, the Indexed Job asks for one pod per node with the right
// accelerator resource, and the pod script itself runs — two "pods" as local processes (JOB_COMPLETION_INDEX 0
// and 1, the shared volume a temp folder, the pod-0 DNS name pointed at 127.0.0.1) produce one merged result.
import { describe, it, expect } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { execa } from 'execa';
import { join } from 'node:path';
import { writeFile, readdir } from 'node:fs/promises';
import { BIN, tempDir } from '../helpers/cli.js';
import { k8s } from '../../harness/commands/k8s.js';
import type { CommandIO } from '../../harness/commands/command.js';
import { WattbenchError } from '../../lib/errors.js';
import { loadResult } from '../../results/io.js';

/** The command in-process (the CLI's own dispatch is covered by the pod-script test below): fast on a loaded machine. */
async function k8sCli(argv: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  let stdout = '', stderr = '';
  const io = { stdout: { write: (s: string) => { stdout += s; return true; } }, stderr: { write: (s: string) => { stderr += s; return true; } }, env: process.env, signal: new AbortController().signal } as unknown as CommandIO;
  try { return { exitCode: await k8s.run(argv, io), stdout, stderr }; } catch (err) {
    if (err instanceof WattbenchError) return { exitCode: err.exit, stdout, stderr: stderr + err.describe() + '\n' };
    throw err;
  }
}

async function manifests(args: string[]) {
  const r = await k8sCli(args);
  expect(r.exitCode, r.stderr).toBe(0);
  const docs = parseAllDocuments(r.stdout).map((d) => { expect(d.errors).toEqual([]); return d.toJS(); });
  const byKind = Object.fromEntries(docs.map((d: any) => [d.kind, d]));
  return { docs, byKind, text: r.stdout };
}

describe('wattbench k8s', () => {
  it.each([['nvidia', 'nvidia.com/gpu'], ['amd', 'amd.com/gpu'], ['ascend', 'huawei.com/Ascend910']])('%s: an Indexed Job, one pod per node, requesting %s', async (acc, resource) => {
    const { docs, byKind } = await manifests(['--image', 'registry.example/train:1', '--nodes', '4', '--accelerator', acc, '--per-node', '8', '--name', 'llm-bench', '--namespace', 'ml', '--source', 'prometheus', '--source-opt', 'url=http://prometheus.monitoring:9090', '--', 'torchrun', '--nnodes', '4', '--nproc-per-node', '8', 'train.py']);
    expect(docs.map((d: any) => d.kind)).toEqual(['PersistentVolumeClaim', 'Service', 'Job']);
    const job = byKind.Job;
    expect(job.apiVersion).toBe('batch/v1');
    expect(job.metadata).toMatchObject({ name: 'llm-bench', namespace: 'ml' });
    expect(job.spec).toMatchObject({ completionMode: 'Indexed', completions: 4, parallelism: 4, backoffLimit: 0 });
    const pod = job.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.subdomain).toBe(byKind.Service.metadata.name);
    expect(byKind.Service.spec.clusterIP).toBe('None');
    expect(byKind.Service.spec.selector).toEqual({ 'wattbench/job': 'llm-bench' });
    expect(job.spec.template.metadata.labels['wattbench/job']).toBe('llm-bench');
    // one pod per node
    const anti = pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0];
    expect(anti.topologyKey).toBe('kubernetes.io/hostname');
    expect(anti.labelSelector.matchLabels).toEqual({ 'wattbench/job': 'llm-bench' });
    const c = pod.containers[0];
    expect(c.image).toBe('registry.example/train:1');
    expect(c.resources.limits).toEqual({ [resource]: 8 });
    expect(c.resources.requests).toEqual({ [resource]: 8 });
    expect(Object.keys(c.resources.limits)).toHaveLength(1);
    // the same shard → stamp → merge path as Slurm
    const script: string = c.command[2];
    expect(c.command.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(script).toMatch(/wattbench shard --dir "\$WB_DIR" --nodes "\$NODES" --clock-host llm-bench-0\.llm-bench-clock .*--source prometheus --source-opt url=http:\/\/prometheus\.monitoring:9090/);
    expect(script).toMatch(/--clock-server llm-bench-0\.llm-bench-clock:7379/);
    expect(script).toMatch(/wattbench stamp --dir "\$WB_DIR" --repetition "\$REP" --rank "\$I" --kind train -- torchrun --nnodes 4 --nproc-per-node 8 train\.py/);
    expect(script).toMatch(/wattbench merge "\$WB_DIR" --out "\$WB_DIR\/result.json" --max-skew-ms 400/);
    expect(pod.volumes[0].persistentVolumeClaim.claimName).toBe(byKind.PersistentVolumeClaim.metadata.name);
    expect(byKind.PersistentVolumeClaim.spec.accessModes).toEqual(['ReadWriteMany']);
    expect(c.volumeMounts[0].mountPath).toBe('/wattbench');
    const env = c.env;
    expect(env.map((e: any) => e.name)).toEqual(expect.arrayContaining(['JOB_NAME_UID', 'WATTBENCH_NODES', 'MASTER_ADDR']));
    expect(c.ports).toEqual([{ name: 'clock', containerPort: 7379, protocol: 'UDP' }]);
  });

  it('an existing claim is used as given; bad input exits 2 with the choices', async () => {
    const { docs, byKind } = await manifests(['--image', 'img', '--nodes', '2', '--accelerator', 'nvidia', '--pvc', 'team-rwx', '--', 'python', 'serve.py']);
    expect(docs.map((d: any) => d.kind)).toEqual(['Service', 'Job']);
    expect(byKind.Job.spec.template.spec.volumes[0].persistentVolumeClaim.claimName).toBe('team-rwx');
    const bad = await k8sCli(['--image', 'img', '--nodes', '2', '--accelerator', 'tpu', '--', 'x']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--accelerator 'tpu' is not one of nvidia, amd, ascend/);
    expect((await k8sCli(['--nodes', '2', '--accelerator', 'amd', '--', 'x'])).stderr).toMatch(/needs --image/);
    expect((await k8sCli(['--image', 'i', '--nodes', '2', '--accelerator', 'amd'])).stderr).toMatch(/program to run after --/);
    expect((await k8sCli(['--image', 'i', '--nodes', '2', '--accelerator', 'amd', '--name', 'Bad_Name', '--', 'x'])).exitCode).toBe(2);
  });

  it('the pod script runs: two local "pods" leave two shards and pod 0 merges them', async () => {
    const { byKind } = await manifests(['--image', 'img', '--nodes', '2', '--accelerator', 'nvidia', '--name', 'wb', '--source', 'replay', '--interval', '100', '--idle', '1', '--wattbench', BIN, '--', process.execPath, 'WORKLOAD']);
    const dir = await tempDir('wb-k8s-');
    await writeFile(join(dir, 'trace.csv'), 't_s,power_w\n0,120\n0.1,120\n');
    await writeFile(join(dir, 'wl.mjs'), `const e = (o) => console.log(JSON.stringify(o));
e({ event: 'window_start' }); await new Promise((r) => setTimeout(r, 2500)); e({ event: 'tokens', tokens: 500 }); e({ event: 'window_end' });
`);
    // stand-ins for what Kubernetes provides: the volume, the pod-0 DNS name, the downward-API variables
    const script = (byKind.Job.spec.template.spec.containers[0].command[2] as string)
      .replaceAll('/wattbench/', `${dir}/vol/`)
      .replaceAll('wb-0.wb-clock', '127.0.0.1')
      .replaceAll('--clock-bind 0.0.0.0', '--clock-bind 127.0.0.1')
      .replaceAll('--source replay', `--source replay --source-opt file=${join(dir, 'trace.csv')}`)
      .replaceAll('WORKLOAD', join(dir, 'wl.mjs'));
    const pods = [0, 1].map((i) => execa('/bin/sh', ['-c', script], { env: { JOB_COMPLETION_INDEX: String(i), JOB_NAME_UID: 'uid-1', HOSTNAME: `wb-${i}`, WATTBENCH_NODES: '2', WATTBENCH_JOB_ID: 'uid-1', CI: '1' }, reject: false, timeout: 120_000 }));
    const done = await Promise.all(pods);
    for (const d of done) expect(d.exitCode, `${d.stdout}\n${d.stderr}`).toBe(0);
    const vol = join(dir, 'vol', 'uid-1');
    expect((await readdir(vol)).filter((f) => /^shard-\d\.json$/.test(f)).sort()).toEqual(['shard-0.json', 'shard-1.json']);
    const loaded = await loadResult(join(vol, 'result.json'));
    expect(loaded.state, JSON.stringify(loaded)).toBe('ok');
    if (loaded.state !== 'ok') return;
    expect(loaded.result.cluster).toMatchObject({ scheduler: 'kubernetes', jobId: 'uid-1', nodeCount: 2, eventsNode: 0 });
    const rep = loaded.result.repetitions[0]!;
    expect(rep.tokens!.total).toBe(500);
    expect(rep.figures!.energyJ / rep.window!.durationS).toBeCloseTo(240, 3);
  }, 150_000);
});
