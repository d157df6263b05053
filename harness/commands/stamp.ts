// `wattbench stamp -- CMD`: run the user's program inside their own srun/torchrun line; on rank 0, record its
// protocol events with this node's wall time in the shared folder. `--idle S` records the idle baseline instead.
import { resolve } from 'node:path';
import type { Command } from './command.js';
import { parseFlags, num, kindFlag } from './command.js';
import { WORKLOAD_KINDS, type WorkloadKind } from '../../workloads/workload.js';
import { EXIT, badInput } from '../../lib/errors.js';
import { stampCommand, stampIdle, rankOf } from '../cluster/events.js';

const options = {
  dir: { type: 'string' }, repetition: { type: 'string' }, rank: { type: 'string' }, kind: { type: 'string' }, name: { type: 'string' },
  idle: { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

/** A program run by hand behind stamp counts as 'other' unless said (slurm and k8s pass their own --kind). */
const DEFAULT_KIND: WorkloadKind = 'other';

const usage = `wattbench stamp --dir DIR [--repetition N] [--rank R] [--kind ${WORKLOAD_KINDS.join('|')}] [--name NAME] -- PROGRAM [ARGS...]
wattbench stamp --dir DIR --idle S

Runs PROGRAM (the per-task program of your srun line, or torchrun), passing its output through and its exit code
back. On rank 0 (--rank, else SLURM_PROCID, RANK, JOB_COMPLETION_INDEX) its event-protocol lines
(workloads/PROTOCOL.md) are written with this node's time to DIR/events-r<N>.jsonl; \`wattbench merge\` takes
the measured window from them. With --idle S: wait S seconds and record that as the idle baseline.

  --dir DIR              the shared folder the samplers write to (the same as wattbench shard's)
  --repetition N         which repetition this is, counted from 0 (default 0)
  --rank R               this task's rank (default: from the environment, as above)
  --kind K               what the tokens count: ${WORKLOAD_KINDS.join(', ')} (default ${DEFAULT_KIND})
  --name NAME            the run's name in the merged result
  --idle S               record S seconds of idle baseline instead of running a program`;

export const stamp: Command = {
  name: 'stamp', summary: 'run a multi-node workload task; on rank 0, record its events for the merge', usage,
  async run(argv, io) {
    const { values: f, positionals } = parseFlags(argv, options, 'stamp');
    if (f.help) { io.stdout.write(usage + '\n'); return EXIT.OK; }
    if (!f.dir) throw badInput('BAD_FLAG', 'stamp needs --dir DIR (the shared folder the samplers write to)', 'pass the same --dir as wattbench shard');
    const dir = resolve(f.dir);
    if (f.idle !== undefined) {
      if (positionals.length) throw badInput('BAD_FLAG', '--idle takes no program', 'run the idle baseline and the workload as two stamp commands');
      await stampIdle(dir, num(f.idle, '--idle', { min: 0 })!, io.env, io.signal);
      return io.signal.aborted ? EXIT.INTERRUPTED : EXIT.OK;
    }
    if (!positionals.length) throw badInput('BAD_FLAG', 'stamp needs the program to run after --', 'e.g. wattbench stamp --dir "$WB_DIR" -- python train.py');
    const kind = kindFlag(f.kind, DEFAULT_KIND, 'train counts steps × batch × sequence; infer and serve count output tokens');
    return stampCommand({
      dir, command: positionals, repetition: num(f.repetition, '--repetition', { integer: true, min: 0 }) ?? 0,
      rank: rankOf(io.env, num(f.rank, '--rank', { integer: true, min: 0 })), kind, ...(f.name ? { name: f.name } : {}),
      env: io.env, signal: io.signal, stdout: io.stdout, stderr: io.stderr,
    });
  },
};
