// `wattbench shard`: one node's sampler in a multi-node run (one per node: srun --overlap --ntasks-per-node=1).
// Samples until stopped and leaves a shard in the shared folder; also waits for all samplers, or asks them to stop.
import { resolve } from 'node:path';
import { writeFile, mkdir } from 'node:fs/promises';
import type { Command } from './command.js';
import { parseFlags, num } from './command.js';
import { EXIT, badInput } from '../../lib/errors.js';
import { checkSourceOptFlags } from '../sources.js';
import { runShard, waitReady } from '../cluster/shard.js';

export const options = {
  dir: { type: 'string' }, source: { type: 'string' }, 'source-opt': { type: 'string', multiple: true }, interval: { type: 'string' },
  nodes: { type: 'string' }, 'node-index': { type: 'string' }, 'node-name': { type: 'string' }, reference: { type: 'boolean' },
  'clock-bind': { type: 'string' }, 'clock-port': { type: 'string' }, 'clock-host': { type: 'string' }, 'clock-server': { type: 'string' },
  duration: { type: 'string' }, 'wait-ready': { type: 'boolean' }, timeout: { type: 'string' }, stop: { type: 'boolean' }, quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usage = `wattbench shard --dir DIR [--source NAME] [--source-opt K=V] [--interval MS] [--nodes N] [options]
wattbench shard --wait-ready --dir DIR --nodes N [--timeout S]
wattbench shard --stop --dir DIR

One node's sampler in a multi-node run: samples the power source until stopped (SIGTERM/SIGINT, a file DIR/stop
or DIR/stop-<node>, or --duration) and writes DIR/shard-<node>.json with DIR/shard-<node>.samples.jsonl. Node 0
(SLURM_NODEID, JOB_COMPLETION_INDEX) serves the reference clock over UDP and writes DIR/clock.json; the others
measure their clock offset against it at start and end. \`wattbench merge DIR\` turns the shards into one result.

  --nodes N              nodes in the job (default SLURM_JOB_NUM_NODES); node 0 waits for all shards before it stops
  --node-index I         this node's index (default SLURM_NODEID / JOB_COMPLETION_INDEX / 0)
  --node-name NAME       this node's name (default SLURMD_NODENAME / host name)
  --reference            serve the reference clock here (default: node 0)
  --clock-bind ADDR      address for the time server (default: every interface; loopback for --nodes 1)
  --clock-port P         UDP port for the time server, 0..65535 (default 0: any free port, written to clock.json)
  --clock-host NAME      name the other nodes reach the reference by (default: the node name)
  --clock-server H:P     the reference's time server, instead of DIR/clock.json
  --duration S           stop after S seconds
  --wait-ready           wait until --nodes samplers are up (exit 2 after --timeout S, default 120)
  --stop                 ask every sampler in DIR to stop
  --quiet                no progress lines on stderr`;

export const shard: Command = {
  name: 'shard', summary: 'one node\'s sampler in a multi-node run (Slurm, Kubernetes)', usage,
  async run(argv, io) {
    const { values: f, positionals } = parseFlags(argv, options, 'shard');
    if (f.help) { io.stdout.write(usage + '\n'); return EXIT.OK; }
    if (positionals.length) throw badInput('BAD_FLAG', `shard takes no arguments, got '${positionals[0]}'`, 'give everything as flags (see `wattbench shard --help`)');
    if (!f.dir) throw badInput('BAD_FLAG', 'shard needs --dir DIR (a folder every node of the job shares)', 'e.g. --dir "$SLURM_SUBMIT_DIR/wattbench-$SLURM_JOB_ID"');
    const dir = resolve(f.dir);
    const nodes = num(f.nodes, '--nodes', { integer: true, min: 1 });
    if (f.stop) { await mkdir(dir, { recursive: true }); await writeFile(`${dir}/stop`, ''); return EXIT.OK; }
    if (f['wait-ready']) {
      if (nodes === undefined) throw badInput('BAD_FLAG', '--wait-ready needs --nodes N', 'pass --nodes "$SLURM_JOB_NUM_NODES"');
      await waitReady(dir, nodes, num(f.timeout, '--timeout', { min: 0, exclusiveMin: true }) ?? 120, io.signal);
      return EXIT.OK;
    }
    const { common, scoped } = checkSourceOptFlags(f.source, f['source-opt']);
    if (f['clock-server'] && !/^.+:\d+$/.test(f['clock-server'])) throw badInput('BAD_FLAG', `--clock-server '${f['clock-server']}' is not HOST:PORT`, 'e.g. --clock-server job-0.job-clock:7379');
    const log = f.quiet ? () => {} : (l: string) => io.stderr.write(`wattbench shard: ${l}\n`);
    const idx = num(f['node-index'], '--node-index', { integer: true, min: 0 });
    await runShard({
      dir, sourceId: f.source, sourceOptions: Object.assign({}, common, ...scoped.values()) as Record<string, string>,
      intervalMs: num(f.interval, '--interval', { min: 0, exclusiveMin: true }),
      node: { ...(idx !== undefined ? { index: idx } : {}), ...(f['node-name'] ? { name: f['node-name'] } : {}) },
      nodes, reference: f.reference ? true : undefined,
      clockBind: f['clock-bind'], clockPort: num(f['clock-port'], '--clock-port', { integer: true, min: 0, max: 65535, example: 7379 }), clockHost: f['clock-host'], clockServer: f['clock-server'],
      durationS: num(f.duration, '--duration', { min: 0, exclusiveMin: true }),
      env: io.env, signal: io.signal, log,
    });
    return EXIT.OK;
  },
};
