// The sbatch script `wattbench slurm` writes. Slurm does the cluster work; the script only arranges, in order:
//   1. one sampler per node:   srun --overlap --ntasks-per-node=1 wattbench shard   (in the background)
//   2. wait until every sampler is up, then the idle baseline (wattbench stamp --idle)
//   3. per repetition, the user's own launch line with `wattbench stamp` in front of the program, so rank 0's
//      events are stamped on rank 0's node; then a cooldown
//   4. stop the samplers (touch DIR/stop), wait for their shards, merge into one validated result
// --overlap lets the sampler step share CPUs, memory and GPUs with the workload's steps instead of holding them.

import { badInput } from '../../lib/errors.js';

export interface SlurmScriptOptions {
  nodes: number;
  ntasksPerNode: number;
  gpusPerNode?: number;
  cpusPerTask?: number;
  partition?: string;
  account?: string;
  time?: string;
  jobName: string;
  /** Extra #SBATCH lines, verbatim (e.g. --constraint=h100). */
  sbatch: string[];
  /** Shared folder for shards; may use $SLURM_JOB_ID. */
  dir: string;
  wattbench: string;
  source?: string;
  sourceOptions: string[];
  intervalMs?: number;
  idleS: number;
  cooldownS: number;
  repetitions: number;
  maxSkewMs: number;
  kind: 'train' | 'infer' | 'serve' | 'other';
  name?: string;
  /** Extra srun options for the workload step. */
  srunArgs: string[];
  /** The user's program (per task): run as `srun ... wattbench stamp -- COMMAND`. */
  command: string[];
  out?: string;
  clockBind?: string;
  /** Name the other nodes reach node 0's time server by (default: its Slurm node name). */
  clockHost?: string;
  recordHostname: boolean;
}

/** Quote one word for bash, unless it is plainly safe. $VAR references are kept live only where we mean them. */
export function shq(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Quote, but keep $SLURM_* / $WB_* variable references expandable (inside double quotes). Any other `$` is
 * escaped, so a value such as `$(cmd)` or `$((…))` stays text instead of running when the job starts.
 */
function dq(s: string): string {
  return `"${s.replace(/(["\\`])/g, '\\$1').replace(/\$(?![A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\})/g, '\\$')}"`;
}

/**
 * The settings that are written into the script as text, with the flag each comes from. A newline (or any other
 * control character) in one of them would end its #SBATCH line or shell word and start a line of its own, so such
 * values are refused; the program's own arguments are exempt, since shq quotes them whole.
 */
const TEXT_SETTINGS: Array<[keyof SlurmScriptOptions, string]> = [
  ['partition', '--partition'], ['account', '--account'], ['time', '--time'], ['jobName', '--job-name'], ['sbatch', '--sbatch'],
  ['dir', '--dir'], ['wattbench', '--wattbench'], ['source', '--source'], ['sourceOptions', '--source-opt'], ['name', '--name'],
  ['srunArgs', '--srun'], ['out', '--out'], ['clockBind', '--clock-bind'], ['clockHost', '--clock-host'],
];

/** Exit 2 (BAD_FLAG) when a setting holds a control character, naming its flag. */
export function checkScriptText(o: SlurmScriptOptions): void {
  for (const [key, flag] of TEXT_SETTINGS) {
    const v = o[key];
    for (const s of Array.isArray(v) ? v : typeof v === 'string' ? [v] : []) {
      const m = /[\x00-\x1f\x7f]/.exec(s);
      if (m) {
        const code = m[0].charCodeAt(0);
        const name = code === 10 ? 'a newline' : code === 13 ? 'a carriage return' : code === 0 ? 'a NUL byte' : `control character 0x${code.toString(16).padStart(2, '0')}`;
        throw badInput('BAD_FLAG', `${flag} '${JSON.stringify(s).slice(1, -1)}' contains ${name}, which would break the sbatch script into extra lines`, `give ${flag} on one line (one --sbatch per #SBATCH setting)`);
      }
    }
  }
}

export function slurmScript(o: SlurmScriptOptions): string {
  checkScriptText(o);
  const L: string[] = [];
  const sb = (s: string) => L.push(`#SBATCH ${s}`);
  L.push('#!/bin/bash');
  sb(`--job-name=${o.jobName}`);
  sb(`--nodes=${o.nodes}`);
  sb(`--ntasks-per-node=${o.ntasksPerNode}`);
  if (o.gpusPerNode) sb(`--gpus-per-node=${o.gpusPerNode}`);
  if (o.cpusPerTask) sb(`--cpus-per-task=${o.cpusPerTask}`);
  if (o.partition) sb(`--partition=${o.partition}`);
  if (o.account) sb(`--account=${o.account}`);
  if (o.time) sb(`--time=${o.time}`);
  for (const x of o.sbatch) sb(x);
  const sourceArgs = [...(o.source ? ['--source', o.source] : []), ...o.sourceOptions.flatMap((kv) => ['--source-opt', kv]), ...(o.intervalMs ? ['--interval', String(o.intervalMs)] : [])];
  L.push(
    '#',
    '# Written by `wattbench slurm`. Measures tokens per joule over all nodes of this job:',
    '#   1. one sampler per node (srun --overlap --ntasks-per-node=1 wattbench shard) writes a shard to $WB_DIR',
    '#   2. idle baseline, then the workload once per repetition; rank 0\'s events are stamped by `wattbench stamp`',
    '#   3. the samplers stop; `wattbench merge` writes one validated result from the shards',
    '# Needs: wattbench on every node (WATTBENCH=... to point at it), $WB_DIR on a filesystem all nodes share,',
    '# and UDP between the nodes (clock offsets are measured against node 0).',
    'set -uo pipefail',
    `WB=(\${WATTBENCH:-${o.wattbench}})`,
    `WB_DIR=\${WB_DIR:-${dq(o.dir)}}`,
    'mkdir -p "$WB_DIR"',
    'NODES=${SLURM_JOB_NUM_NODES:-${SLURM_NNODES:-1}}',
    '',
    '# 1. samplers: one task per node, sharing the allocation with the workload (--overlap)',
    `srun --overlap --nodes="$NODES" --ntasks="$NODES" --ntasks-per-node=1 --kill-on-bad-exit=0${o.gpusPerNode ? ` --gpus-per-node=${o.gpusPerNode}` : ''} \\`,
    `  "\${WB[@]}" shard --dir "$WB_DIR" --nodes "$NODES"${o.clockBind ? ` --clock-bind ${shq(o.clockBind)}` : ''}${o.clockHost ? ` --clock-host ${shq(o.clockHost)}` : ''}${sourceArgs.length ? ' ' + sourceArgs.map(shq).join(' ') : ''} &`,
    'SAMPLERS=$!',
    'trap \'touch "$WB_DIR/stop"\' EXIT   # the samplers stop whatever happens to the workload',
    '"${WB[@]}" shard --wait-ready --dir "$WB_DIR" --nodes "$NODES" --timeout 300 || exit 2',
    '',
    `# 2. idle baseline (${o.idleS} s)`,
    o.idleS > 0 ? `"\${WB[@]}" stamp --dir "$WB_DIR" --idle ${o.idleS}` : '# (no idle baseline)',
    '',
    '# 3. the workload: your launch line, with `wattbench stamp` in front of your program',
    'STATUS=0',
    `for REP in $(seq 0 ${o.repetitions - 1}); do`,
    `  srun --ntasks-per-node=${o.ntasksPerNode}${o.srunArgs.length ? ' ' + o.srunArgs.map(shq).join(' ') : ''} \\`,
    `    "\${WB[@]}" stamp --dir "$WB_DIR" --repetition "$REP" --kind ${o.kind}${o.name ? ` --name ${shq(o.name)}` : ''} -- ${o.command.map(shq).join(' ')} || STATUS=$?`,
    o.cooldownS > 0 ? `  sleep ${o.cooldownS}` : '  :',
    'done',
    '',
    '# 4. stop the samplers, merge their shards (exit 2 if the node clocks disagree beyond the allowed skew)',
    'touch "$WB_DIR/stop"',
    'wait "$SAMPLERS"',
    `"\${WB[@]}" merge "$WB_DIR" --out ${o.out ? dq(o.out) : '"$WB_DIR/result.json"'} --max-skew-ms ${o.maxSkewMs}${o.recordHostname ? ' --record-hostname' : ''}`,
    'MERGE=$?',
    '[ "$MERGE" -ne 0 ] && exit "$MERGE"',
    'exit "$STATUS"',
    '',
  );
  return L.join('\n');
}
