// The minimum-duration rule: a measured window shorter than 10 sensor updates gives no headline figure — its
// repetition is marked (headline: false), warned (SHORT_WINDOW) and left out of the statistics — both in the pure
// analysis and through the CLI.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { analyse, type AnalysisInput, type RepetitionRaw } from '../../harness/analyse.js';
import type { Sample } from '../../results/samples.js';
import type { Semantics } from '../../results/types.gen.js';
import { validateResult } from '../../results/validate.js';
import { readJson, resultFiles, runCli, tempDir, writeConstantTrace, writeScript } from '../helpers/cli.js';

function input(sem: Semantics, intervalS: number, windows: Array<[number, number]>, extra: Partial<AnalysisInput> = {}): AnalysisInput {
  const samples: Sample[] = [];
  for (let i = 0; i * intervalS <= 30 + 1e-9; i++) {
    const t = i * intervalS;
    samples.push(sem.kind === 'energy-counter'
      ? { tS: t, sourceId: 'sim', deviceId: 'sim:0', energyJ: 200 * Math.floor(t / 0.1 + 1e-9) * 0.1 }
      : { tS: t, sourceId: 'sim', deviceId: 'sim:0', powerW: 200 });
  }
  const repetitions: RepetitionRaw[] = windows.map(([a, b], index) => ({
    index, status: 'ok', phases: [{ phase: 'window', startS: a, endS: b }], window: { startS: a, endS: b }, tokens: { total: 1000 * (b - a) }, metrics: [], protocolErrors: 0, truncatedLines: 0,
  }));
  return {
    source: { id: 'sim', scope: 'device', semantics: sem, deviceIds: ['sim:0'], requestedIntervalMs: intervalS * 1000, restarts: 0, gaps: [] },
    devices: [{ id: 'sim:0', index: 0, vendor: 'sim', name: 'sim' }], samples, idle: null, repetitions, interrupted: false, repetitionsRequested: windows.length, ...extra,
  };
}

const instant: Semantics = { kind: 'instantaneous', updatePeriodMs: 100 };

describe('minimum duration: 10 sensor updates', () => {
  it('a window under 10 updates keeps its figures but is marked, warned and left out of the statistics', () => {
    const a = analyse(input(instant, 0.1, [[1, 1.5], [2, 12], [13, 13.95], [15, 16]]));
    expect(a.repetitions.map((r) => r.headline)).toEqual([false, true, false, true]);
    const short = a.warnings.filter((w) => w.code === 'SHORT_WINDOW');
    expect(short.map((w) => w.repetition)).toEqual([0, 2]);
    expect(short[0]!.message).toMatch(/0\.50 s.*fewer than 10 sensor updates of 100 ms/);
    // the short repetition still carries its measured figures, for the record
    expect(a.repetitions[0]!.figures!.energyJ).toBeCloseTo(100, 6);
    // the statistics use the two headline windows only
    expect(a.summary!.repetitionsOk).toBe(2);
    expect(a.summary!.tokensPerJ.n).toBe(2);
    expect(a.summary!.energyJ.mean).toBeCloseTo((2000 + 200) / 2, 6);
    expect(a.fidelity.grade).toBe('C');
    expect(a.fidelity.notes).toContain('a window covered fewer than 10 sensor updates');
  });
  it('exactly 10 updates is enough; a hair less is not', () => {
    const a = analyse(input(instant, 0.1, [[2, 3], [4, 4.999]]));
    expect(a.repetitions.map((r) => r.headline)).toEqual([true, false]);
  });
  it('counts sensor updates, not polls: a counter polled every 25 ms but updated every 100 ms needs 1 s', () => {
    const counter: Semantics = { kind: 'energy-counter', updatePeriodMs: 100, counterResolutionJ: 0.001 };
    const a = analyse(input(counter, 0.025, [[2, 2.9], [3, 4.2]]));
    expect(a.repetitions.map((r) => r.headline)).toEqual([false, true]);
    expect(a.repetitions[1]!.figures!.energyJ).toBeCloseTo(200 * 1.2, 0);
  });
  it('polling slower than the sensor stretches the rule to 10 polls', () => {
    const a = analyse(input(instant, 0.5, [[2, 6], [7, 12]]));
    expect(a.repetitions.map((r) => r.headline)).toEqual([false, true]);
    expect(a.warnings.find((w) => w.code === 'SHORT_WINDOW')!.message).toMatch(/updates of 500 ms/);
  });
  it('with every window short there is no summary, and a CI target is reported as missed', () => {
    const a = analyse(input(instant, 0.1, [[1, 1.5], [2, 2.5], [3, 3.5]], { targetCiPct: 2, maxRepetitions: 3 }));
    expect(a.summary).toBeNull();
    expect(a.warnings.map((w) => w.code)).toEqual(expect.arrayContaining(['SHORT_WINDOW', 'FEW_REPETITIONS', 'TARGET_CI_NOT_REACHED']));
    expect(a.warnings.find((w) => w.code === 'TARGET_CI_NOT_REACHED')!.message).toMatch(/no interval/);
  });
});

describe('minimum duration through the CLI', () => {
  it('a 0.3 s window on a 50 ms sensor is measured, marked and warned, with no headline figure', async () => {
    const work = await tempDir('wb-fid-short-');
    const trace = await writeConstantTrace(work, 150, 5, 0.05);
    const script = await writeScript(work, 'short.mjs', `
      const emit = (e) => process.stdout.write(JSON.stringify(e) + '\\n');
      emit({ event: 'window_start' });
      setTimeout(() => { emit({ event: 'tokens', tokens: 300 }); emit({ event: 'window_end' }); }, 300);
    `);
    const out = join(work, 'out');
    const r = await runCli(['run', '--source', 'replay', '--source-opt', `file=${trace}`, '--workload', 'command', '--set', `command=["${process.execPath}","${script}"]`,
      '--idle', '0', '--repetitions', '1', '--cooldown', '0', '--out', out, '--progress', 'plain']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SHORT_WINDOW: The window of repetition 1 of 1 \(0\.\d+ s\) covered fewer than 10 sensor updates of 50 ms/);
    const res = await readJson((await resultFiles(out))[0]!);
    expect(validateResult(res).ok).toBe(true);
    expect(res.repetitions[0].headline).toBe(false);
    expect(res.repetitions[0].figures.energyJ).toBeCloseTo(150 * res.repetitions[0].window.durationS, 6);
    expect(res.summary).toBeNull();
    expect(res.fidelity.grade).toBe('C');
  });
});
