// The sbatch script generator, without a cluster: the script is valid bash, arranges the steps in order
// (samplers with --overlap, readiness, idle, stamped workload per repetition, stop, merge), and quotes the user's
// program exactly. (tests/scaleout/slurm.test.ts runs it on a real Slurm.)
import { describe, it, expect } from 'vitest';
import { execa } from 'execa';
import { join } from 'node:path';
import { writeFile, mkdir } from 'node:fs/promises';
import { slurmScript, shq, type SlurmScriptOptions } from '../../harness/cluster/slurm.js';
import { waitReady } from '../../harness/cluster/shard.js';
import { nodeIdentity } from '../../harness/cluster/shard.js';
import { rankOf, nodeNameOf } from '../../harness/cluster/events.js';
import { WattbenchError } from '../../lib/errors.js';
import { tempDir, FIXTURES, HAVE_FIXTURES } from '../helpers/cli.js';
import { readFile } from 'node:fs/promises';

const base: SlurmScriptOptions = {
  nodes: 4, ntasksPerNode: 8, gpusPerNode: 8, partition: 'gpu', time: '02:00:00', jobName: 'wattbench', sbatch: ['--exclusive'],
  dir: '$SLURM_SUBMIT_DIR/wattbench-$SLURM_JOB_ID', wattbench: 'wattbench', source: 'prometheus', sourceOptions: ['url=http://prom:9090', 'selector=Hostname="{host}"'],
  idleS: 10, cooldownS: 2, repetitions: 3, maxSkewMs: 400, kind: 'train', srunArgs: ['--cpu-bind=cores'], command: ['python', 'train.py', '--config', 'my cfg.yaml'], recordHostname: false,
};

describe('sbatch script', () => {
  it('is valid bash with the steps in order', async () => {
    const s = slurmScript(base);
    const dir = await tempDir('wb-sbatch-');
    await writeFile(join(dir, 'job.sh'), s);
    const syntax = await execa('bash', ['-n', join(dir, 'job.sh')], { reject: false });
    expect(syntax.exitCode, syntax.stderr).toBe(0);
    for (const l of ['--nodes=4', '--ntasks-per-node=8', '--gpus-per-node=8', '--partition=gpu', '--time=02:00:00', '--exclusive']) expect(s).toContain(`#SBATCH ${l}\n`);
    const order = [
      /srun --overlap --nodes="\$NODES" --ntasks="\$NODES" --ntasks-per-node=1 --kill-on-bad-exit=0 --gpus-per-node=8/,
      /shard --dir "\$WB_DIR" --nodes "\$NODES" --source prometheus --source-opt url=http:\/\/prom:9090 --source-opt 'selector=Hostname="\{host\}"' &/,
      /trap 'touch "\$WB_DIR\/stop"' EXIT/,
      /shard --wait-ready --dir "\$WB_DIR" --nodes "\$NODES"/,
      /stamp --dir "\$WB_DIR" --idle 10/,
      /for REP in \$\(seq 0 2\)/,
      /srun --ntasks-per-node=8 --cpu-bind=cores/,
      /stamp --dir "\$WB_DIR" --repetition "\$REP" --kind train -- python train.py --config 'my cfg.yaml' \|\| STATUS=\$\?/,
      /sleep 2/,
      /touch "\$WB_DIR\/stop"\nwait "\$SAMPLERS"/,
      /merge "\$WB_DIR" --out "\$WB_DIR\/result.json" --max-skew-ms 400/,
    ];
    let at = 0;
    for (const re of order) {
      const m = re.exec(s.slice(at));
      expect(m, `${re} after offset ${at}:\n${s}`).not.toBeNull();
      at += m!.index + m![0].length;
    }
    expect(s).toContain('WB_DIR=${WB_DIR:-"$SLURM_SUBMIT_DIR/wattbench-$SLURM_JOB_ID"}');
  });

  it('quotes any argument so bash gives the program exactly what was asked', async () => {
    const args = ['plain', 'with space', "it's", '$HOME', '`uname`', 'a"b', '*', ''];
    const r = await execa('bash', ['-c', `printf '%s\\n' ${args.map(shq).join(' ')}`]);
    expect(r.stdout.split('\n')).toEqual(args);
  });

  it('without GPUs or idle, and with a fixed output file', () => {
    const s = slurmScript({ ...base, gpusPerNode: undefined, idleS: 0, out: '/shared/results/run.json' });
    expect(s).not.toMatch(/gpus-per-node/);
    expect(s).toContain('# (no idle baseline)');
    expect(s).toContain('--out "/shared/results/run.json"');
  });
});

describe('who am I in a job', () => {
  it.skipIf(!HAVE_FIXTURES)('reads node index, name, node count and job from a real Slurm environment capture', async () => {
    const env = Object.fromEntries((await readFile(join(FIXTURES, 'datacenter', 'slurm__env-grep-SLURM__4-node-job__gist-capture.txt'), 'utf8')).split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(nodeIdentity(env)).toEqual({ index: 0, name: 'gnode10', scheduler: 'slurm', jobId: '200505', jobName: 'test-multi-nodes', nodeCount: 4 });
    expect(rankOf(env)).toBe(0);
    expect(nodeNameOf(env)).toBe('gnode10');
  });
  it('Kubernetes Indexed Job: the completion index and the pod host name', () => {
    expect(nodeIdentity({ JOB_COMPLETION_INDEX: '3', HOSTNAME: 'bench-3', WATTBENCH_NODES: '4', WATTBENCH_JOB_ID: 'u-1' })).toEqual({ index: 3, name: 'bench-3', scheduler: 'kubernetes', jobId: 'u-1', nodeCount: 4 });
    expect(rankOf({ JOB_COMPLETION_INDEX: '3' })).toBe(3);
    expect(rankOf({ SLURM_PROCID: '5', RANK: '0' })).toBe(5);
    expect(rankOf({ SLURM_PROCID: '5' }, 0)).toBe(0);
  });
  it('waiting for samplers times out with exit 2, naming the missing nodes', async () => {
    const dir = await tempDir('wb-ready-');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'ready-0'), 'n1\n');
    await waitReady(dir, 1, 1, new AbortController().signal);
    const err = await waitReady(dir, 3, 0.5, new AbortController().signal).catch((e) => e);
    expect(err).toBeInstanceOf(WattbenchError);
    expect(err.exit).toBe(2);
    expect(err.describe()).toMatch(/SAMPLERS_NOT_READY: only 1 of 3 samplers came up .* \(missing node 1, 2\)/);
  });
});
