// The last window's end is bracketed by readings even with --cooldown 0: the samplers stay on until each device has
// reported past it, so the edge is interpolated, not held from the reading before it.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readSampleLog } from '../../results/samples.js';
import { readJson, resultFiles, runCli, tempDir, writeWindowWorkload } from '../helpers/cli.js';
import { writeFile } from 'node:fs/promises';

describe('sampling past the last window', () => {
  it('with --cooldown 0, every device has a reading after the last window ends, and no WINDOW_NOT_COVERED', async () => {
    const dir = await tempDir('wb-tail-');
    // two devices, one reading each 0.25 s: a window can end up to 0.25 s after a device's last reading
    const lines = ['t_s,power_w,device'];
    for (let t = 0; t < 2; t += 0.25) lines.push(`${t.toFixed(2)},100,a`, `${(t + 0.1).toFixed(2)},50,b`);
    const trace = join(dir, 'trace.csv');
    await writeFile(trace, lines.join('\n') + '\n');
    const wl = await writeWindowWorkload(dir, 1300, 100);
    const out = join(dir, 'out');
    const r = await runCli(['run', '--source', 'replay', '--source-opt', `file=${trace}`, '--workload', 'command', '--set', wl,
      '--idle', '0', '--repetitions', '2', '--cooldown', '0', '--out', out, '--quiet']);
    expect(r.exitCode, r.stderr).toBe(0);
    const res = await readJson((await resultFiles(out))[0]!);
    expect(res.warnings.map((w: { code: string }) => w.code)).not.toContain('WINDOW_NOT_COVERED');
    const log = await readSampleLog(join(out, res.rawSamples.file));
    const lastEndS = Math.max(...res.repetitions.map((x: { window: { endS: number } }) => x.window.endS));
    for (const id of ['replay:a', 'replay:b']) {
      const last = Math.max(...log.filter((x) => x.type === 'sample' && x.deviceId === id).map((x) => (x as { tS: number }).tS));
      expect(last, id).toBeGreaterThanOrEqual(lastEndS);
    }
    for (const rep of res.repetitions) for (const d of rep.devices) expect(d.coveragePct).toBeCloseTo(100, 6);
  });
});
