// The report's data model: a pure function of validated results. Everything the HTML, Markdown and CSV show is
// computed here once, so the three outputs cannot disagree.
//
// Rows are chips (device name × count × power limit) *on one measurement basis* (scope + fidelity grade): the same
// chip measured by a device sensor and by an estimate is two rows, each visibly marked, because their figures are
// not the same quantity. Columns are model size × workload kind. A cell pools every headline repetition of the runs
// that fall into it.
import type { Diagnostics, Stats, WattbenchResult } from '../results/types.gen.js';
// One definition of the statistics (mean, sd, Student-t CI): pooled cells use the same function as the run itself.
import { describe as describeStats } from '../harness/stats.js';

export interface LoadedOk { path: string; result: WattbenchResult; upgradedFrom?: number }
export interface LoadedBad { path: string; reason: string; problems?: Array<{ pointer: string; message: string }> }

export type Kind = 'train' | 'infer' | 'serve' | 'other';
export const KIND_ORDER: Kind[] = ['train', 'infer', 'serve', 'other'];
export const UNSPECIFIED_SIZE = 'unspecified';

export type Scope = 'device' | 'host-cpu' | 'node' | 'estimated';

/** The measurement basis of a run: runs on different bases are never ranked together without a mark. */
export interface Basis {
  key: string;
  scope: string;
  grade: string;
  estimated: boolean;
}

export interface RunView {
  /** Position in the input order; stable id for anchors. */
  index: number;
  anchor: string;
  path: string;
  upgradedFrom?: number;
  result: WattbenchResult;
  chipKey: string;
  chipLabel: string;
  deviceName: string;
  deviceCount: number;
  powerLimitW: number[];
  vendor: string;
  sourceIds: string[];
  basis: Basis;
  kind: Kind;
  modelSize: string;
  columnKey: string;
  rowKey: string;
  /** Repetitions that count for the headline (same filter as harness/analyse.ts). */
  headlineReps: NonNullable<WattbenchResult['repetitions'][number]['figures']>[];
}

export interface Column { key: string; modelSize: string; kind: Kind; label: string }

export interface Row {
  key: string;
  chipKey: string;
  chipLabel: string;
  basis: Basis;
  /** '' for the reference basis; a footnote symbol for every other basis. */
  mark: string;
  isBaseline: boolean;
  runIndexes: number[];
}

export interface CellFigures {
  runs: number;
  reps: number;
  tokensPerJ: Stats;
  tokensPerS: Stats;
  meanPowerW: Stats;
  joulesPerToken: Stats;
  energyJ: Stats;
  idleSubtractedTokensPerJ: Stats | null;
}

export interface Cell {
  rowKey: string;
  columnKey: string;
  runIndexes: number[];
  figures: CellFigures | null;
  /** tokens/J relative to the baseline row's cell in the same column; null where either is missing. */
  ratio: number | null;
  /** Highest tokens/J in its column among rows on the reference basis. */
  best: boolean;
}

export interface BasisNote { mark: string; basis: Basis; text: string; runs: number }

export interface CostInputs { currency: string; pricePerKWh?: number; pue?: number; carbonGPerKWh?: number }
export interface CostRow {
  rowKey: string; columnKey: string; chipLabel: string; mark: string; column: string;
  joulesPerToken: number; deviceKWhPerMTok: number; facilityKWhPerMTok: number;
  costPerMTok: number | null; co2KgPerMTok: number | null;
}

export interface ReportModel {
  runs: RunView[];
  columns: Column[];
  rows: Row[];
  cells: Map<string, Cell>;
  baselineRowKey: string | null;
  referenceBasis: Basis | null;
  basisNotes: BasisNote[];
  cost: { inputs: CostInputs; pueAssumed: boolean; rows: CostRow[] } | null;
}

export const cellKey = (rowKey: string, columnKey: string) => `${rowKey}\u0000${columnKey}`;

const MARKS = ['†', '‡', '§', '¶', '‖', '#', '*'];
const markFor = (i: number) => (i < MARKS.length ? MARKS[i]! : `${MARKS[i % MARKS.length]}${Math.floor(i / MARKS.length) + 1}`);

function usedSources(r: WattbenchResult) {
  return r.sources.flatMap((s) => (s.state === 'used' ? [s] : []));
}

/** The devices the run measured: those of the used sources, preferring accelerators where there are any. */
export function measuredDevices(r: WattbenchResult) {
  const ids = new Set(usedSources(r).flatMap((s) => s.deviceIds));
  const measured = r.devices.filter((d) => ids.has(d.id));
  const pool = measured.length ? measured : r.devices;
  const accel = pool.filter((d) => d.kind === 'accelerator');
  return accel.length ? accel : pool;
}

function fmtW(w: number): string {
  return `${Number.isInteger(w) ? w : w.toFixed(1)} W`;
}

export function chipOf(r: WattbenchResult) {
  const devs = measuredDevices(r);
  const names = [...new Set(devs.map((d) => d.name))];
  const deviceName = names.length ? names.join(' + ') : r.host.cpuModel;
  const limits = [...new Set(devs.map((d) => d.powerLimitW).filter((x): x is number => typeof x === 'number'))].sort((a, b) => a - b);
  const limitLabel = limits.length === 0 ? 'limit not recorded' : limits.length === 1 ? fmtW(limits[0]!) : `${fmtW(limits[0]!)}–${fmtW(limits[limits.length - 1]!)}`;
  const count = devs.length || 1;
  return {
    deviceName, deviceCount: count, powerLimitW: limits, vendor: [...new Set(devs.map((d) => d.vendor))].join(' + '),
    key: JSON.stringify([deviceName, count, limits]),
    label: `${deviceName} ×${count} · ${limitLabel}`,
  };
}

export function basisOf(r: WattbenchResult): Basis {
  const used = usedSources(r);
  const scopes = [...new Set(used.map((s) => s.scope))].sort();
  const estimated = scopes.includes('estimated') || used.some((s) => s.semantics.kind === 'estimated') || r.warnings.some((w) => w.code === 'ESTIMATED_POWER');
  const scope = scopes.length ? scopes.join('+') : 'unknown';
  const grade = r.fidelity?.grade ?? '?';
  return { key: `${scope}|${grade}|${estimated ? 'est' : 'meas'}`, scope, grade, estimated };
}

export function basisLabel(b: Basis): string {
  return `${b.scope} scope, grade ${b.grade}${b.estimated && b.scope !== 'estimated' ? ', estimated power' : ''}`;
}

function headlineReps(r: WattbenchResult) {
  return r.repetitions.flatMap((rep) => (rep.status === 'ok' && rep.figures && rep.figures.tokensPerJ !== null && rep.headline !== false ? [rep.figures] : []));
}

const kindOf = (r: WattbenchResult): Kind => (r.workload.kind ?? 'other') as Kind;

export function columnLabel(modelSize: string, kind: Kind) {
  return `${modelSize} · ${kind}`;
}

export function buildRunViews(results: LoadedOk[]): RunView[] {
  return results.map((l, index) => {
    const r = l.result;
    const chip = chipOf(r);
    const basis = basisOf(r);
    const kind = kindOf(r);
    const modelSize = r.workload.modelSize?.trim() || UNSPECIFIED_SIZE;
    const columnKey = JSON.stringify([modelSize, kind]);
    return {
      index, anchor: `run-${index + 1}`, path: l.path, upgradedFrom: l.upgradedFrom, result: r,
      chipKey: chip.key, chipLabel: chip.label, deviceName: chip.deviceName, deviceCount: chip.deviceCount, powerLimitW: chip.powerLimitW, vendor: chip.vendor,
      sourceIds: usedSources(r).map((s) => s.id), basis, kind, modelSize, columnKey,
      rowKey: JSON.stringify([chip.key, basis.key]),
      headlineReps: headlineReps(r),
    };
  });
}

/** A row's full name: the chip and, after it, the basis it was measured on (two rows of one chip differ there). */
export const rowName = (r: Pick<RunView, 'chipLabel' | 'basis'>) => `${r.chipLabel} (${basisLabel(r.basis)})`;

/**
 * Find the baseline row for --baseline: a row's full name, a chip label, or a device name, exactly; then a unique
 * part of a row's full name. A name that fits several rows (one chip measured on two bases, one device at two
 * counts or power limits) is refused with the full names to choose from, never settled by input order.
 */
export function matchBaseline(runs: RunView[], wanted: string): { ok: true; rowKey: string } | { ok: false; reason: string; chips: string[] } {
  const rows = [...new Map(runs.map((r) => [r.rowKey, r])).values()];
  const w = wanted.trim().toLowerCase();
  const one = (hits: RunView[], how: string): { ok: true; rowKey: string } | { ok: false; reason: string; chips: string[] } | null => {
    if (hits.length === 0) return null;
    if (hits.length === 1) return { ok: true, rowKey: hits[0]!.rowKey };
    return { ok: false, reason: `'${wanted}' ${how} ${hits.length} rows`, chips: hits.map(rowName) };
  };
  return one(rows.filter((r) => rowName(r).toLowerCase() === w), 'names')
    ?? one(rows.filter((r) => r.chipLabel.toLowerCase() === w), 'is the chip of')
    ?? one(rows.filter((r) => r.deviceName.toLowerCase() === w), 'is the device of')
    ?? one(rows.filter((r) => rowName(r).toLowerCase().includes(w)), 'matches')
    ?? { ok: false, reason: `no chip matches '${wanted}'`, chips: rows.map(rowName) };
}

function sizeOrder(runs: RunView[]) {
  // order model sizes by parameter count where the results give one, then by name (natural order)
  const params = new Map<string, number[]>();
  for (const r of runs) if (typeof r.result.workload.parameters === 'number') (params.get(r.modelSize) ?? params.set(r.modelSize, []).get(r.modelSize)!).push(r.result.workload.parameters);
  const key = (s: string) => { const p = params.get(s); return p && p.length ? p.reduce((a, b) => a + b, 0) / p.length : Infinity; };
  return (a: string, b: string) => (a === UNSPECIFIED_SIZE ? 1 : 0) - (b === UNSPECIFIED_SIZE ? 1 : 0) || key(a) - key(b) || a.localeCompare(b, 'en', { numeric: true });
}

const statOf = (xs: number[]): Stats => describeStats(xs);

function cellFigures(runs: RunView[]): CellFigures | null {
  const reps = runs.flatMap((r) => r.headlineReps);
  if (reps.length === 0) return null;
  // a single run keeps its own summary (identical by construction); several runs pool their headline repetitions
  const s = runs.length === 1 ? runs[0]!.result.summary : null;
  if (s) {
    return { runs: 1, reps: s.repetitionsOk, tokensPerJ: s.tokensPerJ, tokensPerS: s.tokensPerS, meanPowerW: s.meanPowerW, joulesPerToken: s.joulesPerToken, energyJ: s.energyJ, idleSubtractedTokensPerJ: s.idleSubtractedTokensPerJ ?? null };
  }
  const pick = (f: (x: (typeof reps)[number]) => number | null | undefined) => reps.map(f).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  const idle = pick((x) => x.idleSubtractedTokensPerJ);
  return {
    runs: runs.length, reps: reps.length,
    tokensPerJ: statOf(pick((x) => x.tokensPerJ)), tokensPerS: statOf(pick((x) => x.tokensPerS)), meanPowerW: statOf(pick((x) => x.meanPowerW)),
    joulesPerToken: statOf(pick((x) => x.joulesPerToken)), energyJ: statOf(pick((x) => x.energyJ)),
    idleSubtractedTokensPerJ: idle.length ? statOf(idle) : null,
  };
}

export function costRowsOf(model: Pick<ReportModel, 'rows' | 'columns' | 'cells'>, inputs: CostInputs): { pueAssumed: boolean; rows: CostRow[] } {
  const pue = inputs.pue ?? 1;
  const out: CostRow[] = [];
  for (const row of model.rows) {
    for (const col of model.columns) {
      const c = model.cells.get(cellKey(row.key, col.key));
      const jpt = c?.figures?.joulesPerToken.mean;
      if (typeof jpt !== 'number' || !Number.isFinite(jpt) || c!.figures!.joulesPerToken.n === 0) continue;
      // J/token × 10^6 tokens ÷ 3.6 × 10^6 J/kWh = kWh per million tokens
      const deviceKWh = jpt / 3.6;
      const facilityKWh = deviceKWh * pue;
      out.push({
        rowKey: row.key, columnKey: col.key, chipLabel: row.chipLabel, mark: row.mark, column: col.label,
        joulesPerToken: jpt, deviceKWhPerMTok: deviceKWh, facilityKWhPerMTok: facilityKWh,
        costPerMTok: inputs.pricePerKWh !== undefined ? facilityKWh * inputs.pricePerKWh : null,
        co2KgPerMTok: inputs.carbonGPerKWh !== undefined ? (facilityKWh * inputs.carbonGPerKWh) / 1000 : null,
      });
    }
  }
  return { pueAssumed: inputs.pue === undefined, rows: out };
}

export interface ModelOptions { baselineRowKey?: string; cost?: CostInputs }

export function buildModel(results: LoadedOk[], opts: ModelOptions = {}): ReportModel {
  const runs = buildRunViews(results);
  // rows in input order of first appearance, the baseline first
  const rowMap = new Map<string, Row>();
  for (const r of runs) {
    let row = rowMap.get(r.rowKey);
    if (!row) rowMap.set(r.rowKey, (row = { key: r.rowKey, chipKey: r.chipKey, chipLabel: r.chipLabel, basis: r.basis, mark: '', isBaseline: false, runIndexes: [] }));
    row.runIndexes.push(r.index);
  }
  let rows = [...rowMap.values()];
  const baselineRowKey = rows.length ? (opts.baselineRowKey && rowMap.has(opts.baselineRowKey) ? opts.baselineRowKey : rows[0]!.key) : null;
  if (baselineRowKey) {
    rowMap.get(baselineRowKey)!.isBaseline = true;
    rows = [rowMap.get(baselineRowKey)!, ...rows.filter((r) => r.key !== baselineRowKey)];
  }
  const referenceBasis = baselineRowKey ? rowMap.get(baselineRowKey)!.basis : null;

  // every basis other than the reference gets a footnote mark, in order of appearance
  const basisNotes: BasisNote[] = [];
  const markOf = new Map<string, string>();
  for (const row of rows) {
    if (referenceBasis && row.basis.key === referenceBasis.key) continue;
    if (!markOf.has(row.basis.key)) {
      const mark = markFor(markOf.size);
      markOf.set(row.basis.key, mark);
      const why: string[] = [];
      if (referenceBasis && row.basis.scope !== referenceBasis.scope) why.push(`scope ${row.basis.scope}, not ${referenceBasis.scope}`);
      if (row.basis.estimated && !referenceBasis?.estimated) why.push('power estimated, not measured');
      if (referenceBasis && row.basis.grade !== referenceBasis.grade) why.push(`fidelity grade ${row.basis.grade}, not ${referenceBasis.grade}`);
      basisNotes.push({ mark, basis: row.basis, runs: 0, text: `${basisLabel(row.basis)} — measured on a different basis from the baseline (${why.join('; ') || 'different basis'}); do not rank it against unmarked figures.` });
    }
    row.mark = markOf.get(row.basis.key)!;
  }
  for (const n of basisNotes) n.runs = runs.filter((r) => r.basis.key === n.basis.key).length;

  const colMap = new Map<string, Column>();
  for (const r of runs) if (!colMap.has(r.columnKey)) colMap.set(r.columnKey, { key: r.columnKey, modelSize: r.modelSize, kind: r.kind, label: columnLabel(r.modelSize, r.kind) });
  const bySize = sizeOrder(runs);
  const columns = [...colMap.values()].sort((a, b) => bySize(a.modelSize, b.modelSize) || KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));

  const groups = new Map<string, RunView[]>();
  for (const r of runs) {
    const k = cellKey(r.rowKey, r.columnKey);
    (groups.get(k) ?? groups.set(k, []).get(k)!).push(r);
  }
  const cells = new Map<string, Cell>();
  for (const [k, rs] of groups) cells.set(k, { rowKey: rs[0]!.rowKey, columnKey: rs[0]!.columnKey, runIndexes: rs.map((r) => r.index), figures: cellFigures(rs), ratio: null, best: false });

  for (const col of columns) {
    const base = baselineRowKey ? cells.get(cellKey(baselineRowKey, col.key))?.figures?.tokensPerJ : undefined;
    let best: Cell | null = null;
    for (const row of rows) {
      const c = cells.get(cellKey(row.key, col.key));
      const t = c?.figures?.tokensPerJ;
      if (!c || !t || t.n === 0) continue;
      if (base && base.n > 0 && base.mean > 0) c.ratio = t.mean / base.mean;
      // ranking happens only among rows on the reference basis
      if ((!referenceBasis || row.basis.key === referenceBasis.key) && (!best || t.mean > best.figures!.tokensPerJ.mean)) best = c;
    }
    // a "best" among one row says nothing
    const ranked = rows.filter((row) => (!referenceBasis || row.basis.key === referenceBasis.key) && (cells.get(cellKey(row.key, col.key))?.figures?.tokensPerJ.n ?? 0) > 0);
    if (best && ranked.length > 1) best.best = true;
  }

  const partial: ReportModel = { runs, columns, rows, cells, baselineRowKey, referenceBasis, basisNotes, cost: null };
  const c = opts.cost;
  if (c && (c.pricePerKWh !== undefined || c.pue !== undefined || c.carbonGPerKWh !== undefined)) partial.cost = { inputs: c, ...costRowsOf(partial, c) };
  return partial;
}

/** Power-over-time charts drawn at most by default (one per matrix cell first); 1,000 would take about 40 s. */
export const DEFAULT_MAX_POWER_CHARTS = 24;

// ---------------------------------------------------------------------------------------------------------------
// Serving latency: one row per serve run (workloads/serve.ts). Latency percentiles and goodput come from the
// across-repetition summary metrics the workload emits (ttft_p50_ms …, goodput_pct) — the same headline
// repetitions as tokens/J — and fall back to the mean over result.serving.repetitions where a summary lacks them.

export interface ServingRow {
  runIndex: number;
  /** closed: fixed concurrency; open: arrival rate (requests per second). */
  load: { kind: 'closed' | 'open'; concurrency?: number; rateRps?: number; maxConcurrency?: number } | null;
  model: string;
  requestsOk: number;
  requestsFailed: number;
  /** 'completions' or 'chat' (the OpenAI endpoint the load went to); null without serving repetitions. */
  endpoint: string | null;
  /** Prompt shape asked of every request (tokens in, tokens out); null where not fixed. */
  inputTokensTarget: number | null; outputTokensTarget: number | null;
  ttftP50Ms: number | null; ttftP99Ms: number | null;
  tpotP50Ms: number | null; tpotP99Ms: number | null;
  /** Inter-token (chunk) latency and end-to-end latency. */
  itlP50Ms: number | null; itlP99Ms: number | null;
  e2eP50Ms: number | null; e2eP99Ms: number | null;
  goodputPct: number | null;
  /** Window output tokens per second and per joule: the run's headline figures (serve counts output tokens). */
  outputTokensPerS: Stats | null;
  outputTokensPerJ: Stats | null;
}

type ServingRep = NonNullable<WattbenchResult['serving']>['repetitions'][number];

export function servingRowOf(v: RunView): ServingRow | null {
  const r = v.result;
  if (v.kind !== 'serve') return null;
  const reps: ServingRep[] = r.serving?.repetitions ?? [];
  const metric = (name: string, pick: (s: ServingRep) => number | null | undefined): number | null => {
    const m = r.summary?.metrics?.find((x) => x.name === name);
    if (m && m.stats.n > 0 && Number.isFinite(m.stats.mean)) return m.stats.mean;
    const xs = reps.map(pick).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
  };
  const first = reps[0]?.load;
  const cfgModel = (r.workload.config as { model?: unknown } | undefined)?.model;
  const s = r.summary;
  return {
    runIndex: v.index,
    load: first ? { kind: first.kind, concurrency: first.concurrency, rateRps: first.rateRps, maxConcurrency: first.maxConcurrency } : null,
    model: typeof cfgModel === 'string' && cfgModel ? cfgModel : r.workload.name,
    endpoint: reps[0]?.endpoint ?? null,
    inputTokensTarget: reps[0]?.prompt.inputTokensTarget ?? null, outputTokensTarget: reps[0]?.prompt.outputTokensTarget ?? null,
    requestsOk: reps.reduce((a, x) => a + x.requests.ok, 0),
    requestsFailed: reps.reduce((a, x) => a + x.requests.failed, 0),
    ttftP50Ms: metric('ttft_p50_ms', (x) => x.latency.ttftMs.p50), ttftP99Ms: metric('ttft_p99_ms', (x) => x.latency.ttftMs.p99),
    tpotP50Ms: metric('tpot_p50_ms', (x) => x.latency.tpotMs.p50), tpotP99Ms: metric('tpot_p99_ms', (x) => x.latency.tpotMs.p99),
    itlP50Ms: metric('itl_p50_ms', (x) => x.latency.itlMs.p50), itlP99Ms: metric('itl_p99_ms', (x) => x.latency.itlMs.p99),
    e2eP50Ms: metric('e2e_p50_ms', (x) => x.latency.e2eMs.p50), e2eP99Ms: metric('e2e_p99_ms', (x) => x.latency.e2eMs.p99),
    goodputPct: metric('goodput_pct', (x) => x.goodput.sharePct),
    outputTokensPerS: s && s.tokensPerS.n > 0 ? s.tokensPerS : null,
    outputTokensPerJ: s && s.tokensPerJ.n > 0 ? s.tokensPerJ : null,
  };
}

/** The load level a sweep is drawn against: concurrency (closed loop) or arrival rate in req/s (open loop). */
export function loadLevelOf(load: ServingRow['load']): number | null {
  if (!load) return null;
  const x = load.kind === 'closed' ? load.concurrency : load.rateRps;
  return typeof x === 'number' && Number.isFinite(x) && x > 0 ? x : null;
}

/**
 * Runs that belong on one load curve: the same chip on the same measurement basis (the summary matrix's row), the
 * same model, endpoint and prompt shape, and the same kind of load (concurrency and arrival rate are different
 * axes). Only the load level may differ between them.
 */
export function servingGroupKey(sr: ServingRow, v: RunView): string {
  return JSON.stringify([v.rowKey, sr.model, sr.endpoint, sr.inputTokensTarget, sr.outputTokensTarget, sr.load?.kind ?? null]);
}

/** Serve runs, one row each: grouped as load curves (in order of first appearance), by load level within a group. */
export function servingRowsOf(runs: RunView[]): ServingRow[] {
  const rows = runs.flatMap((v) => { const row = servingRowOf(v); return row ? [row] : []; });
  const groupOrder = new Map<string, number>();
  const key = (sr: ServingRow) => servingGroupKey(sr, runs[sr.runIndex]!);
  for (const sr of rows) if (!groupOrder.has(key(sr))) groupOrder.set(key(sr), groupOrder.size);
  const level = (sr: ServingRow) => loadLevelOf(sr.load) ?? Infinity;
  return rows.sort((a, b) => groupOrder.get(key(a))! - groupOrder.get(key(b))! || level(a) - level(b) || a.runIndex - b.runIndex);
}

export interface ServingSweepPoint {
  /** Concurrency or req/s. */
  level: number;
  runIndexes: number[];
  /** Output tokens per joule, pooled over the headline repetitions of the runs at this level. */
  outputTokensPerJ: Stats;
  /** Means over the runs at this level (each run's figure is already a mean over its repetitions). */
  ttftP50Ms: number | null;
  tpotP50Ms: number | null;
}

export interface ServingSweep {
  key: string;
  /** chip (with its basis mark) · model · endpoint · prompt shape: the curve's name in the legend. */
  label: string;
  loadKind: 'closed' | 'open';
  points: ServingSweepPoint[];
}

/**
 * Load sweeps: groups of serve runs (servingGroupKey) measured at two or more load levels. A level measured by
 * several runs is one point, pooled like a matrix cell, so the curve stays a function of the load.
 */
export function servingSweepsOf(model: Pick<ReportModel, 'runs' | 'rows'>): ServingSweep[] {
  const markOf = new Map(model.rows.map((r) => [r.key, r.mark]));
  const groups = new Map<string, { sr: ServingRow; v: RunView; byLevel: Map<number, Array<{ sr: ServingRow; v: RunView }>> }>();
  for (const sr of servingRowsOf(model.runs)) {
    const v = model.runs[sr.runIndex]!;
    const level = loadLevelOf(sr.load);
    if (level === null || !sr.load) continue;
    const k = servingGroupKey(sr, v);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { sr, v, byLevel: new Map() }));
    (g.byLevel.get(level) ?? g.byLevel.set(level, []).get(level)!).push({ sr, v });
  }
  const meanOf = (xs: Array<number | null>) => { const ok = xs.filter((x): x is number => x !== null); return ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : null; };
  const out: ServingSweep[] = [];
  for (const [key, g] of groups) {
    if (g.byLevel.size < 2) continue;
    const mark = markOf.get(g.v.rowKey) ?? '';
    const shape = g.sr.inputTokensTarget !== null || g.sr.outputTokensTarget !== null ? ` · ${g.sr.inputTokensTarget ?? '?'}→${g.sr.outputTokensTarget ?? '?'} tokens` : '';
    out.push({
      key, loadKind: g.sr.load!.kind,
      label: `${g.v.chipLabel}${mark ? ` ${mark}` : ''} · ${g.sr.model}${g.sr.endpoint ? ` · ${g.sr.endpoint}` : ''}${shape}`,
      points: [...g.byLevel.entries()].sort((a, b) => a[0] - b[0]).map(([level, xs]) => ({
        level, runIndexes: xs.map((x) => x.v.index),
        // a single run keeps its own summary; several pool their headline repetitions (as cellFigures does)
        outputTokensPerJ: xs.length === 1 && xs[0]!.sr.outputTokensPerJ ? xs[0]!.sr.outputTokensPerJ : statOf(xs.flatMap((x) => x.v.headlineReps.map((f) => f.tokensPerJ).filter((t): t is number => typeof t === 'number' && Number.isFinite(t)))),
        ttftP50Ms: meanOf(xs.map((x) => x.sr.ttftP50Ms)), tpotP50Ms: meanOf(xs.map((x) => x.sr.tpotP50Ms)),
      })),
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Device telemetry: temperature, SM clocks, utilization, memory and throttle reasons over a run's measured windows.
// The run's own figures come from the result (repetitions[].diagnostics, which harness/analyse.ts computes from the
// samples inside each window, pooled over the run's devices); a per-device breakdown comes from the raw samples
// (reports/trace.ts) in the same windows, folded by the same function, so the two cannot follow different rules.

export interface Telemetry {
  /** Windows (measured repetitions) that had any reading. */
  windows: number;
  maxTemperatureC: number | null;
  smClockMinMHz: number | null;
  smClockMaxMHz: number | null;
  /** How far the SM clock fell from its highest reading to its lowest: (max − min) / max × 100. */
  smClockDropPct: number | null;
  /** Mean of the windows' mean utilization: each window counts once, whatever its length. */
  meanUtilizationPct: number | null;
  maxMemoryUsedMiB: number | null;
  /** Every reason a device reported, in order of first appearance. */
  throttleReasons: string[];
  /** A reason was reported, or the result carries a THROTTLED warning (an older result may lack the reasons). */
  throttled: boolean;
}

/** The repetitions whose windows were measured: completed, with a window (the ones analyse gives diagnostics). */
export function measuredWindows(r: WattbenchResult): Array<{ repetition: number; startS: number; endS: number }> {
  return r.repetitions.flatMap((rep) => (rep.status === 'ok' && rep.window ? [{ repetition: rep.index, startS: rep.window.startS, endS: rep.window.endS }] : []));
}

/** Fold per-window diagnostics into one figure set (max of maxima, min of minima, mean of means, union of reasons). */
export function foldDiagnostics(perWindow: Diagnostics[], throttleWarned = false): Telemetry | null {
  const num = (xs: Array<number | undefined>) => xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  const temps = num(perWindow.map((d) => d.maxTemperatureC));
  const lows = num(perWindow.map((d) => d.minSmClockMHz));
  const highs = num(perWindow.map((d) => d.maxSmClockMHz));
  const utils = num(perWindow.map((d) => d.meanUtilizationPct));
  const mems = num(perWindow.map((d) => d.maxMemoryUsedMiB));
  const reasons = [...new Set(perWindow.flatMap((d) => d.throttleReasons ?? []))];
  const windows = perWindow.filter((d) => Object.keys(d).length > 0).length;
  if (!windows && !throttleWarned) return null;
  const lo = lows.length ? Math.min(...lows) : null;
  const hi = highs.length ? Math.max(...highs) : null;
  return {
    windows,
    maxTemperatureC: temps.length ? Math.max(...temps) : null,
    smClockMinMHz: lo, smClockMaxMHz: hi,
    smClockDropPct: lo !== null && hi !== null && hi > 0 ? ((hi - lo) / hi) * 100 : null,
    meanUtilizationPct: utils.length ? utils.reduce((a, b) => a + b, 0) / utils.length : null,
    maxMemoryUsedMiB: mems.length ? Math.max(...mems) : null,
    throttleReasons: reasons,
    throttled: reasons.length > 0 || throttleWarned,
  };
}

/** A run's telemetry from its result; null when the result records none (no diagnostics, no THROTTLED warning). */
export function runTelemetryOf(r: WattbenchResult): Telemetry | null {
  const measured = new Set(measuredWindows(r).map((w) => w.repetition));
  const diags = r.repetitions.flatMap((rep) => (measured.has(rep.index) && rep.diagnostics ? [rep.diagnostics] : []));
  return foldDiagnostics(diags, r.warnings.some((w) => w.code === 'THROTTLED'));
}

export interface TelemetryRow {
  runIndex: number;
  /** null: the whole run (all its measured devices); otherwise one device, from the raw samples. */
  deviceId: string | null;
  /** Devices the run measured (the run row's scope). */
  deviceCount: number;
  telemetry: Telemetry | null;
}

/**
 * The telemetry table: one row per run, followed by one row per device where the run measured several and its raw
 * samples were read (`perDevice`: per run index, per device, one Diagnostics per window). Null when no run has any
 * telemetry, so the reports leave the table out.
 */
export function telemetryRowsOf(runs: RunView[], perDevice: Map<number, Map<string, Diagnostics[]>> = new Map()): TelemetryRow[] | null {
  const rows: TelemetryRow[] = [];
  let any = false;
  for (const v of runs) {
    const t = runTelemetryOf(v.result);
    const devs = perDevice.get(v.index);
    const devRows: TelemetryRow[] = [];
    if (devs && v.deviceCount > 1) {
      // only the devices the run measured, in the result's order
      for (const d of measuredDevices(v.result)) {
        const dt = foldDiagnostics(devs.get(d.id) ?? []);
        if (dt) devRows.push({ runIndex: v.index, deviceId: d.id, deviceCount: 1, telemetry: dt });
      }
    }
    any ||= t !== null || devRows.length > 0;
    rows.push({ runIndex: v.index, deviceId: null, deviceCount: v.deviceCount, telemetry: t }, ...devRows);
  }
  return any ? rows : null;
}
