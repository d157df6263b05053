// `wattbench merge SHARDS... --out FILE`: the shards of one multi-node job → one validated result.
import type { Command } from './command.js';
import { parseFlags, num } from './command.js';
import { EXIT, badInput } from '../../lib/errors.js';
import { mergeToFile, DEFAULT_MAX_SKEW_MS } from '../cluster/merge.js';
import { toolVersion, gitCommit } from '../inventory.js';
import { printSummary } from '../summary.js';
import { checkRunId } from './run.js';

const options = {
  out: { type: 'string' }, 'max-skew-ms': { type: 'string' }, 'allow-unmeasured-clock': { type: 'boolean' }, 'events-dir': { type: 'string' },
  'record-hostname': { type: 'boolean' }, 'run-id': { type: 'string' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

const usage = `wattbench merge SHARDS... --out FILE [--max-skew-ms MS] [--record-hostname] [--run-id ID]

Merge the shards of one multi-node job (shard-N.json files, or the job's shared folder) into one validated
result: every node's samples and rank 0's events (events-rN.jsonl) on the reference node's clock, the energy
of each window summed over every device of every node, per-node clock offsets in result.cluster.

  --out FILE                 result file to write; the raw samples go beside it (FILE.samples.jsonl)
  --max-skew-ms MS           refuse (exit 2) when a node's clock is further than this off the reference (default ${DEFAULT_MAX_SKEW_MS})
  --allow-unmeasured-clock   accept nodes that could not measure their offset, as if in sync (recorded as a warning)
  --events-dir DIR           where events-rN.jsonl and idle.json are (default: the shards' folder)
  --record-hostname          put node names in the result (left out by default)`;

export const merge: Command = {
  name: 'merge', summary: 'merge the shards of a multi-node job into one result', usage,
  async run(argv, io) {
    const { values: f, positionals } = parseFlags(argv, options, 'merge');
    if (f.help) { io.stdout.write(usage + '\n'); return EXIT.OK; }
    if (!positionals.length) throw badInput('BAD_FLAG', 'merge needs the shards (files or the shared folder)', 'e.g. wattbench merge "$WB_DIR" --out result.json');
    if (!f.out) throw badInput('BAD_FLAG', 'merge needs --out FILE', 'e.g. --out result.json');
    checkRunId(f['run-id']);
    const [version, commit] = await Promise.all([toolVersion(), gitCommit()]);
    const m = await mergeToFile(positionals, f.out, {
      maxSkewMs: num(f['max-skew-ms'], '--max-skew-ms', { min: 0 }) ?? DEFAULT_MAX_SKEW_MS,
      allowUnmeasuredClock: Boolean(f['allow-unmeasured-clock']), recordHostname: Boolean(f['record-hostname']),
      ...(f['run-id'] ? { runId: f['run-id'] } : {}), tool: { version, ...(commit ? { gitCommit: commit } : {}) },
    }, f['events-dir']);
    if (!f.quiet) {
      printSummary([{ result: m.result, resultPath: m.resultPath, samplesPath: m.samplesPath }], io.stdout);
      const c = m.result.cluster!;
      io.stdout.write(`  ${c.nodeCount} node(s), largest clock offset ${c.skewMs.toFixed(1)} ms (limit ${c.maxSkewMs} ms)\n`);
    }
    return m.result.status === 'ok' ? EXIT.OK : EXIT.RUN_FAILED;
  },
};
