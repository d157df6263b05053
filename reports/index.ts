// Report rendering from validated results → report.html (self-contained: inline CSS and SVG), report.md (the same
// tables) and results.csv (one row per run, every headline figure).
//
// Layers: model.ts computes (pure), methodology.ts writes the sentences (pure), charts.ts turns specs into SVG
// (pure, async), trace.ts reads raw samples (the only I/O besides writing), and this file assembles one view
// object that both templates render. HTML escaping is Handlebars' own; Markdown escaping is applied to the whole
// view before rendering, so no template can forget it.
import Handlebars from 'handlebars';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic, makeDir } from '../results/io.js';
import type { Diagnostics, WattbenchResult } from '../results/types.gen.js';
import { repetitionNumber } from '../results/warnings.js';
import { buildModel, cellKey, basisLabel, matchBaseline, buildRunViews, measuredDevices, measuredWindows, runTelemetryOf, servingRowOf, servingRowsOf, servingSweepsOf, telemetryRowsOf, type ServingRow, type LoadedOk, type LoadedBad, type ReportModel, type RunView, type Telemetry, type TelemetryRow } from './model.js';
import { basisShape, chipColors, efficiencySpec, LOAD_AXIS, panelsOf, powerData, powerSpec, renderSvg, scatterData, scatterSpec, servingSpec, TELEMETRY_PANELS, type ChartCache } from './charts.js';
import { readPowerTrace, samplesPathOf, type TraceOutcome } from './trace.js';
import { clusterAlignmentMs, clusterSentence, fmtOffset, GRADE_TEXT, nodeNameOf, runMethod, sourceGroups, sourcesNotUsed } from './methodology.js';
import { csvCell, DASH, fmtMiB, fmtMs, fmtNum, fmtRatio, fmtReading, fmtS, fmtStat, fmtW, mdEscape, mdFence } from './format.js';

export { csvCell } from './format.js';
export { matchBaseline } from './model.js';
export type { LoadedOk, LoadedBad } from './model.js';

export interface ReportOptions {
  baseline?: string; title?: string; currency: string;
  pricePerKWh?: number; pue?: number; carbonGPerKWh?: number;
  /** Power-over-time charts drawn at most (one per run); the rest are listed. Default 24. */
  maxPowerCharts?: number;
  /** Fixed generation time (tests, reproducible output); default now. */
  generatedAt?: string;
}

import { DEFAULT_MAX_POWER_CHARTS } from './model.js';
export { DEFAULT_MAX_POWER_CHARTS };

const tpl = (name: string) => readFileSync(fileURLToPath(new URL(`./templates/${name}`, import.meta.url)), 'utf8');

// ---------------------------------------------------------------------------------------------------------------
// CSV

const STAT_FIELDS = ['tokensPerJ', 'tokensPerS', 'meanPowerW', 'joulesPerToken', 'energyJ', 'idleSubtractedTokensPerJ'] as const;
const STAT_PARTS = ['mean', 'sd', 'ci95Low', 'ci95High', 'ci95HalfWidth', 'cvPct', 'n'] as const;

export const CSV_COLUMNS: string[] = [
  'runId', 'file', 'createdAt', 'status', 'chip', 'deviceName', 'deviceCount', 'powerLimitW', 'vendor',
  'workloadId', 'workloadName', 'kind', 'modelSize', 'parameters', 'dtype', 'backend',
  'sources', 'scope', 'semantics', 'estimated', 'achievedIntervalMedianMs', 'achievedIntervalP99Ms', 'fidelityGrade', 'energyErrorBoundPct',
  'repetitionsOk', 'repetitionsTotal', 'headlineRepetitions',
  ...STAT_FIELDS.flatMap((f) => STAT_PARTS.map((p) => `${f}_${p}`)),
  'peakPowerW', 'idlePowerW', 'idleDurationS', 'baselineRatio',
  // serve runs only (empty otherwise): see servingRowOf in model.ts
  'serveLoad', 'serveConcurrency', 'serveRateRps', 'requestsOk', 'requestsFailed', 'ttftP50Ms', 'ttftP99Ms', 'tpotP50Ms', 'tpotP99Ms', 'itlP50Ms', 'itlP99Ms', 'e2eP50Ms', 'e2eP99Ms', 'goodputPct',
  // multi-node runs only (empty otherwise): result.cluster
  'clusterNodes', 'clusterSkewMs', 'clusterAlignmentMs',
  // device telemetry over the measured windows (empty where the result has none): see runTelemetryOf in model.ts
  'maxTemperatureC', 'smClockMinMHz', 'smClockMaxMHz', 'smClockDropPct', 'meanUtilizationPct', 'maxMemoryUsedMiB', 'throttled', 'throttleReasons',
  'deviceKWhPerMTok', 'facilityKWhPerMTok', 'costPerMTok', 'co2KgPerMTok',
  'warnings', 'errors', 'toolVersion', 'gitCommit', 'upgradedFromSchema',
];

export function csvRows(model: ReportModel): Array<Record<string, unknown>> {
  return model.runs.map((v) => {
    const r = v.result;
    const used = r.sources.filter((s) => s.state === 'used') as Array<Extract<WattbenchResult['sources'][number], { state: 'used' }>>;
    const s = r.summary;
    const row: Record<string, unknown> = {
      runId: r.runId, file: v.path, createdAt: r.createdAt, status: r.status, chip: v.chipLabel, deviceName: v.deviceName, deviceCount: v.deviceCount,
      powerLimitW: v.powerLimitW.length === 1 ? v.powerLimitW[0] : v.powerLimitW.join(';'), vendor: v.vendor,
      workloadId: r.workload.id, workloadName: r.workload.name, kind: v.kind, modelSize: v.modelSize, parameters: r.workload.parameters, dtype: r.workload.dtype, backend: r.workload.backend,
      sources: used.map((x) => x.id).join(';'), scope: v.basis.scope, semantics: used.map((x) => x.semantics.kind).join(';'), estimated: v.basis.estimated,
      achievedIntervalMedianMs: used[0]?.achievedIntervalMs?.median, achievedIntervalP99Ms: used[0]?.achievedIntervalMs?.p99,
      fidelityGrade: r.fidelity?.grade, energyErrorBoundPct: r.fidelity?.energyErrorBoundPct,
      repetitionsOk: s?.repetitionsOk ?? r.repetitions.filter((x) => x.status === 'ok').length, repetitionsTotal: s?.repetitionsTotal ?? r.repetitions.length, headlineRepetitions: v.headlineReps.length,
      peakPowerW: Math.max(...v.headlineReps.map((f) => f.peakPowerW ?? -Infinity)), idlePowerW: r.idle?.powerW, idleDurationS: r.idle?.durationS,
      warnings: [...new Set(r.warnings.map((w) => w.code))].join(';'), errors: [...new Set(r.errors.map((e) => e.code))].join(';'),
      toolVersion: r.tool.version, gitCommit: r.tool.gitCommit, upgradedFromSchema: v.upgradedFrom,
    };
    for (const f of STAT_FIELDS) for (const p of STAT_PARTS) row[`${f}_${p}`] = s?.[f]?.[p];
    const sv = servingRowOf(v);
    if (sv) {
      Object.assign(row, {
        serveLoad: sv.load?.kind, serveConcurrency: sv.load?.concurrency, serveRateRps: sv.load?.rateRps, requestsOk: sv.requestsOk, requestsFailed: sv.requestsFailed,
        ttftP50Ms: sv.ttftP50Ms, ttftP99Ms: sv.ttftP99Ms, tpotP50Ms: sv.tpotP50Ms, tpotP99Ms: sv.tpotP99Ms,
        itlP50Ms: sv.itlP50Ms, itlP99Ms: sv.itlP99Ms, e2eP50Ms: sv.e2eP50Ms, e2eP99Ms: sv.e2eP99Ms, goodputPct: sv.goodputPct,
      });
    }
    if (r.cluster) Object.assign(row, { clusterNodes: r.cluster.nodeCount, clusterSkewMs: r.cluster.skewMs, clusterAlignmentMs: clusterAlignmentMs(r.cluster) });
    const t = runTelemetryOf(r);
    if (t) {
      Object.assign(row, {
        maxTemperatureC: t.maxTemperatureC, smClockMinMHz: t.smClockMinMHz, smClockMaxMHz: t.smClockMaxMHz, smClockDropPct: t.smClockDropPct,
        meanUtilizationPct: t.meanUtilizationPct, maxMemoryUsedMiB: t.maxMemoryUsedMiB, throttled: t.throttled ? 'yes' : 'no', throttleReasons: t.throttleReasons.join(';'),
      });
    }
    // per-run ratio and cost use this run's own figures against the baseline row's cell in the same column
    const baseCell = model.baselineRowKey ? model.cells.get(cellKey(model.baselineRowKey, v.columnKey))?.figures?.tokensPerJ : undefined;
    row.baselineRatio = s && baseCell && baseCell.n > 0 && baseCell.mean > 0 ? s.tokensPerJ.mean / baseCell.mean : undefined;
    if (model.cost && s && s.joulesPerToken.n > 0) {
      const pue = model.cost.inputs.pue ?? 1;
      const kwh = s.joulesPerToken.mean / 3.6;
      row.deviceKWhPerMTok = kwh;
      row.facilityKWhPerMTok = kwh * pue;
      row.costPerMTok = model.cost.inputs.pricePerKWh !== undefined ? kwh * pue * model.cost.inputs.pricePerKWh : undefined;
      row.co2KgPerMTok = model.cost.inputs.carbonGPerKWh !== undefined ? (kwh * pue * model.cost.inputs.carbonGPerKWh) / 1000 : undefined;
    }
    return row;
  });
}

export function renderCsv(model: ReportModel): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const row of csvRows(model)) lines.push(CSV_COLUMNS.map((c) => csvCell(row[c])).join(','));
  return lines.join('\r\n') + '\r\n';
}

// ---------------------------------------------------------------------------------------------------------------
// The view both templates render

/** Marks text that must reach the Markdown output as it is (code-block bodies); everything else is escaped there.
 *  In HTML it is escaped like any string (Handlebars calls toString). */
class Verbatim { constructor(readonly text: string) {} toString() { return this.text; } }

const SHAPE_SYMBOL: Record<string, string> = { circle: '●', 'triangle-up': '▲', diamond: '◆', square: '■', cross: '✚', 'triangle-down': '▼', 'triangle-left': '◀', 'triangle-right': '▶' };

export interface ChartsRendered {
  efficiency: string | null;
  scatter: Array<{ column: string; svg: string }>;
  /** One chart per load kind that has a sweep (serve runs at two or more load levels); empty without one. */
  serving: Array<{ loadKind: 'closed' | 'open'; axis: string; sweeps: string[]; svg: string }>;
  /** Per run index: drawn, missing (no usable samples file: note says why) or omitted (over --max-power-charts). */
  power: Map<number, { state: 'drawn'; svg: string; note: string } | { state: 'missing' | 'omitted'; svg: null; note: string }>;
}

function kv(pairs: Array<[string, unknown]>): Array<{ k: string; v: string }> {
  return pairs.filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => ({ k, v: String(v) }));
}

const DEVICE_HEADINGS: Record<string, string> = {
  id: 'id', name: 'name', vendor: 'vendor', kind: 'kind', index: 'index', memoryMiB: 'memory', powerLimitW: 'power limit', tdpW: 'TDP',
  driverVersion: 'driver', firmwareVersion: 'firmware', busId: 'bus id', partition: 'partition', uuid: 'UUID', serial: 'serial',
};

function runDetail(v: RunView, row: ReportModel['rows'][number], power: ChartsRendered['power']) {
  const r = v.result;
  const devKeys = ['id', 'name', 'vendor', 'kind', 'index', 'memoryMiB', 'powerLimitW', 'tdpW', 'driverVersion', 'firmwareVersion', 'busId', 'partition', 'uuid', 'serial'] as const;
  const present = devKeys.filter((k) => r.devices.some((d) => d[k] !== undefined));
  const devCell = (k: (typeof devKeys)[number], x: unknown) => (x === undefined ? DASH : k === 'memoryMiB' ? fmtMiB(x as number) : k === 'powerLimitW' || k === 'tdpW' ? fmtW(x as number) : String(x));
  const config = JSON.stringify(r.workload.config, null, 2);
  const configText = config.length > 20000 ? `${config.slice(0, 20000)}\n… (${config.length - 20000} more characters in the result file)` : config;
  const p = power.get(v.index);
  return {
    anchor: v.anchor, runId: r.runId, path: v.path, status: r.status, createdAt: r.createdAt, chip: v.chipLabel, mark: row.mark,
    workloadName: r.workload.name, column: `${v.modelSize} · ${v.kind}`, basis: basisLabel(v.basis), upgradedFrom: v.upgradedFrom,
    summary: r.summary ? `${fmtStat(r.summary.tokensPerJ)} tokens/J` : 'no headline figure',
    host: kv([['CPU', r.host.cpuModel], ['cores / threads', `${r.host.cpuCores} / ${r.host.cpuThreads}`], ['memory', fmtMiB(r.host.memoryMiB)], ['OS', r.host.os], ['kernel', r.host.kernel], ['arch', r.host.arch], ['host name', r.host.hostname], ['virtualization', r.host.virtualization]]),
    tool: kv([['wattbench', r.tool.version], ['git commit', r.tool.gitCommit], ['created', r.createdAt], ['clock anchor', r.clock.anchorWallTime], ['result file', v.path], ['raw samples', r.rawSamples.file], ['upgraded from schema', v.upgradedFrom]]),
    deviceCols: present.map((k) => ({ k: DEVICE_HEADINGS[k] })),
    devices: r.devices.map((d) => ({ cells: present.map((k) => ({ v: devCell(k, d[k]) })) })),
    software: Object.entries(r.software).sort((a, b) => a[0].localeCompare(b[0])).map(([k, x]) => ({ k, v: x })),
    workload: kv([['id', r.workload.id], ['name', r.workload.name], ['kind', r.workload.kind], ['model size', r.workload.modelSize], ['parameters', typeof r.workload.parameters === 'number' ? r.workload.parameters.toLocaleString('en-US') : undefined], ['dtype', r.workload.dtype], ['backend', r.workload.backend]]),
    config: new Verbatim(configText), configFence: new Verbatim(mdFence(configText)),
    settings: kv([['repetitions', r.settings.repetitions], ['max repetitions', r.settings.maxRepetitions], ['target CI', r.settings.targetCiPct !== undefined ? `${r.settings.targetCiPct}%` : undefined], ['idle baseline', fmtS(r.settings.idleS)], ['cooldown', fmtS(r.settings.cooldownS)], ['interval', fmtMs(r.settings.intervalMs)], ['timeout', r.settings.timeoutS !== undefined ? fmtS(r.settings.timeoutS) : undefined], ['source requested', r.settings.sourceRequested], ['suite', r.settings.suite ? `${r.settings.suite.path}${r.settings.suite.entry ? ` (${r.settings.suite.entry})` : ''} sha256 ${r.settings.suite.sha256.slice(0, 12)}…` : undefined]]),
    sources: r.sources.flatMap((s) => s.state === 'used'
      ? [{ id: s.id, text: `scope ${s.scope}; ${s.semantics.kind}; ${s.sampleCount} samples; requested ${fmtMs(s.requestedIntervalMs)}, achieved ${s.achievedIntervalMs ? `${fmtMs(s.achievedIntervalMs.median)} median` : 'not recorded'}; ${s.gaps.length} gap(s), ${s.restarts} restart(s)${s.command?.length ? `; command: ${s.command.join(' ')}` : ''}${s.note ? `; ${s.note}` : ''}` }]
      : []),
    // the reasons repeat across runs on one host: they are listed once, under Methodology
    notUsed: r.sources.filter((s) => s.state !== 'used').map((s) => `${s.id} (${s.state})`).join(', '),
    reps: r.repetitions.map((x) => ({
      index: repetitionNumber(x.index), status: x.status, headline: x.headline === false ? 'no' : 'yes',
      duration: fmtS(x.window?.durationS), tokens: x.tokens ? x.tokens.total.toLocaleString('en-US') : DASH,
      energy: x.figures ? `${fmtNum(x.figures.energyJ)} J` : DASH, power: fmtW(x.figures?.meanPowerW), tps: fmtNum(x.figures?.tokensPerS), tpj: fmtNum(x.figures?.tokensPerJ),
    })),
    errors: r.errors.map((e) => ({ code: e.code, message: e.message, repetition: e.repetition !== undefined ? repetitionNumber(e.repetition) : undefined, stderrTail: e.stderrTail ? new Verbatim(e.stderrTail) : undefined, stderrFence: e.stderrTail ? new Verbatim(mdFence(e.stderrTail)) : undefined })),
    powerNote: p ? p.note : '',
    cluster: r.cluster ? clusterDetail(r) : null,
  };
}

/** Devices as a person would list them: "H100 ×8"; their ids where the result names none. */
function deviceSummary(r: WattbenchResult, ids: string[]): string {
  const byName = new Map<string, number>();
  for (const id of ids) {
    const name = r.devices.find((d) => d.id === id)?.name ?? id;
    byName.set(name, (byName.get(name) ?? 0) + 1);
  }
  return [...byName.entries()].map(([n, k]) => (k > 1 ? `${n} ×${k}` : n)).join(', ') || DASH;
}

/** A merged run's cluster: the job, how its clocks were aligned, and one row per node. */
function clusterDetail(r: WattbenchResult) {
  const c = r.cluster!;
  const align = clusterAlignmentMs(c);
  const energyOf = (n: (typeof c.nodes)[number]) => n.repetitionEnergyJ.reduce((a, b) => a + b, 0);
  const totalJ = c.nodes.reduce((a, n) => a + energyOf(n), 0);
  return {
    kv: kv([['scheduler', c.scheduler], ['job id', c.jobId], ['job name', c.jobName], ['nodes', c.nodeCount],
      ['reference clock', nodeNameOf(c, c.referenceNode)], ['rank 0 (window events) on', nodeNameOf(c, c.eventsNode)],
      ['largest clock offset', fmtMs(c.skewMs)], ['skew limit', fmtMs(c.maxSkewMs)],
      ['clock alignment', align !== null ? `within ${fmtMs(align)}` : 'not known: a node\'s offset was not measured']]),
    nodes: c.nodes.map((n) => {
      const j = energyOf(n);
      const roles = [n.index === c.referenceNode ? 'reference clock' : '', n.index === c.eventsNode ? 'rank 0' : ''].filter(Boolean).join(', ');
      return {
        index: String(n.index), name: n.name, roles: roles || DASH, source: `${n.sourceId} (${n.scope})`, devices: deviceSummary(r, n.deviceIds),
        samples: n.sampleCount.toLocaleString('en-US'), energy: `${fmtNum(j)} J`, share: totalJ > 0 ? `${fmtNum((100 * j) / totalJ)}%` : DASH,
        offsetStart: fmtOffset(n.clock.offsetStartMs, n.clock.rttStartMs), offsetEnd: fmtOffset(n.clock.offsetEndMs, n.clock.rttEndMs),
        ntp: n.ntpOffsetMs !== undefined ? fmtMs(n.ntpOffsetMs) : DASH, cpu: n.cpuModel ?? DASH,
      };
    }),
  };
}

/** Load as a person would say it: "concurrency 8" (closed loop) or "4 req/s (max 16 in flight)" (open loop). */
export function loadLabel(load: ServingRow['load']): string {
  if (!load) return DASH;
  if (load.kind === 'closed') return load.concurrency !== undefined ? `concurrency ${load.concurrency}` : 'closed loop';
  const rate = load.rateRps !== undefined ? `${fmtNum(load.rateRps)} req/s` : 'open loop';
  return load.maxConcurrency !== undefined ? `${rate} (max ${load.maxConcurrency} in flight)` : rate;
}

function servingView(sr: ServingRow, v: RunView, mark: string) {
  return {
    anchor: v.anchor, runId: v.result.runId, chip: v.chipLabel, mark, model: sr.model, load: loadLabel(sr.load),
    ok: String(sr.requestsOk), failed: String(sr.requestsFailed), hasFailed: sr.requestsFailed > 0,
    ttftP50: fmtNum(sr.ttftP50Ms), ttftP99: fmtNum(sr.ttftP99Ms), tpotP50: fmtNum(sr.tpotP50Ms), tpotP99: fmtNum(sr.tpotP99Ms),
    itlP50: fmtNum(sr.itlP50Ms), itlP99: fmtNum(sr.itlP99Ms), e2eP50: fmtNum(sr.e2eP50Ms), e2eP99: fmtNum(sr.e2eP99Ms),
    tps: fmtStat(sr.outputTokensPerS), goodput: sr.goodputPct !== null ? `${fmtNum(sr.goodputPct)}%` : DASH, tpj: fmtStat(sr.outputTokensPerJ),
  };
}

/** Per run index, per device: one Diagnostics per measured window, from the raw samples of the runs that were read. */
export function deviceDiagnosticsOf(traces: Map<number, TraceOutcome>): Map<number, Map<string, Diagnostics[]>> {
  const out = new Map<number, Map<string, Diagnostics[]>>();
  for (const [i, t] of traces) if (t.state === 'ok' && t.windowDiagnostics.size) out.set(i, t.windowDiagnostics);
  return out;
}

const pct = (x: number | null) => (x === null ? DASH : `${fmtReading(x)}%`);

/** The text of a telemetry row's throttle cell; the throttled mark itself is a separate flag the templates show. */
function throttleText(t: Telemetry | null): string {
  if (!t) return DASH;
  if (!t.throttled) return 'none recorded';
  return t.throttleReasons.length ? t.throttleReasons.join(', ') : 'reason not recorded';
}

function telemetryView(row: TelemetryRow, v: RunView, mark: string) {
  const t = row.telemetry;
  const lo = t?.smClockMinMHz ?? null, hi = t?.smClockMaxMHz ?? null;
  return {
    anchor: v.anchor, runId: v.result.runId, chip: v.chipLabel, mark, isDevice: row.deviceId !== null,
    device: row.deviceId ?? (v.deviceCount > 1 ? `all ${v.deviceCount} devices` : measuredDevices(v.result)[0]?.id ?? DASH),
    windows: t ? String(t.windows) : DASH,
    temp: fmtReading(t?.maxTemperatureC),
    clock: lo === null || hi === null ? DASH : lo === hi ? fmtReading(hi) : `${fmtReading(lo)}–${fmtReading(hi)}`,
    drop: pct(t?.smClockDropPct ?? null), util: pct(t?.meanUtilizationPct ?? null), mem: fmtMiB(t?.maxMemoryUsedMiB),
    throttled: t?.throttled ?? false, throttle: throttleText(t),
  };
}

export function buildView(model: ReportModel, invalid: LoadedBad[], charts: ChartsRendered, opts: ReportOptions, deviceDiagnostics: Map<number, Map<string, Diagnostics[]>> = new Map()) {
  const rowsByKey = new Map(model.rows.map((r) => [r.key, r]));
  const baseline = model.baselineRowKey ? rowsByKey.get(model.baselineRowKey)! : null;
  const matrixRows = model.rows.map((row) => ({
    label: row.chipLabel, mark: row.mark, basis: basisLabel(row.basis), isBaseline: row.isBaseline,
    cells: model.columns.map((col) => {
      const c = model.cells.get(cellKey(row.key, col.key));
      const f = c?.figures;
      if (!c) return { empty: true, text: '' };
      if (!f || f.tokensPerJ.n === 0) return { empty: true, text: 'no headline figure', runs: c.runIndexes.length };
      return {
        empty: false, best: c.best, mark: row.mark,
        tpj: fmtNum(f.tokensPerJ.mean), ci: f.tokensPerJ.ci95HalfWidth !== null ? fmtNum(f.tokensPerJ.ci95HalfWidth, 2) : null,
        ratio: row.isBaseline ? 'baseline' : c.ratio === null ? 'no baseline figure here' : fmtRatio(c.ratio), noRatio: !row.isBaseline && c.ratio === null,
        tps: fmtNum(f.tokensPerS.mean), w: fmtNum(f.meanPowerW.mean), jpt: fmtNum(f.joulesPerToken.mean),
        runs: f.runs, reps: f.reps, cv: f.tokensPerJ.cvPct !== null ? `${fmtNum(f.tokensPerJ.cvPct, 2)}%` : DASH,
      };
    }),
  }));
  const cellTable = model.rows.flatMap((row) => model.columns.flatMap((col) => {
    const c = model.cells.get(cellKey(row.key, col.key));
    if (!c) return [];
    const f = c.figures;
    return [{
      chip: row.chipLabel, mark: row.mark, column: col.label, best: c.best, runs: c.runIndexes.length, reps: f?.reps ?? 0,
      tpj: fmtStat(f?.tokensPerJ), ratio: row.isBaseline ? 'baseline' : fmtRatio(c.ratio), tps: fmtStat(f?.tokensPerS), w: fmtStat(f?.meanPowerW), jpt: fmtStat(f?.joulesPerToken),
      idleTpj: fmtStat(f?.idleSubtractedTokensPerJ), cv: f && f.tokensPerJ.cvPct !== null ? `${fmtNum(f.tokensPerJ.cvPct, 2)}%` : DASH,
    }];
  }));
  const gradeCounts = new Map<string, number>();
  for (const v of model.runs) gradeCounts.set(v.basis.grade, (gradeCounts.get(v.basis.grade) ?? 0) + 1);
  const runMethods = model.runs.map((v) => runMethod(v, rowsByKey.get(v.rowKey)!.mark));
  const powerList = model.runs.map((v) => {
    const p = charts.power.get(v.index);
    return { anchor: v.anchor, runId: v.result.runId, chip: v.chipLabel, mark: rowsByKey.get(v.rowKey)!.mark, column: `${v.modelSize} · ${v.kind}`, state: p?.state ?? 'omitted', svg: p?.svg ?? null, note: p?.note ?? '', idle: v.result.idle ? fmtW(v.result.idle.powerW) : null };
  });
  const charted = powerList.filter((p) => p.state === 'drawn');
  const powerMissing = powerList.filter((p) => p.state === 'missing');
  const powerOmitted = powerList.filter((p) => p.state === 'omitted');
  const toolVersions = [...new Set(model.runs.map((v) => v.result.tool.version))].join(', ');
  const cost = model.cost ? {
    currency: model.cost.inputs.currency,
    price: model.cost.inputs.pricePerKWh !== undefined ? `${model.cost.inputs.currency}${model.cost.inputs.pricePerKWh} per kWh` : null,
    pue: model.cost.inputs.pue !== undefined ? String(model.cost.inputs.pue) : '1 (assumed: no --pue given)',
    carbon: model.cost.inputs.carbonGPerKWh !== undefined ? `${model.cost.inputs.carbonGPerKWh} gCO2/kWh` : null,
    hasPrice: model.cost.inputs.pricePerKWh !== undefined, hasCarbon: model.cost.inputs.carbonGPerKWh !== undefined,
    rows: model.cost.rows.map((c) => ({
      chip: c.chipLabel, mark: c.mark, column: c.column, jpt: fmtNum(c.joulesPerToken), kwh: fmtNum(c.deviceKWhPerMTok), facility: fmtNum(c.facilityKWhPerMTok),
      cost: c.costPerMTok !== null ? `${model.cost!.inputs.currency}${fmtNum(c.costPerMTok)}` : DASH, co2: c.co2KgPerMTok !== null ? fmtNum(c.co2KgPerMTok) : DASH,
    })),
  } : null;
  const warnedRuns = runMethods.filter((m) => m.warnings.length);
  const servingRows = servingRowsOf(model.runs);
  const telemetryRows = telemetryRowsOf(model.runs, deviceDiagnostics);
  const telemetryRunRows = telemetryRows?.filter((t) => t.deviceId === null) ?? [];
  return {
    title: opts.title ?? 'wattbench report',
    generatedAt: opts.generatedAt ?? new Date().toISOString(),
    toolVersions,
    counts: { runs: model.runs.length, chips: new Set(model.rows.map((r) => r.chipKey)).size, columns: model.columns.length, invalid: invalid.length, warnedRuns: warnedRuns.length },
    baseline: baseline ? { label: baseline.chipLabel, basis: basisLabel(baseline.basis) } : null,
    basisNotes: model.basisNotes.map((n) => ({ mark: n.mark, text: n.text, runs: n.runs })),
    hasMarks: model.basisNotes.length > 0,
    columns: model.columns.map((c) => ({ label: c.label, modelSize: c.modelSize, kind: c.kind })),
    matrixRows, cellTable,
    // absent (null) when no run carries device telemetry, so neither template shows the table
    telemetry: telemetryRows ? {
      rows: telemetryRows.map((t) => telemetryView(t, model.runs[t.runIndex]!, rowsByKey.get(model.runs[t.runIndex]!.rowKey)!.mark)),
      throttledRuns: telemetryRunRows.filter((t) => t.telemetry?.throttled).length,
      runs: telemetryRunRows.filter((t) => t.telemetry).length,
      perDevice: telemetryRows.some((t) => t.deviceId !== null),
    } : null,
    // absent (null) without a serve run, so neither template shows the section
    serving: servingRows.length ? { rows: servingRows.map((sr) => servingView(sr, model.runs[sr.runIndex]!, rowsByKey.get(model.runs[sr.runIndex]!.rowKey)!.mark)), charted: charts.serving.length > 0 } : null,
    charts: {
      efficiency: charts.efficiency, scatter: charts.scatter, serving: charts.serving,
      chipLegend: chipColors(model).map((c) => ({ label: c.label, style: `background:${c.color}` })),
      basisLegend: [
        ...(model.referenceBasis ? [{ symbol: SHAPE_SYMBOL.circle, text: `${basisLabel(model.referenceBasis)} (the baseline's basis)` }] : []),
        ...model.basisNotes.map((n) => ({ symbol: SHAPE_SYMBOL[basisShape(model, n.mark)] ?? '?', text: `${n.mark} ${basisLabel(n.basis)}` })),
      ],
      power: charted, powerMissing, powerOmitted: powerOmitted.length ? { count: powerOmitted.length, limit: opts.maxPowerCharts ?? DEFAULT_MAX_POWER_CHARTS, first: powerOmitted.slice(0, 10) } : null,
    },
    methodology: {
      sources: sourceGroups(model.runs),
      notUsed: sourcesNotUsed(model.runs),
      grades: [...gradeCounts.entries()].sort().map(([grade, n]) => ({ grade, text: GRADE_TEXT[grade] ?? grade, runs: n })),
      runs: runMethods, warnedRuns,
      idleRuns: model.runs.filter((v) => v.result.idle).length,
      allIdle: model.runs.every((v) => v.result.idle),
      clusters: model.runs.flatMap((v) => (v.result.cluster ? [{ anchor: v.anchor, runId: v.result.runId, sentence: clusterSentence(v.result.cluster) }] : [])),
    },
    cost,
    runs: model.runs.map((v) => runDetail(v, rowsByKey.get(v.rowKey)!, charts.power)),
    invalid: invalid.map((i) => ({ path: i.path, reason: i.reason, problems: (i.problems ?? []).slice(0, 5).map((p) => `${p.pointer}: ${p.message}`), more: Math.max(0, (i.problems?.length ?? 0) - 5) })),
    upgraded: model.runs.filter((v) => v.upgradedFrom !== undefined).map((v) => ({ path: v.path, from: v.upgradedFrom })),
  };
}

export type ReportView = ReturnType<typeof buildView>;

/** Deep copy with every string Markdown-escaped; Verbatim parts (code-block bodies) pass as they are. */
function mdEscapeDeep(x: unknown): unknown {
  if (typeof x === 'string') return mdEscape(x);
  if (x instanceof Verbatim) return x.text;
  if (Array.isArray(x)) return x.map(mdEscapeDeep);
  if (x && typeof x === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) out[k] = k === 'svg' || k === 'efficiency' ? undefined : mdEscapeDeep(v);
    return out;
  }
  return x;
}

let mdTemplate: Handlebars.TemplateDelegate | undefined;
let htmlTemplate: Handlebars.TemplateDelegate | undefined;
let css: string | undefined;

function helpers(h: typeof Handlebars) {
  h.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  h.registerHelper('inc', (n: number) => n + 1);
  h.registerHelper('lower', (s: unknown) => String(s ?? '').toLowerCase());
  h.registerHelper('plural', (n: number, one: string, many: string) => (n === 1 ? one : many));
}

export function renderMarkdown(view: ReportView): string {
  if (!mdTemplate) {
    const md = Handlebars.create();
    helpers(md);
    mdTemplate = md.compile(tpl('report.md.hbs'), { noEscape: true, strict: false });
  }
  return mdTemplate(mdEscapeDeep(view)).replace(/\n{3,}/g, '\n\n');
}

export function renderHtml(view: ReportView): string {
  if (!htmlTemplate) {
    const h = Handlebars.create();
    helpers(h);
    htmlTemplate = h.compile(tpl('report.html.hbs'), { strict: false });
    css = tpl('report.css');
  }
  // SVG from vega is inserted as markup ({{{svg}}}); vega escapes every text it writes. Verbatim parts render
  // through their toString and are escaped like any other string.
  return htmlTemplate({ ...view, css });
}

// ---------------------------------------------------------------------------------------------------------------
// Charts and I/O

/** Which runs get a power chart: first one per matrix cell (so every cell is shown), then the rest in order. */
export function powerChartRuns(model: ReportModel, max: number): number[] {
  const chosen: number[] = [];
  const seen = new Set<string>();
  for (const v of model.runs) {
    const k = cellKey(v.rowKey, v.columnKey);
    if (!seen.has(k) && chosen.length < max) { seen.add(k); chosen.push(v.index); }
  }
  for (const v of model.runs) if (chosen.length < max && !chosen.includes(v.index)) chosen.push(v.index);
  return chosen.sort((a, b) => a - b);
}

export async function renderCharts(model: ReportModel, traces: Map<number, TraceOutcome>, maxPowerCharts: number): Promise<ChartsRendered> {
  const cache: ChartCache = new Map();
  const eff = efficiencySpec(model);
  const efficiency = eff ? await renderSvg(eff) : null;
  const scatter: ChartsRendered['scatter'] = [];
  const scatterChart = scatterSpec(model);
  for (const col of model.columns) {
    const data = scatterData(model, col.key);
    if (data) scatter.push({ column: col.label, svg: await renderSvg(scatterChart, data, cache, 'scatter') });
  }
  const power: ChartsRendered['power'] = new Map();
  for (const v of model.runs) {
    const t = traces.get(v.index);
    if (!t) { power.set(v.index, { state: 'omitted', svg: null, note: `not drawn: over the limit of ${maxPowerCharts} power charts (raise --max-power-charts)` }); continue; }
    if (t.state === 'missing') { power.set(v.index, { state: 'missing', svg: null, note: `${t.reason}; power chart skipped` }); continue; }
    // SM clock and temperature panels only where the samples carry those readings; otherwise the chart is unchanged
    const panels = panelsOf(t.trace);
    const data = powerData(v, t.trace, panels);
    const multi = t.trace.devices.length > 1;
    const drawnPanels = TELEMETRY_PANELS.filter((p) => panels.includes(p.key)).map((p) => p.title);
    power.set(v.index, data
      ? { state: 'drawn', svg: await renderSvg(powerSpec(multi, panels), data, cache, `power-${multi}-${panels.join('+')}`), note: `${t.trace.sampleCount.toLocaleString('en-US')} readings${drawnPanels.length || panels.includes('throttled') ? `; under the power: ${[...drawnPanels, ...(panels.includes('throttled') ? ['throttled periods'] : [])].join(', ')}` : ''}` }
      : { state: 'missing', svg: null, note: 'no power readings to draw' });
  }
  const sweeps = servingSweepsOf(model);
  const serving: ChartsRendered['serving'] = [];
  for (const loadKind of ['closed', 'open'] as const) {
    const spec = servingSpec(sweeps, loadKind);
    if (spec) serving.push({ loadKind, axis: LOAD_AXIS[loadKind], sweeps: sweeps.filter((s) => s.loadKind === loadKind).map((s) => s.label), svg: await renderSvg(spec) });
  }
  return { efficiency, scatter, power, serving };
}

export async function readTraces(model: ReportModel, runIndexes: number[]): Promise<Map<number, TraceOutcome>> {
  const out = new Map<number, TraceOutcome>();
  // results cloned from one run share one samples file: read it once (per set of windows, which the per-device
  // telemetry is folded over)
  const cache = new Map<string, Promise<TraceOutcome>>();
  await Promise.all(runIndexes.map(async (i) => {
    const v = model.runs[i]!;
    const windows = measuredWindows(v.result).map((w) => ({ startS: w.startS, endS: w.endS }));
    const key = `${samplesPathOf(v.path, v.result.rawSamples.file)}\u0000${JSON.stringify(windows)}`;
    let p = cache.get(key);
    if (!p) { p = readPowerTrace(v.path, v.result.rawSamples.file, undefined, windows); cache.set(key, p); }
    out.set(i, await p);
  }));
  return out;
}

export interface ReportTimings { modelMs: number; tracesMs: number; chartsMs: number; htmlMs: number; mdMs: number; csvMs: number; writeMs: number }

/** Everything writeReport does, returning the texts (and phase timings, for bench/report.ts). */
/** The same run reached twice (a copied file, overlapping globs) would count twice in a pooled cell: keep the first. */
export function dropDuplicates(results: LoadedOk[], invalid: LoadedBad[]): { results: LoadedOk[]; invalid: LoadedBad[] } {
  const first = new Map<string, string>();
  const kept: LoadedOk[] = [];
  const dropped: LoadedBad[] = [];
  for (const l of results) {
    const seen = first.get(l.result.runId);
    if (seen === undefined) { first.set(l.result.runId, l.path); kept.push(l); }
    else dropped.push({ path: l.path, reason: `same runId (${l.result.runId}) as ${seen}, which is included; a run is counted once` });
  }
  return { results: kept, invalid: [...invalid, ...dropped] };
}

export async function buildReport(allResults: LoadedOk[], allInvalid: LoadedBad[], opts: ReportOptions): Promise<{ html: string; md: string; csv: string; model: ReportModel; timings: Omit<ReportTimings, 'writeMs'> }> {
  const t0 = performance.now();
  const { results, invalid } = dropDuplicates(allResults, allInvalid);
  const baselineRowKey = opts.baseline ? (() => { const m = matchBaseline(buildRunViews(results), opts.baseline!); return m.ok ? m.rowKey : undefined; })() : undefined;
  const model = buildModel(results, { baselineRowKey, cost: { currency: opts.currency, pricePerKWh: opts.pricePerKWh, pue: opts.pue, carbonGPerKWh: opts.carbonGPerKWh } });
  const t1 = performance.now();
  const max = opts.maxPowerCharts ?? DEFAULT_MAX_POWER_CHARTS;
  const traces = await readTraces(model, powerChartRuns(model, max));
  const t2 = performance.now();
  const charts = await renderCharts(model, traces, max);
  const t3 = performance.now();
  const view = buildView(model, invalid, charts, opts, deviceDiagnosticsOf(traces));
  const html = renderHtml(view);
  const t4 = performance.now();
  const md = renderMarkdown(view);
  const t5 = performance.now();
  const csv = renderCsv(model);
  const t6 = performance.now();
  return { html, md, csv, model, timings: { modelMs: t1 - t0, tracesMs: t2 - t1, chartsMs: t3 - t2, htmlMs: t4 - t3, mdMs: t5 - t4, csvMs: t6 - t5 } };
}

export async function writeReport(results: LoadedOk[], invalid: LoadedBad[], outDir: string, opts: ReportOptions): Promise<string[]> {
  const { html, md, csv } = await buildReport(results, invalid, opts);
  await makeDir(outDir); // not fs.mkdir recursive: it spins forever under /proc
  const files: Array<[string, string]> = [['report.html', html], ['report.md', md], ['results.csv', csv]];
  for (const [name, text] of files) await writeFileAtomic(join(outDir, name), text);
  return files.map(([n]) => join(outDir, n));
}
