// Texts about a result that said something else than what was shown (README audit, code problems 9, 10, 11):
// repetitions are numbered from 1 wherever a person reads them (progress [1/2], warnings, fidelity notes, the
// report's table, chart bands and warning locations) while the JSON index stays 0-based; the run summary's
// legend says "mean ± 95% CI" only when there is an interval; CLOCK_SKEW's sentence says what it is written for.
import { describe, it, expect } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../harness/commands/run.js';
import { report } from '../../harness/commands/report.js';
import { analyse, type AnalysisInput, type RepetitionRaw } from '../../harness/analyse.js';
import { statLegend } from '../../harness/summary.js';
import { runWarnings } from '../../reports/methodology.js';
import { WARNING_TEXT, repetitionName } from '../../results/warnings.js';
import type { Sample } from '../../results/samples.js';
import type { Stats, WattbenchResult } from '../../results/types.gen.js';
import { tempDir, resultFiles, readJson, writeConstantTrace, writeWindowWorkload } from '../helpers/cli.js';
import { captureIO } from '../helpers/io.js';

/** A 200 W device polled every 100 ms, and one repetition per [start, end] window (null: a failed repetition). */
function input(windows: Array<[number, number] | null>): AnalysisInput {
  const samples: Sample[] = [];
  for (let i = 0; i <= 300; i++) samples.push({ tS: i * 0.1, sourceId: 'sim', deviceId: 'sim:0', powerW: 200 + (i % 3) });
  const repetitions: RepetitionRaw[] = windows.map((w, index) => (w
    ? { index, status: 'ok', phases: [{ phase: 'window', startS: w[0], endS: w[1] }], window: { startS: w[0], endS: w[1] }, tokens: { total: 1000 }, metrics: [], protocolErrors: 0, truncatedLines: 0 }
    : { index, status: 'failed', error: { code: 'WORKLOAD_FAILED', message: 'exit code 1' }, phases: [], window: null, tokens: null, metrics: [], protocolErrors: 0, truncatedLines: 0 }));
  return {
    source: { id: 'sim', scope: 'device', semantics: { kind: 'instantaneous', updatePeriodMs: 100 }, deviceIds: ['sim:0'], requestedIntervalMs: 100, restarts: 0, gaps: [] },
    devices: [{ id: 'sim:0', index: 0, vendor: 'sim', name: 'sim' }], samples, idle: null, repetitions, interrupted: false, repetitionsRequested: windows.length,
  };
}

describe('repetitions are numbered from 1 for people, from 0 in the JSON (audit 9)', () => {
  it('the analysis: warnings and the fidelity note say "repetition N of M" / "repetition N"', () => {
    const a = analyse(input([[2, 12], [13, 13.5], null]));
    const short = a.warnings.find((w) => w.code === 'SHORT_WINDOW')!;
    expect(short.repetition).toBe(1);
    expect(short.message).toMatch(/^The window of repetition 2 of 3 \(0\.50 s\) covered fewer than 10 sensor updates/);
    const failed = a.warnings.find((w) => w.code === 'REPETITION_FAILED')!;
    expect(failed.repetition).toBe(2);
    expect(failed.message).toBe('Repetition 3 of 3 failed: exit code 1');
    expect(a.repetitions.map((r) => r.index)).toEqual([0, 1, 2]);
    // the error bound comes from the one headline window, the first
    expect((a.fidelity.notes ?? []).find((n) => n.startsWith('energy error bound'))).toMatch(/\(repetition 1, sim:0\)/);
  });

  it('a report names the repetitions of a warning as the table numbers them', () => {
    const r = { warnings: [{ code: 'SHORT_WINDOW', repetition: 0, message: 'x' }, { code: 'THROTTLED', repetition: 0 }, { code: 'THROTTLED', repetition: 2 }] } as unknown as WattbenchResult;
    expect(runWarnings(r).map((w) => [w.code, w.where])).toEqual([['SHORT_WINDOW', 'repetition 1'], ['THROTTLED', 'repetitions 1, 3']]);
    expect(repetitionName(0, 3)).toBe('repetition 1 of 3');
  });

  it('through the CLI: progress, summary, result index and report agree', async () => {
    const dir = await tempDir('wb-msg-');
    const trace = await writeConstantTrace(dir, 100, 5);
    const out = join(dir, 'out');
    const { io, out: stdout, err } = captureIO();
    // 50 ms trace steps: a 300 ms window is under 10 sensor updates, so each repetition is warned SHORT_WINDOW
    const code = await run.run(['--workload', 'command', '--set', await writeWindowWorkload(dir, 300, 500), '--source', 'replay', '--source-opt', `file=${trace}`,
      '--idle', '0', '--cooldown', '0', '--repetitions', '2', '--progress', 'plain', '--out', out], io);
    expect(code, err()).toBe(0);
    expect(err()).toMatch(/\[1\/2\]: start/);
    expect(err()).toMatch(/\[2\/2\]: start/);
    expect(stdout()).toMatch(/SHORT_WINDOW: The window of repetition 1 of 2 \(/);
    expect(stdout()).toMatch(/SHORT_WINDOW: The window of repetition 2 of 2 \(/);
    expect(stdout()).not.toMatch(/[Rr]epetition 0/);
    const result = await readJson<WattbenchResult>((await resultFiles(out))[0]!);
    expect(result.repetitions.map((x) => x.index)).toEqual([0, 1]);
    expect(result.warnings.filter((w) => w.code === 'SHORT_WINDOW').map((w) => w.repetition)).toEqual([0, 1]);

    const rep = join(dir, 'report');
    expect(await report.run([out, '--out', rep], captureIO().io)).toBe(0);
    const md = await readFile(join(rep, 'report.md'), 'utf8');
    expect(md).toMatch(/\(repetitions 1, 2\) — The window of repetition 1 of 2/);
    expect(md).toMatch(/^\| 1 \| ok \| no \|/m);
    expect(md).toMatch(/^\| 2 \| ok \| no \|/m);
    expect(md).not.toMatch(/^\| 0 \| ok/m);
    const html = await readFile(join(rep, 'report.html'), 'utf8');
    expect(html).toMatch(/>rep 1</);
    expect(html).toMatch(/>rep 2</);
    expect(html).not.toMatch(/>rep 0</);
  });
});

describe('the run summary says "mean ± 95% CI" only with an interval (audit 10)', () => {
  const stats = (n: number, ci: number | null): Stats => ({ n, mean: 5, sd: ci === null ? null : 1, ci95Low: null, ci95High: null, ci95HalfWidth: ci, cvPct: null, min: 5, max: 5 });

  it('the legend follows what is shown', () => {
    expect(statLegend(stats(1, null))).toBe('(1 repetition: no CI)');
    expect(statLegend(stats(3, 0.4))).toBe('(mean ± 95% CI of 3 repetitions)');
    expect(statLegend(stats(0, null))).toBe('');
    expect(statLegend(undefined)).toBe('');
  });

  it('one repetition through the CLI', async () => {
    const dir = await tempDir('wb-msg-');
    const trace = await writeConstantTrace(dir, 100, 5);
    const { io, out: stdout, err } = captureIO();
    const code = await run.run(['--workload', 'command', '--set', await writeWindowWorkload(dir, 800, 500), '--source', 'replay', '--source-opt', `file=${trace}`,
      '--idle', '0', '--cooldown', '0', '--repetitions', '1', '--quiet', '--out', join(dir, 'out')], io);
    expect(code, err()).toBe(0);
    expect(stdout()).toMatch(/tokens\/J +\S+ +\(1 repetition: no CI\)/);
    expect(stdout()).not.toMatch(/mean ± 95% CI/);
  });
});

describe('CLOCK_SKEW says what it is written for (audit 11)', () => {
  // the merge writes it only when --allow-unmeasured-clock took an unmeasured node as in sync (tests/scaleout/merge.test.ts)
  it('the sentence speaks of an unmeasured offset taken as in sync, not of a skew beyond the limit (that is exit 2)', () => {
    expect(WARNING_TEXT.CLOCK_SKEW).toMatch(/could not be measured/);
    expect(WARNING_TEXT.CLOCK_SKEW).toMatch(/--allow-unmeasured-clock/);
    expect(WARNING_TEXT.CLOCK_SKEW).not.toMatch(/disagreed by more than the allowed skew/);
  });
});
