// `wattbench slurm -- PROGRAM`: write the sbatch script of a multi-node run (samplers, idle, workload, merge),
// print it, or submit it with --submit.
import { writeFile, chmod } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from './command.js';
import { parseFlags, num, kindFlag } from './command.js';
import { EXIT, badInput } from '../../lib/errors.js';
import { checkSourceOptFlags } from '../sources.js';
import { slurmScript } from '../cluster/slurm.js';
import { DEFAULT_MAX_SKEW_MS } from '../cluster/merge.js';
import { findOnPath, runCommand } from '../../lib/process.js';
import { checkOutputFile } from '../../results/io.js';

export const options = {
  nodes: { type: 'string' }, 'ntasks-per-node': { type: 'string' }, 'gpus-per-node': { type: 'string' }, 'cpus-per-task': { type: 'string' },
  partition: { type: 'string' }, account: { type: 'string' }, time: { type: 'string' }, 'job-name': { type: 'string' }, sbatch: { type: 'string', multiple: true },
  dir: { type: 'string' }, wattbench: { type: 'string' }, source: { type: 'string' }, 'source-opt': { type: 'string', multiple: true }, interval: { type: 'string' },
  idle: { type: 'string' }, cooldown: { type: 'string' }, repetitions: { type: 'string' }, 'max-skew-ms': { type: 'string' }, kind: { type: 'string' }, name: { type: 'string' },
  srun: { type: 'string', multiple: true }, out: { type: 'string' }, 'clock-bind': { type: 'string' }, 'clock-host': { type: 'string' }, 'record-hostname': { type: 'boolean' },
  write: { type: 'string' }, submit: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

/** What the tokens count when --kind is not given: a multi-node job is most often training. */
export const DEFAULT_KIND = 'train';

const usage = `wattbench slurm --nodes N --ntasks-per-node T [options] -- PROGRAM [ARGS...]

Write the sbatch script of a multi-node measurement and print it (--write FILE to save it, --submit to sbatch it).
The script starts one sampler per node (srun --overlap --ntasks-per-node=1 wattbench shard), takes an idle
baseline, runs PROGRAM under srun once per repetition with \`wattbench stamp\` in front of it (rank 0's events set the
window), stops the samplers and merges their shards into one validated result (wattbench merge).

  --nodes N --ntasks-per-node T   the allocation (T tasks of PROGRAM per node; 1 with torchrun)
  --gpus-per-node G               GPUs per node (also given to the samplers, which share them with --overlap)
  --partition P --account A --time T --job-name NAME --cpus-per-task C   the usual #SBATCH settings
  --sbatch OPT                    any other #SBATCH line, repeatable (e.g. --sbatch=--constraint=h100)
  --srun OPT                      extra srun option for the workload step, repeatable
  --dir DIR                       shared folder for the shards (default $SLURM_SUBMIT_DIR/wattbench-$SLURM_JOB_ID)
  --source NAME --source-opt K=V --interval MS   the power source on every node
  --idle S (default 10) --cooldown S (default 2) --repetitions N (default 1)
  --kind train|infer|serve|other  what the tokens count (default ${DEFAULT_KIND})
  --name NAME                     the run's name in the result (given to wattbench stamp)
  --out FILE                      merged result (default $WB_DIR/result.json)
  --max-skew-ms MS                clock skew the merge accepts (default ${DEFAULT_MAX_SKEW_MS})
  --record-hostname               put node names in the merged result (left out by default)
  --clock-host NAME --clock-bind ADDR   how the nodes reach node 0's time server (default: its node name)
  --wattbench CMD                 how nodes run wattbench (default: wattbench; or set WATTBENCH in the job's environment)
  --write FILE --submit           save the script (an existing regular file is replaced) / submit it with sbatch`;

/** Save the script as an executable file; any file-system problem is one exit-2 line, not a stack trace. */
async function writeScript(file: string, script: string): Promise<void> {
  const path = resolve(file);
  const remedy = 'choose another file with --write (in a folder that exists and that you can write)';
  // a FIFO or device node (/dev/null as root) must not be written into or made executable
  await checkOutputFile(path, '--write');
  try {
    await writeFile(path, script);
    await chmod(path, 0o755);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOTDIR' ? 'a part of the path is a file, not a folder' : e.code === 'ENOENT' ? 'its folder does not exist'
      : e.code === 'EACCES' || e.code === 'EPERM' ? 'permission denied' : e.code === 'EISDIR' ? 'it is a folder' : e.message.split('\n')[0];
    throw badInput('OUTPUT_NOT_WRITABLE', `cannot write the script to ${path}: ${why}`, remedy);
  }
}

export const slurm: Command = {
  name: 'slurm', summary: 'write (or submit) the sbatch script of a multi-node measurement', usage,
  async run(argv, io) {
    const { values: f, positionals } = parseFlags(argv, options, 'slurm');
    if (f.help) { io.stdout.write(usage + '\n'); return EXIT.OK; }
    if (!positionals.length) throw badInput('BAD_FLAG', 'slurm needs the program to run after --', 'e.g. wattbench slurm --nodes 2 --ntasks-per-node 4 -- python train.py');
    const nodes = num(f.nodes, '--nodes', { integer: true, min: 1 });
    if (nodes === undefined) throw badInput('BAD_FLAG', 'slurm needs --nodes N', 'e.g. --nodes 2');
    checkSourceOptFlags(f.source, f['source-opt']); // refused here, not when the job starts on the cluster
    const kind = kindFlag(f.kind, DEFAULT_KIND, 'pick what the tokens count');
    const script = slurmScript({
      nodes, ntasksPerNode: num(f['ntasks-per-node'], '--ntasks-per-node', { integer: true, min: 1 }) ?? 1,
      gpusPerNode: num(f['gpus-per-node'], '--gpus-per-node', { integer: true, min: 1 }), cpusPerTask: num(f['cpus-per-task'], '--cpus-per-task', { integer: true, min: 1 }),
      partition: f.partition, account: f.account, time: f.time, jobName: f['job-name'] ?? 'wattbench', sbatch: f.sbatch ?? [],
      dir: f.dir ?? '$SLURM_SUBMIT_DIR/wattbench-$SLURM_JOB_ID', wattbench: f.wattbench ?? 'wattbench',
      source: f.source, sourceOptions: f['source-opt'] ?? [], intervalMs: num(f.interval, '--interval', { min: 0, exclusiveMin: true }),
      idleS: num(f.idle, '--idle', { min: 0 }) ?? 10, cooldownS: num(f.cooldown, '--cooldown', { min: 0 }) ?? 2,
      repetitions: num(f.repetitions, '--repetitions', { integer: true, min: 1 }) ?? 1,
      maxSkewMs: num(f['max-skew-ms'], '--max-skew-ms', { min: 0 }) ?? DEFAULT_MAX_SKEW_MS, kind, name: f.name,
      srunArgs: f.srun ?? [], command: positionals, out: f.out, clockBind: f['clock-bind'], clockHost: f['clock-host'], recordHostname: Boolean(f['record-hostname']),
    });
    if (f.write !== undefined) await writeScript(f.write, script);
    if (!f.submit) { if (f.write === undefined) io.stdout.write(script); return EXIT.OK; }
    const sbatch = await findOnPath('sbatch', io.env.PATH ?? '');
    if (!sbatch) throw badInput('SBATCH_NOT_FOUND', 'sbatch is not on PATH', 'run this on a Slurm login node, or save the script with --write and submit it there');
    const file = f.write ?? `wattbench-${Date.now()}.sbatch`;
    if (!f.write) await writeScript(file, script);
    const r = await runCommand(sbatch, [file], { env: io.env as Record<string, string>, extendEnv: false, timeoutMs: 60_000 });
    io.stdout.write(r.stdout);
    io.stderr.write(r.stderr);
    if (r.exitCode !== 0) throw badInput('SBATCH_FAILED', `sbatch ${file} failed (code ${r.exitCode}): ${r.stderr.trim().split('\n').pop() ?? ''}`, 'fix the #SBATCH settings (partition, account, time) for your cluster');
    return EXIT.OK;
  },
};
