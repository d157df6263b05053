// Adaptive repetitions through the CLI: `--target-ci 2%` repeats until the 95% CI half-width of tokens per joule is
// within 2% of the mean, or --max-repetitions is reached — and the run says which.
import { describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { validateResult } from '../../results/validate.js';
import { describe as stats } from '../../harness/stats.js';
import { readJson, resultFiles, runCli, tempDir, writeConstantTrace, writeScript } from '../helpers/cli.js';

describe('wattbench run --target-ci', () => {
  it('stops as soon as the interval is within the target, and says it was reached', async () => {
    const work = await tempDir('wb-fid-ci-');
    const trace = await writeConstantTrace(work, 200, 5, 0.05);
    // a steady workload: tokens in proportion to its own measured window, so tokens/J moves only with the harness's
    // own stamping latency — 2.5 s windows keep that well under 1% even on a loaded 2-core machine
    const script = await writeScript(work, 'steady.mjs', `
      const emit = (e) => process.stdout.write(JSON.stringify(e) + '\\n');
      emit({ event: 'window_start' });
      const t0 = process.hrtime.bigint();
      setTimeout(() => {
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        emit({ event: 'tokens', tokens: Math.round(10000 * s) });
        emit({ event: 'window_end' });
      }, 2500);
    `);
    const out = join(work, 'out');
    const r = await runCli(['run', '--source', 'replay', '--source-opt', `file=${trace}`, '--workload', 'command', '--set', `command=["${process.execPath}","${script}"]`,
      '--idle', '0', '--cooldown', '0', '--repetitions', '3', '--target-ci', '2%', '--max-repetitions', '10', '--out', out, '--progress', 'plain'], { timeoutMs: 180_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const res = await readJson((await resultFiles(out))[0]!);
    expect(validateResult(res).ok).toBe(true);
    expect(res.settings).toMatchObject({ targetCiPct: 2, maxRepetitions: 10, repetitions: 3 });
    const t = res.summary.tokensPerJ;
    expect((100 * t.ci95HalfWidth) / t.mean).toBeLessThanOrEqual(2);
    // stopped at the first repetition count that met the target, below the maximum
    expect(res.repetitions.length).toBeGreaterThanOrEqual(3);
    expect(res.repetitions.length).toBeLessThan(10);
    // it stopped at the first count that met the target: every shorter prefix (from --repetitions on) had not
    const perRep = res.repetitions.map((x: any) => x.figures.tokensPerJ as number);
    for (let n = 3; n < perRep.length; n++) {
      const d = stats(perRep.slice(0, n));
      expect((100 * d.ci95HalfWidth!) / d.mean, `after ${n}`).toBeGreaterThan(2);
    }
    expect(res.warnings.map((w: any) => w.code)).not.toContain('TARGET_CI_NOT_REACHED');
    expect(r.stdout).toMatch(new RegExp(`target CI\\s+±2% reached after ${res.repetitions.length} repetitions`));
  });

  it('gives up at --max-repetitions when tokens per joule will not settle, and says so', async () => {
    const work = await tempDir('wb-fid-ci-');
    // power alternating between 100 W and 400 W in 1.7 s blocks: each 1 s window catches a different mix
    const rows = ['t_s,power_w'];
    for (let i = 0; i < 68; i++) rows.push(`${(i * 0.05).toFixed(2)},${i < 34 ? 100 : 400}`);
    const trace = join(work, 'alternating.csv');
    await writeFile(trace, rows.join('\n') + '\n');
    const out = join(work, 'out');
    const r = await runCli(['run', '--source', 'replay', '--source-opt', `file=${trace}`, '--set', 'durationS=1', '--set', 'warmupS=0.2',
      '--idle', '0', '--cooldown', '0.35', '--repetitions', '2', '--target-ci', '2%', '--max-repetitions', '4', '--out', out, '--progress', 'plain'], { timeoutMs: 240_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const res = await readJson((await resultFiles(out))[0]!);
    expect(validateResult(res).ok).toBe(true);
    expect(res.repetitions.length).toBe(4);
    const t = res.summary.tokensPerJ;
    expect((100 * t.ci95HalfWidth) / t.mean).toBeGreaterThan(2);
    const w = res.warnings.find((x: any) => x.code === 'TARGET_CI_NOT_REACHED');
    expect(w.message).toMatch(/stayed above 2% \(\d+\.\d+%\) after 4 repetitions \(maximum 4\)/);
    expect(r.stdout).toContain('TARGET_CI_NOT_REACHED');
    expect(r.stdout).not.toMatch(/target CI\s+±2% reached/);
  });
});
