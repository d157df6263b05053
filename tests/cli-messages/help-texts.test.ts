// --help texts that left out a default or said less than the flag does (README audit, code problem 12): slurm's
// and stamp's --kind defaults (taken from the constants the commands use), and --quiet, which hides progress but
// not warnings, in run and serve.
import { describe, it, expect } from 'vitest';
import { slurm, DEFAULT_KIND as SLURM_KIND } from '../../harness/commands/slurm.js';
import { stamp } from '../../harness/commands/stamp.js';
import { k8s } from '../../harness/commands/k8s.js';
import { run } from '../../harness/commands/run.js';
import { serve } from '../../harness/commands/serve.js';
import { join } from 'node:path';
import { captureIO } from '../helpers/io.js';
import { tempDir, writeConstantTrace, writeWindowWorkload } from '../helpers/cli.js';

async function help(cmd: typeof run): Promise<string> {
  const { io, out } = captureIO();
  expect(await cmd.run(['--help'], io)).toBe(0);
  return out();
}

/** The help line that documents a flag: the first naming it after the synopsis (whose first line names them all). */
function lineOf(text: string, flag: string): string {
  return text.split('\n').slice(2).find((l) => new RegExp(`\\s${flag}\\b`).test(l)) ?? '';
}

describe('--kind shows its default', () => {
  it('slurm: train, as k8s says', async () => {
    expect(SLURM_KIND).toBe('train');
    expect(lineOf(await help(slurm), '--kind')).toMatch(/\(default train\)/);
    expect(lineOf(await help(k8s), '--kind')).toMatch(/\(default train\)/);
  });

  it('stamp: other, and every stamp flag is described', async () => {
    const text = await help(stamp);
    expect(lineOf(text, '--kind')).toMatch(/\(default other\)/);
    for (const flag of ['--dir', '--repetition', '--rank', '--kind', '--name', '--idle']) expect(text, flag).toMatch(new RegExp(`^  ${flag} `, 'm'));
    // numbered from 0 there, unlike the progress lines: said where the flag is described
    expect(lineOf(text, '--repetition')).toMatch(/from 0/);
  });
});

describe('--quiet says that warnings still print', () => {
  it.each([['run', run], ['serve', serve]] as const)('%s', async (_name, cmd) => {
    expect(lineOf(await help(cmd), '--quiet')).toMatch(/warnings still print/);
  });

  it('and it does: a quiet run prints no progress, and still its warnings', async () => {
    const dir = await tempDir('wb-msg-');
    const trace = await writeConstantTrace(dir, 100, 5);
    const { io, out, err } = captureIO();
    // --idle 0 is always warned (NO_IDLE_BASELINE)
    const code = await run.run(['--workload', 'command', '--set', await writeWindowWorkload(dir, 600, 100), '--source', 'replay', '--source-opt', `file=${trace}`,
      '--idle', '0', '--cooldown', '0', '--repetitions', '1', '--quiet', '--out', join(dir, 'out')], io);
    expect(code, err()).toBe(0);
    expect(err()).not.toMatch(/: start|: inventory|: probe/);
    expect(out()).toMatch(/! NO_IDLE_BASELINE: /);
  });
});
