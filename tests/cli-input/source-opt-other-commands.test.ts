// sample, shard, slurm and k8s check --source-opt like run and serve: a key the source does not take, or K=V with no
// --source, is exit 2 at once (for slurm and k8s: when the script is written, not when the job starts).
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('--source-opt on the other commands', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['sample', ['sample', '--duration', '0.2', '--source', 'estimate', '--source-opt', 'tdpw=300'], /power source 'estimate' has no option 'tdpw'.*estimate takes: tdp-w/],
    ['sample', ['sample', '--duration', '0.2', '--source-opt', 'file=x.csv'], /given without --source/],
    ['shard', ['shard', '--dir', '/tmp/wb-never', '--source', 'estimate', '--source-opt', 'bogus=1'], /has no option 'bogus'/],
    ['slurm', ['slurm', '--nodes', '2', '--source', 'estimate', '--source-opt', 'bogus=1', '--', 'python3', 't.py'], /has no option 'bogus'/],
    ['k8s', ['k8s', '--image', 'img:1', '--nodes', '2', '--accelerator', 'nvidia', '--source-opt', 'url=http://x', '--', 'python3', 't.py'], /given without --source/],
  ];
  for (const [cmd, args, re] of cases) {
    it(`${cmd}: ${args.slice(-3).join(' ')}`, async () => {
      const r = await runCli(args);
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toMatch(re);
    });
  }
});
