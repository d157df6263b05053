// A reading no sensor can give (1e308 W from a broken tool or trace) is dropped and counted, so the window's energy
// stays finite and the result is written and valid, instead of the run ending in a schema failure.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { readJson, resultFiles, runCli, tempDir, writeWindowWorkload } from '../helpers/cli.js';
import { validateResult } from '../../results/validate.js';

describe('implausible readings', () => {
  it('are dropped and counted; the result is valid and its power is that of the real readings', async () => {
    const dir = await tempDir('wb-implausible-');
    const lines = ['t_s,power_w'];
    for (let i = 0; i < 20; i++) lines.push(`${(i * 0.1).toFixed(1)},${i === 3 ? '1e308' : '100'}`);
    const trace = join(dir, 'trace.csv');
    await writeFile(trace, lines.join('\n') + '\n');
    const wl = await writeWindowWorkload(dir, 1500, 100);
    const out = join(dir, 'out');
    const r = await runCli(['run', '--source', 'replay', '--source-opt', `file=${trace}`, '--workload', 'command', '--set', wl,
      '--idle', '0', '--repetitions', '2', '--cooldown', '0', '--out', out, '--progress', 'plain']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/dropped a reading no sensor can give/);
    const res = await readJson((await resultFiles(out))[0]!);
    expect(validateResult(res).ok).toBe(true);
    expect(res.sources.find((s: { state: string }) => s.state === 'used').note).toMatch(/\d+ implausible reading\(s\) dropped/);
    expect(res.summary.meanPowerW.mean).toBeCloseTo(100, 6);
  });
});
