// --quiet is --progress quiet: the two together with another mode disagree and are refused before anything runs.
import { describe, it, expect } from 'vitest';
import { run } from '../../harness/commands/run.js';
import { serve } from '../../harness/commands/serve.js';
import { progressMode } from '../../harness/progress.js';
import { expectBadInput } from '../helpers/expect.js';
import { captureIO, thrown } from '../helpers/io.js';

const CMD = ['--workload', 'command', '--set', 'command=["true"]', '--source', 'estimate', '--idle', '0', '--cooldown', '0', '--repetitions', '1'];
const SERVE = ['--url', 'http://127.0.0.1:9', '--model', 'm', '--concurrency', '1', '--requests', '2', '--input-tokens', '4', '--output-tokens', '4'];

describe('--quiet beside --progress', () => {
  it.each(['tty', 'plain', 'auto'])('run and serve refuse --quiet --progress %s (exit 2, names both)', async (mode) => {
    for (const [cmd, args] of [[run, CMD], [serve, SERVE]] as const) {
      const err = await thrown(cmd.run([...args, '--quiet', '--progress', mode], captureIO().io));
      expectBadInput(err, 'BAD_FLAG', new RegExp(`^--quiet and --progress ${mode} disagree`), /--quiet is --progress quiet/);
    }
  });

  it('resolves the modes that agree', () => {
    expect(progressMode(undefined)).toBe('auto');
    expect(progressMode(undefined, true)).toBe('quiet');
    expect(progressMode('quiet', true)).toBe('quiet');
    expect(progressMode('plain')).toBe('plain');
  });
});
