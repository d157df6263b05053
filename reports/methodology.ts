// The methodology section, written from the results themselves: which sources measured what, at what scope and
// with which sensor semantics, how often, against which idle baseline, how many repetitions, which fidelity grade,
// and every warning as a sentence. Pure functions; they return plain text, escaped later by the renderer.
import type { WattbenchResult, Semantics } from '../results/types.gen.js';
import { WARNING_TEXT, repetitionName, repetitionNumber, type WarningCode } from '../results/warnings.js';
import type { RunView } from './model.js';
import { fmtMs, fmtNum, fmtS, fmtW } from './format.js';

export const SCOPE_TEXT: Record<string, string> = {
  device: "the accelerator's own sensor: the device board or package only — not the host CPU, host memory, fans or power-supply losses",
  'host-cpu': 'the CPU package (RAPL or similar): it includes everything else running on the CPU, and no accelerator',
  node: 'the whole node (BMC, PDU or meter): host, accelerators, fans and power-supply losses together',
  estimated: 'not measured: modelled from utilization and a nominal power figure; an order of magnitude at best',
};

export const GRADE_TEXT: Record<string, string> = {
  A: 'energy counter on the device, differenced across the window',
  B: 'device sensor read at its update rate (instantaneous readings, or a windowed average corrected for its lag)',
  C: 'averaged or coarse sensor, host or node scope, or windows too short for the sensor',
  D: 'estimated, not measured',
  '?': 'no fidelity grade recorded',
};

export function semanticsSentence(s: Semantics): string {
  const parts: string[] = [];
  switch (s.kind) {
    case 'instantaneous': parts.push('each reading is the power at one instant'); break;
    case 'windowed-average': parts.push(`each reading is an average over the last ${s.averagingWindowMs !== undefined ? fmtMs(s.averagingWindowMs) : 'interval (window length not recorded)'}`); break;
    case 'energy-counter': parts.push('readings are a cumulative energy counter; window energy is the counter difference'); break;
    case 'estimated': parts.push('readings are estimates, not measurements'); break;
  }
  if (s.field) parts.push(`field ${s.field}`);
  if (s.updatePeriodMs !== undefined) parts.push(`the sensor updates about every ${fmtMs(s.updatePeriodMs)}`);
  if (s.dutyCyclePct !== undefined) parts.push(`it observes ${fmtNum(s.dutyCyclePct)}% of the time`);
  if (s.lagMs !== undefined) parts.push(`readings lag the load by ${fmtMs(s.lagMs)} and were shifted back before integration`);
  if (s.counterResolutionJ !== undefined) parts.push(`counter resolution ${fmtNum(s.counterResolutionJ)} J`);
  if (s.counterMaxJ !== undefined) parts.push(`the counter wraps at ${fmtNum(s.counterMaxJ)} J`);
  return parts.join('; ');
}

type UsedSource = Extract<WattbenchResult['sources'][number], { state: 'used' }>;

export interface SourceGroup {
  id: string; scope: string; scopeText: string; semantics: string; note: string;
  runs: number; requested: string; achieved: string; gaps: number; restarts: number;
}

/** Sources grouped by what they are (id, scope, semantics), with the achieved sampling intervals across runs. */
export function sourceGroups(runs: RunView[]): SourceGroup[] {
  const groups = new Map<string, { s: UsedSource; runs: number; req: number[]; med: number[]; p99: number[]; gaps: number; restarts: number; notes: Set<string> }>();
  for (const r of runs) {
    for (const s of r.result.sources) {
      if (s.state !== 'used') continue;
      const { note: _note, ...sem } = s.semantics;
      const key = JSON.stringify([s.id, s.scope, sem]);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { s, runs: 0, req: [], med: [], p99: [], gaps: 0, restarts: 0, notes: new Set() }));
      g.runs++;
      g.req.push(s.requestedIntervalMs);
      if (s.achievedIntervalMs) { g.med.push(s.achievedIntervalMs.median); g.p99.push(s.achievedIntervalMs.p99); }
      g.gaps += s.gaps.length;
      g.restarts += s.restarts;
      if (s.semantics.note && g.notes.size < 3) g.notes.add(s.semantics.note);
    }
  }
  const range = (xs: number[], unit: (x: number) => string) => {
    if (!xs.length) return 'not recorded';
    const lo = Math.min(...xs), hi = Math.max(...xs);
    return fmtNum(lo) === fmtNum(hi) ? unit(lo) : `${unit(lo)} to ${unit(hi)}`;
  };
  return [...groups.values()].map((g) => ({
    id: g.s.id, scope: g.s.scope, scopeText: SCOPE_TEXT[g.s.scope] ?? g.s.scope, semantics: semanticsSentence(g.s.semantics),
    note: [...g.notes].join(' · '), runs: g.runs, requested: range(g.req, fmtMs),
    achieved: g.med.length ? `median ${range(g.med, fmtMs)}, p99 up to ${fmtMs(Math.max(...g.p99))}` : 'not recorded',
    gaps: g.gaps, restarts: g.restarts,
  }));
}

export interface SourceNotUsed { id: string; state: string; reason: string; runs: number }

/** Sources probed but not used, each distinct reason once with the number of runs that gave it. */
export function sourcesNotUsed(runs: RunView[]): SourceNotUsed[] {
  const by = new Map<string, SourceNotUsed>();
  for (const r of runs) {
    for (const s of r.result.sources) {
      if (s.state === 'used') continue;
      const key = JSON.stringify([s.id, s.state, s.reason]);
      const g = by.get(key);
      if (g) g.runs++;
      else by.set(key, { id: s.id, state: s.state, reason: s.reason, runs: 1 });
    }
  }
  return [...by.values()];
}

export interface RunWarning { code: string; sentence: string; details: string[]; where: string }

/** A run's warnings, one sentence per code (results/warnings.ts), with the run's own specifics beneath. */
export function runWarnings(r: WattbenchResult): RunWarning[] {
  const by = new Map<string, { reps: Set<number>; sources: Set<string>; devices: Set<string>; msgs: Set<string> }>();
  for (const w of r.warnings) {
    let g = by.get(w.code);
    if (!g) by.set(w.code, (g = { reps: new Set(), sources: new Set(), devices: new Set(), msgs: new Set() }));
    if (w.repetition !== undefined) g.reps.add(w.repetition);
    if (w.sourceId) g.sources.add(w.sourceId);
    if (w.deviceId) g.devices.add(w.deviceId);
    if (w.message && w.message !== WARNING_TEXT[w.code as WarningCode] && g.msgs.size < 5) g.msgs.add(w.message);
  }
  return [...by.entries()].map(([code, g]) => {
    const where: string[] = [];
    // numbered from 1, as in the warnings' own messages and the repetitions table (repetitionName)
    if (g.reps.size) where.push(g.reps.size === 1 ? repetitionName([...g.reps][0]!) : `repetitions ${[...g.reps].sort((a, b) => a - b).map(repetitionNumber).join(', ')}`);
    if (g.sources.size) where.push(`source ${[...g.sources].join(', ')}`);
    if (g.devices.size) where.push(`device ${[...g.devices].join(', ')}`);
    return { code, sentence: WARNING_TEXT[code as WarningCode] ?? code, details: [...g.msgs], where: where.join('; ') };
  });
}

export interface RunMethod {
  anchor: string; runId: string; chip: string; mark: string; source: string; semantics: string;
  interval: string; idle: string; repetitions: string; grade: string; gradeText: string; errorBound: string;
  fidelityNotes: string[]; warnings: RunWarning[];
}

export function runMethod(v: RunView, mark: string): RunMethod {
  const r = v.result;
  const used = r.sources.filter((s): s is UsedSource => s.state === 'used');
  const ok = r.repetitions.filter((x) => x.status === 'ok').length;
  const g = r.fidelity?.grade ?? '?';
  return {
    anchor: v.anchor, runId: r.runId, chip: v.chipLabel, mark,
    source: used.length ? used.map((s) => `${s.id} (${s.scope})`).join(', ') : 'none used',
    semantics: used.map((s) => s.semantics.kind + (s.semantics.kind === 'windowed-average' && s.semantics.averagingWindowMs !== undefined ? ` ${fmtMs(s.semantics.averagingWindowMs)}` : '')).join(', ') || '–',
    interval: used.map((s) => (s.achievedIntervalMs ? `${fmtMs(s.achievedIntervalMs.median)} (p99 ${fmtMs(s.achievedIntervalMs.p99)})` : 'not recorded')).join(', ') || '–',
    idle: r.idle ? `${fmtW(r.idle.powerW)} over ${fmtS(r.idle.durationS)}` : 'none measured',
    repetitions: `${ok} of ${r.repetitions.length} ok, ${v.headlineReps.length} headline`,
    grade: g, gradeText: GRADE_TEXT[g] ?? g,
    errorBound: r.fidelity?.energyErrorBoundPct != null ? `±${fmtNum(r.fidelity.energyErrorBoundPct, 2)}% (sampling only)` : '–',
    fidelityNotes: r.fidelity?.notes ?? [],
    warnings: runWarnings(r),
  };
}

type Cluster = NonNullable<WattbenchResult['cluster']>;

/** Signed clock offset with its uncertainty (± half the probe's round trip), or why there is none. */
export function fmtOffset(offsetMs: number | null, rttMs: number | null): string {
  if (offsetMs === null) return 'not measured';
  // the reference node's own offset is exact (0, no probe): no ± to show
  return `${offsetMs > 0 ? '+' : ''}${fmtMs(offsetMs)}${rttMs ? ` ± ${fmtNum(rttMs / 2, 2)}` : ''}`;
}

/**
 * How well a merged run's clocks agree once each node's measured offset is taken out: every offset is known to ±
 * half the round trip of the probe that measured it, so the worst of those is how closely the nodes' samples and
 * rank 0's window line up. The reference node is the time line itself (offset 0 by definition). Null where some
 * other node's offset was not measured at all (assumed in sync, --allow-unmeasured-clock): then nothing bounds it.
 */
export function clusterAlignmentMs(c: Cluster): number | null {
  let worst = 0;
  for (const n of c.nodes) {
    if (n.index === c.referenceNode) continue;
    const { offsetStartMs, offsetEndMs, rttStartMs, rttEndMs } = n.clock;
    if (offsetStartMs === null && offsetEndMs === null) return null;
    if (offsetStartMs !== null && rttStartMs !== null) worst = Math.max(worst, rttStartMs / 2);
    if (offsetEndMs !== null && rttEndMs !== null) worst = Math.max(worst, rttEndMs / 2);
  }
  return worst;
}

export const nodeNameOf = (c: Cluster, index: number | undefined) => {
  if (index === undefined) return undefined;
  const n = c.nodes.find((x) => x.index === index);
  return n ? `${n.name} (node ${index})` : `node ${index}`;
};

/** The methodology's line for a multi-node run: "N nodes, clocks aligned to within X ms", and what X rests on. */
export function clusterSentence(c: Cluster): string {
  const align = clusterAlignmentMs(c);
  const job = [[c.scheduler !== 'none' ? c.scheduler : '', c.jobId ? `job ${c.jobId}` : ''].filter(Boolean).join(' '), c.jobName ?? ''].filter(Boolean).join(', ');
  const head = `${c.nodeCount} ${c.nodeCount === 1 ? 'node' : 'nodes'}${job ? ` (${job})` : ''}, ${align !== null ? `clocks aligned to within ${fmtMs(align)}` : 'clock alignment not known (a node\'s offset was not measured)'}`;
  const unmeasured = c.nodes.filter((n) => n.index !== c.referenceNode && n.clock.offsetStartMs === null && n.clock.offsetEndMs === null).map((n) => n.name);
  const parts = [
    `every node's samples and rank 0's events were put on the clock of ${nodeNameOf(c, c.referenceNode)}`,
    `largest offset measured and corrected ${fmtMs(c.skewMs)} (the merge refuses more than ${fmtMs(c.maxSkewMs)})`,
    ...(align !== null && c.nodes.length > 1 ? ['each offset is known to ± half the round trip of the probe that measured it'] : []),
    ...(unmeasured.length ? [`offset not measured, assumed in sync: ${unmeasured.join(', ')}`] : []),
  ];
  return `${head}: ${parts.join('; ')}.`;
}
