// `wattbench analyse RESULT.json`: redo the analysis of a finished run from its raw samples file alone — after
// a fix in the integration code, or to see what another sensor lag assumption would have given.
import { dirname, join, resolve } from 'node:path';
import type { Command } from './command.js';
import { parseFlags, num } from './command.js';
import { EXIT, badInput } from '../../lib/errors.js';
import { loadResult, writeResult } from '../../results/io.js';
import { readSampleLog, type Sample } from '../../results/samples.js';
import { analyse, type RepetitionRaw } from '../analyse.js';
import type { WattbenchResult } from '../../results/types.gen.js';
import { printSummary } from '../summary.js';

const usage = `wattbench analyse RESULT.json [--out FILE] [--lag-ms MS]

Recompute every figure of a run from its raw samples file (rawSamples.file, beside the result) and the recorded
windows and token counts. --lag-ms replaces the sensor lag used to shift windowed-average readings. Without
--out, prints the recomputed summary; with it, writes a new validated result.`;

export async function reanalyse(result: WattbenchResult, resultPath: string, lagMs?: number): Promise<WattbenchResult> {
  const used = result.sources.find((s) => s.state === 'used');
  if (!used || used.state !== 'used') throw badInput('NO_SOURCE', `${resultPath} records no power source that was used`, 'nothing to re-analyse');
  const samplesPath = resolve(dirname(resultPath), result.rawSamples.file);
  let records;
  try { records = await readSampleLog(samplesPath); } catch (err) {
    throw badInput('NO_RAW_SAMPLES', `cannot read the raw samples ${samplesPath}: ${(err as Error).message}`, 'keep the .samples.jsonl file beside its result');
  }
  const samples: Sample[] = [];
  for (const r of records) if (r.type === 'sample') { const { type: _t, ...s } = r; samples.push(s); }
  const semantics = lagMs === undefined ? used.semantics : { ...used.semantics, lagMs };
  const reps: RepetitionRaw[] = result.repetitions.map((r) => ({
    index: r.index, status: r.status, phases: r.phases,
    window: r.window ? { startS: r.window.startS, endS: r.window.endS } : null,
    tokens: r.tokens, metrics: r.metrics.filter((m) => !m.name.startsWith('repetition_')),
    ...(r.error ? { error: r.error } : {}), ...(r.exit ? { exit: { exitCode: r.exit.exitCode ?? null, signal: r.exit.signal ?? null } } : {}),
    protocolErrors: 0, truncatedLines: 0, // their warnings are carried over below
  }));
  // warnings that came from the run itself (not from analysis) carry over
  const carried = result.warnings.filter((w) => ['PROTOCOL_ERRORS', 'OUTPUT_TRUNCATED', 'CLIENT_BEHIND_SCHEDULE', 'USAGE_FROM_CLIENT', 'REQUESTS_FAILED', 'REQUESTS_RESENT', 'CLOCK_SKEW', 'PARTIAL_DEVICE_POWER'].includes(w.code));
  const a = analyse({
    source: { id: used.id, scope: used.scope, semantics, deviceIds: used.deviceIds, requestedIntervalMs: used.requestedIntervalMs, restarts: used.restarts, gaps: used.gaps.filter((g) => !g.reason.startsWith('no sample for')), ...(used.command ? { command: used.command } : {}), ...(used.note ? { note: used.note } : {}) },
    devices: result.devices.filter((d) => used.deviceIds.includes(d.id)),
    samples,
    idle: result.idle ? { startS: result.idle.startS, endS: result.idle.endS } : null,
    repetitions: reps,
    interrupted: result.status === 'interrupted',
    repetitionsRequested: result.settings.repetitions,
    targetCiPct: result.settings.targetCiPct,
    maxRepetitions: result.settings.maxRepetitions,
  });
  return {
    ...result,
    status: a.status === 'ok' && result.status === 'failed' && result.errors.length ? 'failed' : a.status,
    sources: [a.source, ...result.sources.filter((s) => s.state !== 'used')],
    idle: a.idle, repetitions: a.repetitions, summary: a.summary,
    warnings: [...carried, ...a.warnings.filter((w) => !carried.some((c) => c.code === w.code))],
    fidelity: a.fidelity,
  };
}

export const analyseCommand: Command = {
  name: 'analyse', summary: 'recompute a run’s figures from its raw samples file', usage,
  async run(argv, io) {
    const { values: f, positionals } = parseFlags(argv, { out: { type: 'string' }, 'lag-ms': { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const, 'analyse');
    if (f.help) { io.stdout.write(usage + '\n'); return EXIT.OK; }
    if (positionals.length !== 1) throw badInput('BAD_FLAG', 'analyse takes one result file', 'e.g. wattbench analyse results/runs/RUN.json');
    const path = resolve(positionals[0]!);
    const loaded = await loadResult(path);
    if (loaded.state !== 'ok') throw badInput('INVALID_RESULT', `${path}: ${loaded.reason}`, 'run `wattbench validate` on it');
    const lag = num(f['lag-ms'], '--lag-ms', { min: 0 });
    const redone = await reanalyse(loaded.result, path, lag);
    if (f.out) {
      const out = resolve(f.out);
      const samplesRel = resolve(dirname(path), loaded.result.rawSamples.file);
      // the new result points at the same raw samples file
      const rel = (await import('node:path')).relative(dirname(out), samplesRel);
      await writeResult(out, { ...redone, rawSamples: { ...redone.rawSamples, file: rel } });
      io.stdout.write(`wrote ${out}\n`);
    }
    printSummary([{ result: redone, resultPath: f.out ? resolve(f.out) : path, samplesPath: '' }], io.stdout);
    return EXIT.OK;
  },
};
