// Chart specs (vega-lite) and their rendering to inline SVG, at report time, in Node, with no browser: vega-lite
// compiles each spec to vega, and a headless vega View (renderer 'none') writes the SVG. vega escapes every text
// it writes into the SVG (labels, aria-labels), so data-derived names stay data.
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { ReportModel, RunView, ServingSweep } from './model.js';
import { cellKey } from './model.js';
import { repetitionNumber } from '../results/warnings.js';

/** A telemetry reading over time (SM clock, temperature), reduced for drawing like the power trace. */
export interface Series { tS: number[]; values: number[] }

/** A span on the run clock, both ends in seconds. */
export interface Interval { startS: number; endS: number }

export interface PowerTrace {
  /**
   * One series per device, already reduced for drawing; the panels' series only where the samples carry them.
   * `throttled`: where the device's samples carry throttle readings, the periods with an active reason (empty when
   * it never throttled), merged to the chart's pixel resolution.
   */
  devices: Array<{ deviceId: string; tS: number[]; powerW: number[]; smClockMHz?: Series; temperatureC?: Series; throttled?: Interval[] }>;
  sampleCount: number;
}

/** Plot width of the power chart and its panels: the resolution the throttled periods are merged to. */
export const POWER_CHART_WIDTH_PX = 860;

const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
// Colour-blind-safe categorical palette (Okabe & Ito), then Tableau 10 for more chips.
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000', '#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

const CONFIG = {
  font: FONT,
  background: 'transparent',
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 600, gridColor: '#e6e9ef', domainColor: '#8a93a3', tickColor: '#8a93a3', labelColor: '#3b4252', titleColor: '#1d2330' },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 420, titleLimit: 420, symbolSize: 90, labelColor: '#3b4252' },
  title: { fontSize: 13, fontWeight: 600, anchor: 'start', color: '#1d2330', limit: 900 },
};

type Spec = Record<string, unknown>;

// vega-lite's advisory warnings (e.g. about independent scales in facets) would land on the user's terminal in
// the middle of `wattbench report`; the charts are checked by the tests instead, and real errors still throw.
const quiet = {
  level(_l?: number) { return quiet; },
  error(...args: readonly unknown[]) { throw new Error(`vega-lite: ${args.map(String).join(' ')}`); },
  warn() { return quiet; }, info() { return quiet; }, debug() { return quiet; },
};

/** Compiled charts by key, so a chart drawn many times (one per run) is compiled and parsed once. */
export type ChartCache = Map<string, vega.Runtime>;

/**
 * Render a vega-lite spec to an SVG string without a browser. `data` fills the spec's named datasets; with a
 * cache and key, the spec is compiled once and only the data changes between calls (compiling and parsing is
 * most of the cost of a small chart).
 */
export async function renderSvg(spec: Spec, data?: Record<string, unknown[]>, cache?: ChartCache, key?: string): Promise<string> {
  let runtime = cache && key ? cache.get(key) : undefined;
  if (!runtime) {
    const compiled = vl.compile({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: CONFIG, ...spec } as vl.TopLevelSpec, { logger: quiet as never }).spec;
    runtime = vega.parse(compiled);
    if (cache && key) cache.set(key, runtime);
  }
  const view = new vega.View(runtime, { renderer: 'none', logLevel: vega.Error });
  try {
    for (const [name, values] of Object.entries(data ?? {})) view.data(name, values);
    const svg = await view.toSVG();
    // a fixed width would overflow narrow screens: keep the viewBox, let CSS size it
    return svg.replace(/^<svg([^>]*?) width="(\d+(?:\.\d+)?)" height="(\d+(?:\.\d+)?)"/, (_m, a: string, w: string, h: string) => `<svg${a} width="${w}" height="${h}" style="max-width:100%;height:auto" role="img"`);
  } finally {
    view.finalize();
  }
}

export function rowLegendLabel(chipLabel: string, mark: string): string {
  return mark ? `${chipLabel} ${mark}` : chipLabel;
}

/** Colour of each chip row: a fixed mapping, so every chart and the HTML legend agree. */
export function chipColors(model: ReportModel): Array<{ label: string; color: string; mark: string }> {
  return model.rows.map((r, i) => ({ label: rowLegendLabel(r.chipLabel, r.mark), color: PALETTE[i % PALETTE.length]!, mark: r.mark }));
}

function colorScale(model: ReportModel) {
  const c = chipColors(model);
  return { domain: c.map((x) => x.label), range: c.map((x) => x.color) };
}

/**
 * Efficiency by chip and model size: one panel per column (model size × workload), each with its own y scale —
 * tokens per joule differs by orders of magnitude between model sizes, and one shared axis would flatten the
 * small models to nothing. Bars are the mean, whiskers the 95% CI.
 */
export function efficiencySpec(model: ReportModel): Spec | null {
  const values: Array<Record<string, unknown>> = [];
  const chipOrder = model.rows.map((r) => rowLegendLabel(r.chipLabel, r.mark));
  for (const col of model.columns) {
    for (const row of model.rows) {
      const f = model.cells.get(cellKey(row.key, col.key))?.figures;
      if (!f || f.tokensPerJ.n === 0) continue;
      values.push({ column: col.label, chip: rowLegendLabel(row.chipLabel, row.mark), tpj: f.tokensPerJ.mean, lo: f.tokensPerJ.ci95Low, hi: f.tokensPerJ.ci95High, ref: row.mark === '' });
    }
  }
  if (!values.length) return null;
  return {
    title: 'Tokens per joule by chip and model size',
    data: { values },
    columns: Math.min(4, model.columns.length),
    facet: { field: 'column', type: 'nominal', sort: model.columns.map((c) => c.label), title: null, header: { labelFontSize: 12, labelFontWeight: 600, labelLimit: 240, labelColor: '#1d2330' } },
    spec: {
      width: { step: 34 }, height: 200,
      encoding: {
        x: { field: 'chip', type: 'nominal', sort: chipOrder, axis: null, title: null },
        // colours follow the chip legend printed once above the charts (chipColors)
        color: { field: 'chip', type: 'nominal', scale: colorScale(model), legend: null },
      },
      layer: [
        {
          mark: { type: 'bar', stroke: '#1d2330' },
          encoding: {
            y: { field: 'tpj', type: 'quantitative', title: 'tokens per joule' },
            opacity: { condition: { test: 'datum.ref', value: 1 }, value: 0.45 },
            strokeWidth: { condition: { test: 'datum.ref', value: 0 }, value: 1.2 },
            strokeDash: { condition: { test: 'datum.ref', value: [1, 0] }, value: [3, 2] },
          },
        },
        {
          // no transform here (a filtered layer would fork the data source under independent scales): vega-lite
          // drops rules whose ends are null on its own, which is what runs with one repetition have
          mark: { type: 'rule', strokeWidth: 1.4 },
          encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color: { value: '#1d2330' } },
        },
      ],
    },
    resolve: { scale: { y: 'independent', x: 'independent' } },
  };
}

/**
 * Pareto front on (power, throughput): runs that no other run beats on both counts (no more power and at least
 * as much throughput, one of them strictly). Returned sorted by power.
 */
export function paretoFront<T extends { powerW: number; tokensPerS: number }>(points: T[]): T[] {
  const sorted = [...points].sort((a, b) => a.powerW - b.powerW || b.tokensPerS - a.tokensPerS);
  const front: T[] = [];
  let bestTps = -Infinity;
  for (const p of sorted) {
    if (p.tokensPerS > bestTps) { front.push(p); bestTps = p.tokensPerS; }
  }
  return front;
}

const SHAPES = ['triangle-up', 'diamond', 'square', 'cross', 'triangle-down', 'triangle-left', 'triangle-right'];
/** Point shape of a measurement basis: a circle for the reference basis, another shape for each marked one. */
export function basisShape(model: ReportModel, mark: string): string {
  if (!mark) return 'circle';
  const i = model.basisNotes.findIndex((n) => n.mark === mark);
  return SHAPES[Math.max(0, i) % SHAPES.length]!;
}

/** Throughput against power: the chart, with named datasets 'points' and 'front' (see scatterData). */
export function scatterSpec(model: ReportModel): Spec {
  const x = { field: 'powerW', type: 'quantitative', title: 'mean power in the window (W)', scale: { zero: true, nice: true } };
  const y = { field: 'tokensPerS', type: 'quantitative', title: 'tokens per second', scale: { zero: true, nice: true } };
  return {
    width: 380, height: 230,
    datasets: { points: [], front: [] },
    layer: [
      {
        data: { name: 'front' },
        mark: { type: 'line', interpolate: 'step-after', color: '#8a93a3', strokeDash: [5, 3], strokeWidth: 1.5 },
        encoding: { x, y, order: { field: 'order', type: 'quantitative' } },
      },
      {
        data: { name: 'front' },
        mark: { type: 'point', shape: 'circle', size: 260, filled: false, color: '#1d2330', strokeWidth: 1 },
        encoding: { x, y },
      },
      {
        data: { name: 'points' },
        mark: { type: 'point', filled: true, size: 70, opacity: 0.9 },
        encoding: {
          x, y,
          // colours and shapes follow the legend printed once above the charts (chipColors, basisShape)
          color: { field: 'chip', type: 'nominal', scale: colorScale(model), legend: null },
          shape: { field: 'shape', type: 'nominal', scale: null, legend: null },
        },
      },
    ],
  };
}

/** One point per run of a column (model size × workload), and the Pareto front over the reference basis. */
export function scatterData(model: ReportModel, columnKey: string): { points: unknown[]; front: unknown[] } | null {
  const rowOf = new Map(model.rows.map((r) => [r.key, r]));
  const points = model.runs.filter((r) => r.columnKey === columnKey && r.result.summary && r.result.summary.tokensPerS.n > 0).map((r) => {
    const row = rowOf.get(r.rowKey)!;
    return { runId: r.result.runId, chip: rowLegendLabel(row.chipLabel, row.mark), shape: basisShape(model, row.mark), ref: row.mark === '', powerW: r.result.summary!.meanPowerW.mean, tokensPerS: r.result.summary!.tokensPerS.mean };
  });
  if (!points.length) return null;
  // the front is drawn only over runs on the reference basis: other bases are not the same quantity
  const front = paretoFront(points.filter((p) => p.ref)).map((p, i) => ({ powerW: p.powerW, tokensPerS: p.tokensPerS, order: i }));
  return { points, front };
}

/** The panels of the serving chart, left to right: efficiency first, then the latencies that load trades it for. */
export const SERVING_PANELS = ['output tokens per joule', 'TTFT p50 (ms)', 'TPOT p50 (ms)'] as const;

/** The load axis of each kind of sweep. */
export const LOAD_AXIS: Record<ServingSweep['loadKind'], string> = {
  closed: 'concurrency (requests in flight)',
  open: 'arrival rate (requests per second)',
};

/**
 * Serving sweeps of one load kind (closed: concurrency; open: arrival rate): one line per sweep (chip · model ·
 * endpoint · prompt shape), one panel per figure, each with its own y scale. Whiskers on tokens per joule are the
 * 95% CI. The load axis is logarithmic: sweeps usually double the load (1, 2, 4, … 64), and a linear axis would
 * crowd the low levels, where the latency knee usually is, into one corner. Null without a sweep of that kind.
 */
export function servingSpec(sweeps: ServingSweep[], loadKind: ServingSweep['loadKind']): Spec | null {
  const mine = sweeps.filter((s) => s.loadKind === loadKind);
  if (!mine.length) return null;
  const [tpj, ttft, tpot] = SERVING_PANELS;
  const values: Array<Record<string, unknown>> = [];
  for (const s of mine) {
    for (const p of s.points) {
      const t = p.outputTokensPerJ;
      values.push({ panel: tpj, sweep: s.label, level: p.level, value: t.n > 0 ? t.mean : null, lo: t.ci95Low, hi: t.ci95High });
      values.push({ panel: ttft, sweep: s.label, level: p.level, value: p.ttftP50Ms, lo: null, hi: null });
      values.push({ panel: tpot, sweep: s.label, level: p.level, value: p.tpotP50Ms, lo: null, hi: null });
    }
  }
  // ticks at the levels measured (a log axis would otherwise label 1.2, 1.6, 2.4 … between them)
  const levels = [...new Set(mine.flatMap((s) => s.points.map((p) => p.level)))].sort((a, b) => a - b);
  const x = { field: 'level', type: 'quantitative', title: LOAD_AXIS[loadKind], scale: { type: 'log', base: loadKind === 'closed' ? 2 : 10, nice: false }, axis: { values: levels, format: '~g', labelOverlap: true } };
  return {
    title: loadKind === 'closed' ? 'Serving: efficiency and latency against concurrency' : 'Serving: efficiency and latency against arrival rate',
    data: { values },
    facet: { column: { field: 'panel', type: 'nominal', sort: [...SERVING_PANELS], title: null, header: { labelFontSize: 12, labelFontWeight: 600, labelColor: '#1d2330' } } },
    spec: {
      width: 240, height: 190,
      encoding: {
        x,
        color: { field: 'sweep', type: 'nominal', sort: mine.map((s) => s.label), scale: { range: PALETTE }, legend: { title: null, orient: 'bottom', direction: 'vertical', labelLimit: 0 } },
      },
      layer: [
        { mark: { type: 'line', point: { filled: true, size: 55 }, strokeWidth: 2 }, encoding: { y: { field: 'value', type: 'quantitative', title: null, scale: { zero: true, nice: true } } } },
        // rows without an interval (latency panels, single repetitions) have null ends and are dropped by vega-lite
        { mark: { type: 'rule', strokeWidth: 1.4 }, encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  };
}

/** The panels drawn under the power panel, top to bottom, each only where some device's samples carry it. */
export const TELEMETRY_PANELS = [
  { key: 'smClockMHz', dataset: 'smClock', title: 'SM clock (MHz)', axisTitle: ['SM clock', '(MHz)'] },
  { key: 'temperatureC', dataset: 'temperature', title: 'temperature (°C)', axisTitle: ['temperature', '(°C)'] },
] as const;
export type PanelKey = (typeof TELEMETRY_PANELS)[number]['key'];

/** What a power chart can draw besides the power: the telemetry panels, and the band of throttled periods. */
export type ChartPart = PanelKey | 'throttled';

/** Which telemetry parts a trace can fill: the panels its samples carry, and the band where a device throttled. */
export function panelsOf(trace: PowerTrace): ChartPart[] {
  const parts: ChartPart[] = TELEMETRY_PANELS.filter((p) => trace.devices.some((d) => d[p.key]?.tS.length)).map((p) => p.key);
  if (trace.devices.some((d) => d.throttled?.length)) parts.push('throttled');
  return parts;
}

/**
 * Power over time for one run: the chart, with named datasets 'samples', 'windows', 'idleSpan' and 'levels'
 * (see powerData). The x scale is the union of the samples, the windows and the idle period. With `panels`, the
 * SM clock and temperature are drawn in short panels underneath, on the same x scale and with the same window
 * shading, so a clock drop or a hot spot lines up with the power it came with; without, the chart is as it was.
 * With 'throttled', a thin band under the SM clock panel (under the power when there is none) marks when each
 * device reported an active throttle reason, one lane per device that reports them, captioned "throttled".
 */
export function powerSpec(multiDevice: boolean, panels: ChartPart[] = []): Spec {
  const x = { field: 'tS', type: 'quantitative', title: 'time on the run clock (s)', scale: { nice: false, zero: false } };
  const shading = (xx: Record<string, unknown>) => [
    { data: { name: 'idleSpan' }, mark: { type: 'rect', color: '#d8dee9', opacity: 0.55 }, encoding: { x: { ...xx, field: 'startS' }, x2: { field: 'endS' } } },
    {
      data: { name: 'windows' }, mark: { type: 'rect', opacity: 0.5 },
      encoding: { x: { ...xx, field: 'startS' }, x2: { field: 'endS' }, color: { condition: { test: 'datum.ok', value: '#bfdbfe' }, value: '#fecaca' } },
    },
  ];
  const deviceColor = (legend: unknown) => (multiDevice ? { color: { field: 'device', type: 'nominal', scale: { range: PALETTE }, legend } } : { color: { value: '#0072B2' } });
  const LEGEND = { title: 'device', orient: 'bottom', direction: 'horizontal' };
  const powerLayers = (xx: Record<string, unknown>, legend: unknown) => [
    ...shading(xx),
    {
      data: { name: 'windows' }, mark: { type: 'text', align: 'left', baseline: 'top', dx: 3, dy: 3, fontSize: 10, color: '#1e3a8a' },
      encoding: { x: { ...xx, field: 'startS' }, y: { value: 0 }, text: { field: 'label', type: 'nominal' } },
    },
    {
      data: { name: 'samples' }, mark: { type: 'line', strokeWidth: 1.3, interpolate: 'linear' },
      encoding: {
        x: xx, y: { field: 'powerW', type: 'quantitative', title: 'power (W)', scale: { zero: true } },
        ...deviceColor(legend),
        detail: { field: 'device', type: 'nominal' },
      },
    },
    { data: { name: 'levels' }, mark: { type: 'rule', strokeDash: [6, 3], color: '#b45309', strokeWidth: 1.5 }, encoding: { y: { field: 'powerW', type: 'quantitative' } } },
    {
      data: { name: 'levels' }, mark: { type: 'text', align: 'right', baseline: 'bottom', dy: -2, fontSize: 10, color: '#b45309' },
      encoding: { y: { field: 'powerW', type: 'quantitative' }, x: { value: 'width' }, text: { field: 'label', type: 'nominal' } },
    },
  ];
  const datasets = { samples: [], windows: [], idleSpan: [], levels: [] };
  const wanted = TELEMETRY_PANELS.filter((p) => panels.includes(p.key));
  const throttled = panels.includes('throttled');
  if (!wanted.length && !throttled) return { width: POWER_CHART_WIDTH_PX, height: 170, datasets, layer: powerLayers(x, LEGEND), resolve: { scale: { color: 'independent' } } };
  // one time axis, under the last panel; the ones above keep their grid lines so the eye can follow a moment down
  const inner = { ...x, axis: { title: null, labels: false, ticks: false } };
  // the throttled band goes right under the SM clock, where the drop it explains shows (findIndex -1: under the power)
  const rows: Array<(typeof wanted)[number] | 'band'> = [...wanted];
  if (throttled) rows.splice(wanted.findIndex((p) => p.key === 'smClockMHz') + 1, 0, 'band');
  const bottom = (i: number) => i === rows.length - 1;
  // one lane per device that reports throttle readings, unlabelled (the colour and the legend say which device);
  // the caption is the axis title, level with the band: a band this short has no room for a rotated one
  const lane = { field: 'device', type: 'nominal', title: 'throttled', axis: { labels: false, ticks: false, domain: false, grid: false, titleAngle: 0, titleAlign: 'right', titleBaseline: 'middle', titleFontSize: 11, titlePadding: 6 } };
  const band = (xx: Record<string, unknown>) => ({
    width: POWER_CHART_WIDTH_PX, height: { step: 9 },
    layer: [
      // the lane itself, so a device that reported readings and never throttled shows an empty lane
      { data: { name: 'throttleLanes' }, mark: { type: 'rect', color: '#eef1f5' }, encoding: { y: lane } },
      // the description is what a screen reader says for a mark (vega's default would read the axis titles)
      { data: { name: 'throttled' }, mark: { type: 'rect' }, encoding: { x: { ...xx, field: 'startS' }, x2: { field: 'endS' }, y: lane, ...deviceColor(LEGEND), description: { field: 'label' } } },
    ],
  });
  return {
    datasets: { ...datasets, ...Object.fromEntries(wanted.map((p) => [p.dataset, []])), ...(throttled ? { throttled: [], throttleLanes: [] } : {}) },
    // flush: the rows are laid out by their plot areas (the hidden axes of the upper panels would otherwise each
    // keep room for the labels of the bottom one)
    spacing: 14, bounds: 'flush',
    vconcat: [
      { width: POWER_CHART_WIDTH_PX, height: 170, layer: powerLayers(inner, LEGEND) },
      ...rows.map((p, i) => (p === 'band' ? band(bottom(i) ? x : inner) : {
        width: POWER_CHART_WIDTH_PX, height: 72,
        layer: [
          ...shading(bottom(i) ? x : inner),
          {
            data: { name: p.dataset }, mark: { type: 'line', strokeWidth: 1.2, interpolate: 'linear' },
            encoding: {
              x: bottom(i) ? x : inner,
              // not from zero: a clock falling from 1,980 to 1,410 MHz or a few degrees of heat must show
              // two lines: a panel is too short for the title on one
              y: { field: 'value', type: 'quantitative', title: p.axisTitle, scale: { zero: false, nice: true }, axis: { tickCount: 3, titleFontSize: 11 } },
              // one colour scale for all panels (resolved below): a device keeps its colour even where it lacks a reading
              ...deviceColor(LEGEND),
              detail: { field: 'device', type: 'nominal' },
            },
          },
        ],
      })),
    ],
    // one legend, under the whole chart: under the power panel it would cover the panel below
    resolve: { scale: { x: 'shared', color: 'shared' }, legend: { color: 'shared' } },
  };
}

export function powerData(run: RunView, trace: PowerTrace, panels: ChartPart[] = []): Record<string, unknown[]> | null {
  const samples = trace.devices.flatMap((d) => d.tS.map((t, i) => ({ device: d.deviceId, tS: t, powerW: d.powerW[i] })));
  if (!samples.length) return null;
  const r = run.result;
  const windows = r.repetitions.flatMap((rep) => (rep.window ? [{ startS: rep.window.startS, endS: rep.window.endS, label: `rep ${repetitionNumber(rep.index)}`, ok: rep.status === 'ok' }] : []));
  // one idle level per device (the chart draws per-device power); devices at the same level share one label
  const levels = r.idle ? (r.idle.devices.length ? r.idle.devices.map((d) => d.powerW) : [r.idle.powerW]) : [];
  const idleLevels = [...new Map(levels.map((w) => [w.toFixed(1), { powerW: w, label: `idle ${w.toFixed(1)} W${levels.length > 1 ? ' per device' : ''}` }])).values()];
  const out: Record<string, unknown[]> = { samples, windows, idleSpan: r.idle ? [{ startS: r.idle.startS, endS: r.idle.endS }] : [], levels: idleLevels };
  for (const p of TELEMETRY_PANELS) {
    if (!panels.includes(p.key)) continue;
    out[p.dataset] = trace.devices.flatMap((d) => { const s = d[p.key]; return s ? s.tS.map((t, i) => ({ device: d.deviceId, tS: t, value: s.values[i] })) : []; });
  }
  if (panels.includes('throttled')) {
    const s = (x: number) => `${Number(x.toFixed(2))} s`;
    out.throttled = trace.devices.flatMap((d) => (d.throttled ?? []).map((iv) => ({ device: d.deviceId, startS: iv.startS, endS: iv.endS, label: `${d.deviceId} throttled from ${s(iv.startS)} to ${s(iv.endS)}` })));
    out.throttleLanes = trace.devices.flatMap((d) => (d.throttled ? [{ device: d.deviceId }] : []));
  }
  return out;
}

/**
 * Reduce a device's throttled periods (sorted, not overlapping) for drawing, as reduceSeries does a long series:
 * periods less than `resolutionS` (one pixel of the chart) apart merge, and one shorter than that is widened to it,
 * not past `untilS`, so a one-reading throttle in a long run still shows, as a one-pixel mark, the way
 * reduceSeries keeps a one-reading spike. Every mark and every gap is then at least a pixel wide, which bounds the
 * marks by the chart's width. Pure.
 */
export function reduceIntervals(intervals: Interval[], resolutionS: number, untilS = Infinity): Interval[] {
  if (!(resolutionS > 0)) return intervals.map((iv) => ({ ...iv }));
  const out: Interval[] = [];
  for (const iv of intervals) {
    let { startS, endS } = iv;
    if (endS - startS < resolutionS) {
      endS = Math.min(startS + resolutionS, Math.max(untilS, endS));
      startS = Math.min(startS, endS - resolutionS);
    }
    const last = out[out.length - 1];
    if (last && startS - last.endS < resolutionS) last.endS = Math.max(last.endS, endS);
    else out.push({ startS, endS });
  }
  return out;
}

/**
 * Reduce a long series for drawing: per time bucket keep the first, min, max and last reading, so spikes and
 * dips survive (plain decimation would drop them). Pure; keeps order.
 */
export function reduceSeries(tS: number[], powerW: number[], maxPoints = 1200): { tS: number[]; powerW: number[] } {
  const n = tS.length;
  if (n <= maxPoints) return { tS, powerW };
  const buckets = Math.max(1, Math.floor(maxPoints / 4));
  const t0 = tS[0]!, span = tS[n - 1]! - t0 || 1;
  const outT: number[] = [], outP: number[] = [];
  let i = 0;
  for (let b = 0; b < buckets && i < n; b++) {
    const end = b === buckets - 1 ? Infinity : t0 + (span * (b + 1)) / buckets;
    const start = i;
    let lo = i, hi = i;
    while (i < n && tS[i]! < end) {
      if (powerW[i]! < powerW[lo]!) lo = i;
      if (powerW[i]! > powerW[hi]!) hi = i;
      i++;
    }
    if (i === start) continue;
    const keep = [...new Set([start, lo, hi, i - 1])].sort((a, b) => a - b);
    for (const k of keep) { outT.push(tS[k]!); outP.push(powerW[k]!); }
  }
  return { tS: outT, powerW: outP };
}
