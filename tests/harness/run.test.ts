// The run lifecycle end to end, through the real CLI: order of phases, energy against a known trace, and the
// fault cases of the core issue (workload fails, never signals its window, SIGINT mid-window).
import { describe, it, expect, beforeAll } from 'vitest';
import { execa } from 'execa';
import { readFile, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { RUN_ORDER } from '../../harness/run.js';
import { validateResult } from '../../results/validate.js';
import { readSampleLog } from '../../results/samples.js';
import { BIN, runCli, tempDir, resultFiles, readJson, writeConstantTrace, writeScript } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

let work: string;
let trace: string;
beforeAll(async () => {
  work = await tempDir();
  trace = await writeConstantTrace(work, 100);
});

const replay = () => ['--source', 'replay', '--source-opt', `file=${trace}`];

describe('wattbench run', () => {
  it('runs the phases in the documented order and integrates a known trace exactly', async () => {
    const out = join(work, 'order');
    const r = await runCli(['run', ...replay(), '--idle', '0.6', '--repetitions', '2', '--cooldown', '0.3', '--set', 'durationS=1', '--set', 'warmupS=0.2', '--out', out, '--progress', 'plain']);
    expect(r.exitCode, r.stderr).toBe(0);
    const [file] = await resultFiles(out);
    const res = await readJson(file!);
    expect(validateResult(res).ok).toBe(true);
    const log = await readSampleLog(join(out, res.rawSamples.file));
    const phases = log.filter((x) => x.type === 'phase').map((x: any) => x.phase);
    expect(phases).toEqual(['inventory', 'probe', 'idle', 'warmup', 'window', 'cooldown', 'warmup', 'window', 'cooldown', 'result']);
    // every phase name is one of the documented steps, in their documented order
    const rank = phases.map((p) => RUN_ORDER.indexOf(p as any));
    expect(rank.every((x) => x >= 0)).toBe(true);
    const times = log.filter((x) => x.type === 'phase').map((x: any) => x.tS);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    // constant 100 W: energy = 100 W × window, tokens/J = tokens / energy
    for (const rep of res.repetitions) {
      expect(rep.status).toBe('ok');
      expect(rep.figures.energyJ).toBeCloseTo(100 * rep.window.durationS, 6);
      expect(rep.figures.tokensPerJ).toBeCloseTo(rep.tokens.total / rep.figures.energyJ, 12);
      expect(rep.figures.idleSubtractedEnergyJ).toBeCloseTo(0, 6);
      expect(rep.tokens.total).toBeGreaterThan(0);
      // the warm-up lies outside the window
      const warm = rep.phases.find((p: any) => p.phase === 'warmup');
      expect(warm.endS).toBeLessThanOrEqual(rep.window.startS);
    }
    expect(res.idle.powerW).toBeCloseTo(100, 6);
    expect(res.summary.repetitionsOk).toBe(2);
    expect(res.sources[0]).toMatchObject({ id: 'replay', state: 'used' });
    // every other source is recorded with why it was not used
    for (const s of res.sources.slice(1)) expect(s.reason.length).toBeGreaterThan(5);
    expect(r.stdout).toMatch(/tokens\/J/);
  });

  it('a workload that exits non-zero fails that repetition with its stderr tail; the next repetition goes on', async () => {
    const out = join(work, 'crash');
    const marker = join(work, 'crashed-once');
    const script = await writeScript(work, 'crash-once.mjs', `
      import { existsSync, writeFileSync } from 'node:fs';
      const emit = (e) => console.log(JSON.stringify(e));
      emit({ event: 'window_start' });
      if (!existsSync(${JSON.stringify(marker)})) { writeFileSync(${JSON.stringify(marker)}, 'x'); console.error('CUDA error: out of memory (simulated)'); process.exit(3); }
      await new Promise((r) => setTimeout(r, 300));
      emit({ event: 'tokens', tokens: 1000 });
      emit({ event: 'window_end' });
    `);
    const r = await runCli(['run', ...replay(), '--workload', 'command', '--set', `command=["${process.execPath}","${script}"]`, '--idle', '0', '--repetitions', '2', '--cooldown', '0', '--out', out, '--quiet']);
    expect(r.exitCode).toBe(1);
    const res = await readJson((await resultFiles(out))[0]!);
    expect(validateResult(res).ok).toBe(true);
    expect(res.status).toBe('failed');
    expect(res.repetitions[0].status).toBe('failed');
    expect(res.repetitions[0].error.message).toMatch(/code 3/);
    expect(res.repetitions[0].error.stderrTail).toMatch(/out of memory/);
    expect(res.repetitions[1].status).toBe('ok');
    expect(res.repetitions[1].tokens.total).toBe(1000);
    expect(res.warnings.map((w: any) => w.code)).toContain('REPETITION_FAILED');
  });

  it('a workload that never signals its window fails with a message saying so', async () => {
    const out = join(work, 'nowindow');
    const script = await writeScript(work, 'no-window.mjs', `console.log(JSON.stringify({ event: 'warmup_start' })); console.log('doing things');`);
    const r = await runCli(['run', ...replay(), '--workload', 'command', '--set', `command=["${process.execPath}","${script}"]`, '--idle', '0', '--repetitions', '1', '--cooldown', '0', '--out', out, '--quiet']);
    expect(r.exitCode).toBe(1);
    const res = await readJson((await resultFiles(out))[0]!);
    expect(res.repetitions[0].error.code).toBe('NO_WINDOW');
    expect(res.repetitions[0].error.message).toMatch(/window_start/);
    expect(res.summary).toBeNull();
  });

  it('SIGINT mid-window stops the workload and writes a valid partial result marked interrupted', async () => {
    const out = join(work, 'sigint');
    const pidFile = join(work, 'workload.pid');
    const script = await writeScript(work, 'long.mjs', `
      import { writeFileSync } from 'node:fs';
      writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));
      console.log(JSON.stringify({ event: 'window_start' }));
      setInterval(() => console.log(JSON.stringify({ event: 'tokens', tokens: 10 })), 50);
    `);
    const child = execa(process.execPath, [BIN, 'run', ...replay(), '--workload', 'command', '--set', `command=["${process.execPath}","${script}"]`, '--idle', '0.3', '--repetitions', '3', '--out', out, '--progress', 'plain'], { reject: false, env: { CI: '1' } });
    // wait for the window to open (a loaded CI machine may take long to get there; never signal before it)
    await waitFor(async () => {
      const log = (await readdir(out).catch(() => [] as string[])).find((f) => f.endsWith('.samples.jsonl'));
      return log !== undefined && (await readFile(join(out, log), 'utf8')).includes('"phase":"window"');
    }, 45_000, 'the window to open');
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(130);
    const res = await readJson((await resultFiles(out))[0]!);
    expect(validateResult(res).ok).toBe(true);
    expect(res.status).toBe('interrupted');
    expect(res.repetitions[0].status).toBe('interrupted');
    expect(res.warnings.map((w: any) => w.code)).toContain('INTERRUPTED');
    const samples = (await readSampleLog(join(out, res.rawSamples.file))).filter((x) => x.type === 'sample');
    expect(samples.length).toBeGreaterThan(3);
    // the workload process is gone
    const pid = Number(await readFile(pidFile, 'utf8'));
    expect(() => process.kill(pid, 0)).toThrow();
  });
});

describe('bad input is refused before anything runs (exit 2)', () => {
  it('an invalid suite names the file, the JSON pointer and what was expected', async () => {
    const out = join(work, 'badsuite');
    const suite = join(work, 'bad.yaml');
    await writeFile(suite, 'runs:\n  - workload: smoke\n    repetitions: 0\n');
    const r = await runCli(['run', suite, '--out', out]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(suite);
    expect(r.stderr).toContain('/runs/0/repetitions');
    expect(r.stderr).toMatch(/>= 1/);
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });
  it('a bad workload config value names its pointer', async () => {
    const suite = join(work, 'bad2.yaml');
    await writeFile(suite, 'runs:\n  - workload: smoke\n    config: { durationS: -1 }\n');
    const r = await runCli(['run', suite, '--out', join(work, 'bad2')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('/runs/0/config/durationS');
  });
  it('an unknown workload, flag or source is named with the choices', async () => {
    const suite = join(work, 'bad3.json');
    await writeFile(suite, JSON.stringify({ runs: [{ workload: 'nope' }] }));
    let r = await runCli(['run', suite]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/unknown workload 'nope'.*smoke/);
    r = await runCli(['run', '--frobnicate']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/frobnicate/);
    r = await runCli(['run', '--source', 'nope']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/no power source named 'nope'/);
  });
  it('a source that does not work here is refused with its reason', async () => {
    const r = await runCli(['run', '--source', 'rapl', '--source-opt', 'root=/nonexistent/powercap', '--out', join(work, 'nosrc')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/SOURCE_UNAVAILABLE.*rapl/);
  });
  it('YAML syntax errors are reported with the file', async () => {
    const suite = join(work, 'syntax.yaml');
    await writeFile(suite, 'runs: [\n');
    const r = await runCli(['run', suite]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/SUITE_SYNTAX/);
  });
});

describe('wattbench sample / validate / report', () => {
  it('sample --json returns the replayed values in order with energy and mean power', async () => {
    const stepTrace = join(work, 'ramp.csv');
    await writeFile(stepTrace, 't_s,power_w\n' + Array.from({ length: 40 }, (_, i) => `${(i * 0.05).toFixed(2)},${100 + i}`).join('\n') + '\n');
    const r = await runCli(['sample', '--source', 'replay', '--source-opt', `file=${stepTrace}`, '--source-opt', 'loop=false', '--duration', '2.5', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.samples.map((s: any) => s.powerW)).toEqual(Array.from({ length: 40 }, (_, i) => 100 + i));
    expect(j.summary.meanPowerW).toBeGreaterThan(100);
    expect(j.summary.energyJ).toBeGreaterThan(100 * 1.9);
  });
  it('validate: 0 for valid files, 2 with pointers for broken ones', async () => {
    const out = join(work, 'order');
    const [good] = await resultFiles(out);
    let r = await runCli(['validate', good!]);
    expect(r.exitCode).toBe(0);
    const broken = join(work, 'broken.json');
    const doc = await readJson(good!);
    doc.summary.tokensPerJ.mean = 'lots';
    await writeFile(broken, JSON.stringify(doc));
    r = await runCli(['validate', good!, broken]);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toContain('/summary/tokensPerJ/mean');
  });
  it('report writes HTML, Markdown and CSV from result files', async () => {
    const dir = join(work, 'report');
    const r = await runCli(['report', join(work, 'order'), '--out', dir]);
    expect(r.exitCode, r.stderr).toBe(0);
    const files = await readdir(dir);
    expect(files).toEqual(expect.arrayContaining(['report.html', 'report.md', 'results.csv']));
    expect(await readFile(join(dir, 'report.md'), 'utf8')).toMatch(/smoke/);
  });
});

describe('wattbench analyse', () => {
  it('recomputes a run from its raw samples file alone, to the same figures', async () => {
    const out = join(work, 'order');
    const [file] = await resultFiles(out);
    const orig = await readJson(file!);
    const redoPath = join(work, 'redone.json');
    const r = await runCli(['analyse', file!, '--out', redoPath]);
    expect(r.exitCode, r.stderr).toBe(0);
    const redone = await readJson(redoPath);
    expect(validateResult(redone).ok).toBe(true);
    expect(redone.summary.tokensPerJ.mean).toBeCloseTo(orig.summary.tokensPerJ.mean, 9);
    for (const [i, rep] of orig.repetitions.entries()) expect(redone.repetitions[i].figures.energyJ).toBeCloseTo(rep.figures.energyJ, 9);
    // the workload's events are in the raw file too
    const log = await readSampleLog(join(out, orig.rawSamples.file));
    expect(log.filter((x) => x.type === 'event' && (x as any).event === 'window_start')).toHaveLength(2);
    // and the new result still finds the raw samples
    const again = await runCli(['analyse', redoPath]);
    expect(again.exitCode, again.stderr).toBe(0);
  });
});
