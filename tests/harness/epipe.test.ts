// A reader that goes away mid-run (`wattbench run | head -1`): the run finishes, writes its result, exits 0, and
// prints no stack trace for the closed pipe.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BIN, ROOT, readJson, resultFiles, tempDir, writeConstantTrace, writeWindowWorkload } from '../helpers/cli.js';
import { quickRunFlags } from '../faults/helpers.js';

describe('a closed stdout', () => {
  it('does not crash a run: the result is written and the exit code is 0', async () => {
    const dir = await tempDir('wb-epipe-');
    const trace = await writeConstantTrace(dir, 100, 5);
    const wl = await writeWindowWorkload(dir, 800, 100);
    const out = join(dir, 'out');
    const child = spawn(process.execPath, [BIN, 'run', ...quickRunFlags(trace, out), '--workload', 'command', '--set', wl], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // the reader is gone before the first line
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    expect(stderr).not.toMatch(/EPIPE|internal error|at .*\.ts:\d+/);
    expect(code, stderr).toBe(0);
    const res = await readJson((await resultFiles(out))[0]!);
    expect(res.status).toBe('ok');
  });
});
