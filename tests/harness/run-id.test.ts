// A run id given twice in one folder: the second run is refused before it measures, and the first result stays.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { runCli, tempDir, writeConstantTrace, writeWindowWorkload } from '../helpers/cli.js';
import { quickRunFlags } from '../faults/helpers.js';

describe('--run-id', () => {
  it('never overwrites an earlier measurement with the same id', async () => {
    const dir = await tempDir('wb-runid-');
    const trace = await writeConstantTrace(dir, 100, 5);
    const wl = await writeWindowWorkload(dir, 300, 10);
    const out = join(dir, 'out');
    const args = ['run', ...quickRunFlags(trace, out), '--workload', 'command', '--set', wl, '--run-id', 'same'];
    expect((await runCli(args)).exitCode).toBe(0);
    const first = await readFile(join(out, 'same.json'), 'utf8');
    const again = await runCli(args);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toMatch(/^RUN_ID_EXISTS: .*same\.json exists.*— choose another --run-id/m);
    expect(await readFile(join(out, 'same.json'), 'utf8')).toBe(first);
  });
});
