// Device telemetry in `wattbench report`: the table (HTML, Markdown, CSV) and the SM clock / temperature panels
// under the power chart, over results whose raw samples carry temperature, clocks and throttle reasons.
//
// Two telemetry runs, both through real code paths:
//   nv-tele   `wattbench run` on the nvidia-smi source, the fake nvidia-smi replaying a capture written here: the
//             driver parses temperature, clocks, utilization, memory and decodes the clock-event mask (1 device)
//   tele-b    the shared two-device replay run (b-smoke), its samples given known telemetry and re-analysed by the
//             real `wattbench analyse` code; device 0 throttles late in every window with a hostile reason string
// plus the shared runs without any telemetry, which must show "–" and draw their power charts as before.
// Both telemetry runs throttle, so their charts also carry the band of throttled periods under the SM clock.
import { describe, it, expect, beforeAll } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeResults, runNvidiaSmiFake, withTelemetry, type MadeResults, type SampleTelemetry } from './make-results.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { validateResult } from '../../results/validate.js';
import { readSampleLog, type Sample } from '../../results/samples.js';
import type { WattbenchResult } from '../../results/types.gen.js';
import { fmtMiB, fmtReading, mdEscape } from '../../reports/format.js';
import { collectResults } from '../../harness/collect.js';
import { buildReport } from '../../reports/index.js';
import { readPowerTrace, throttledIntervals } from '../../reports/trace.js';
import { panelsOf, PALETTE, POWER_CHART_WIDTH_PX, powerData, powerSpec, reduceIntervals, renderSvg, type Interval, type PowerTrace } from '../../reports/charts.js';
import { buildRunViews, type RunView } from '../../reports/model.js';
import { parseCsv } from '../helpers/csv.js';

/** A throttle reason is data: markup, Markdown syntax, a table pipe and a spreadsheet formula, all at once. */
const HOSTILE = '=HYPERLINK("http://x")<img src=x onerror="window.__xss=3">|*_`';

/** Handlebars' HTML escaping (& < > " ' ` =), to state what the HTML must contain for a data string. */
const esc = (x: string) => x.replace(/[&<>"'`=]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;', '`': '&#x60;', '=': '&#x3D;' })[c]!);
const has = (text: string, needle: string) => expect(text.includes(needle), `missing: ${needle}`).toBe(true);
const hasNot = (text: string, needle: string) => expect(text.includes(needle), `present: ${needle}`).toBe(false);


/** The nvidia-smi `-lms` capture the fake replays in a loop (one GPU, 100 ms apart): every window sees all four rows. */
const NV_CAPTURE = `timestamp, index, power.draw [W], power.draw.instant [W], temperature.gpu, clocks.current.sm [MHz], clocks.current.memory [MHz], utilization.gpu [%], memory.used [MiB], clocks_event_reasons.active
2026/03/02 14:05:07.120, 0, 300.00 W, 300.00 W, 71, 1980 MHz, 2619 MHz, 95 %, 30000 MiB, 0x0000000000000000
2026/03/02 14:05:07.220, 0, 310.00 W, 310.00 W, 74, 1755 MHz, 2619 MHz, 97 %, 30100 MiB, 0x0000000000000004
2026/03/02 14:05:07.320, 0, 305.00 W, 305.00 W, 76, 1410 MHz, 2619 MHz, 99 %, 30200 MiB, 0x0000000000000044
2026/03/02 14:05:07.420, 0, 295.00 W, 295.00 W, 72, 1980 MHz, 2619 MHz, 93 %, 30000 MiB, 0x0000000000000001
`;

type Window = { startS: number; endS: number };

/**
 * The throttled periods the chart should mark, per device, straight from the samples: readings that carry a
 * throttleReasons list, in time order; a stretch of non-empty lists runs until the next empty one, or to the
 * device's last sample. Written as grouping, not as the report's loop, so the two can disagree.
 */
function expectedThrottle(samples: Sample[]): Map<string, Interval[]> {
  const out = new Map<string, Interval[]>();
  for (const dev of [...new Set(samples.map((s) => s.deviceId))].sort()) {
    const mine = samples.filter((s) => s.deviceId === dev).sort((a, b) => a.tS - b.tS);
    const readings = mine.filter((s) => Array.isArray(s.throttleReasons));
    if (!readings.length) continue;
    const periods: Interval[] = [];
    readings.forEach((s, i) => {
      const on = s.throttleReasons!.length > 0, wasOn = i > 0 && readings[i - 1]!.throttleReasons!.length > 0;
      if (on && !wasOn) periods.push({ startS: s.tS, endS: NaN });
      if (!on && wasOn) periods[periods.length - 1]!.endS = s.tS;
    });
    if (periods.length && Number.isNaN(periods[periods.length - 1]!.endS)) periods[periods.length - 1]!.endS = mine[mine.length - 1]!.tS;
    out.set(dev, periods);
  }
  return out;
}
/** The screen-reader text of a throttled mark, as the chart writes it (seconds to two decimals). */
const throttleLabel = (dev: string, iv: Interval) => `${dev} throttled from ${Number(iv.startS.toFixed(2))} s to ${Number(iv.endS.toFixed(2))} s`;
/** The <path> marks of one layer of a chart row (concat_<row>_layer_<layer>). */
const marksOf = (svg: string, row: number, layer: number) =>
  [...(new RegExp(`concat_${row}_layer_${layer}_marks"[^>]*>([\\s\\S]*?)</g>`).exec(svg)?.[1] ?? '').matchAll(/<path aria-label="([^"]*)"[^>]*fill="([^"]*)"/g)].map((m) => ({ label: m[1]!, fill: m[2]! }));
const measured = (r: WattbenchResult): Window[] => r.repetitions.flatMap((x) => (x.status === 'ok' && x.window ? [x.window] : []));
const inWindow = (ws: Window[], t: number) => ws.find((w) => t >= w.startS && t <= w.endS);

/**
 * The table's figures straight from the samples, the way the report promises to compute them: readings inside the
 * measured windows (both edges included), max / min / max, mean of the per-window mean utilization, union of reasons.
 */
function expectedFromSamples(samples: Sample[], windows: Window[], devices: string[]) {
  const perWindow = windows.map((w) => samples.filter((s) => devices.includes(s.deviceId) && s.tS >= w.startS && s.tS <= w.endS));
  const all = perWindow.flat();
  const nums = (k: keyof Sample) => all.map((s) => s[k]).filter((x): x is number => typeof x === 'number');
  const utilMeans = perWindow.map((ss) => ss.map((s) => s.utilizationPct).filter((x): x is number => typeof x === 'number')).filter((xs) => xs.length).map((xs) => xs.reduce((a, b) => a + b, 0) / xs.length);
  const lo = Math.min(...nums('smClockMHz')), hi = Math.max(...nums('smClockMHz'));
  return {
    maxTemperatureC: Math.max(...nums('temperatureC')), smClockMinMHz: lo, smClockMaxMHz: hi, smClockDropPct: ((hi - lo) / hi) * 100,
    meanUtilizationPct: utilMeans.reduce((a, b) => a + b, 0) / utilMeans.length, maxMemoryUsedMiB: Math.max(...nums('memoryUsedMiB')),
    throttleReasons: [...new Set(all.flatMap((s) => s.throttleReasons ?? []))],
  };
}
type Expected = ReturnType<typeof expectedFromSamples>;

/** The cells of the HTML telemetry table's rows, tags stripped and entities left as they are. */
function htmlTelemetryRows(html: string): Array<{ cls: string; cells: string[]; raw: string }> {
  const table = /<table id="telemetry-table"[\s\S]*?<\/table>/.exec(html)?.[0] ?? '';
  return [...table.matchAll(/<tr class="([^"]*)">([\s\S]*?)<\/tr>/g)].map((m) => ({
    cls: m[1]!, raw: m[2]!,
    cells: [...m[2]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((c) => c[1]!.replace(/<[^>]+>/g, '').trim()),
  }));
}

/** A Markdown table row's cells (pipes escaped as \| stay inside their cell). */
const mdCells = (line: string) => line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());

let made: MadeResults;
let work: string;
let nvFile: string, teleFile: string;
let nv: WattbenchResult, tele: WattbenchResult, aSmoke: WattbenchResult;
let nvSamples: Sample[], teleSamples: Sample[];

beforeAll(async () => {
  made = await makeResults();
  work = await tempDir('wb-report-telemetry-');
  const b = JSON.parse(await readFile(made.files['b-smoke'], 'utf8')) as WattbenchResult;
  const bWindows = measured(b);
  // device replay:0 runs hot and slow in the second half of every window, reporting two reasons (one hostile);
  // replay:1 stays cool at one clock. Outside the windows both report readings the table must not pick up.
  const telemetry = (s: Sample): SampleTelemetry => {
    const w = inWindow(bWindows, s.tS);
    if (!w) return { temperatureC: 99, smClockMHz: 300, utilizationPct: 0, memoryUsedMiB: 90_000, throttleReasons: ['hw_slowdown'] };
    if (s.deviceId === 'replay:1') return { temperatureC: 48, smClockMHz: 1755, utilizationPct: 50, memoryUsedMiB: 2048, throttleReasons: [] };
    const late = s.tS > (w.startS + w.endS) / 2;
    return { temperatureC: late ? 83 : 70, smClockMHz: late ? 1410 : 1980, utilizationPct: late ? 91 : 97, memoryUsedMiB: 40_000 + Math.round(s.tS * 10), throttleReasons: late ? [HOSTILE, 'sw_power_cap'] : [] };
  };
  const dir = join(work, 'results');
  [nvFile, teleFile] = await Promise.all([
    runNvidiaSmiFake({ out: join(dir, 'nv'), runId: 'nv-tele', captureCsv: NV_CAPTURE }),
    withTelemetry(made.files['b-smoke'], join(dir, 'tele'), 'tele-b', telemetry),
  ]);
  nv = JSON.parse(await readFile(nvFile, 'utf8'));
  aSmoke = JSON.parse(await readFile(made.files['a-smoke'], 'utf8'));
  tele = JSON.parse(await readFile(teleFile, 'utf8'));
  const samplesOf = async (file: string, r: WattbenchResult) => (await readSampleLog(join(file, '..', r.rawSamples.file))).flatMap((x) => (x.type === 'sample' ? [x] : []));
  nvSamples = await samplesOf(nvFile, nv);
  teleSamples = await samplesOf(teleFile, tele);
}, 400_000);

describe('the telemetry runs themselves (inputs of the report)', () => {
  it('are valid results whose diagnostics and THROTTLED warnings came from the real pipeline', () => {
    for (const r of [nv, tele]) {
      expect(validateResult(r).ok).toBe(true);
      expect(r.repetitions.filter((x) => x.status === 'ok' && x.diagnostics).length).toBe(measured(r).length);
      expect(r.warnings.some((w) => w.code === 'THROTTLED')).toBe(true);
    }
    // the driver decoded the clock-event mask: 0x4 and 0x44, never 0x1 (gpu_idle is not throttling)
    expect(nv.repetitions[0]!.diagnostics!.throttleReasons).toEqual(['sw_power_cap', 'hw_thermal_slowdown']);
    expect(tele.repetitions[0]!.diagnostics!.throttleReasons).toEqual([HOSTILE, 'sw_power_cap']);
  });
});

describe('wattbench report with device telemetry', () => {
  let html: string, md: string, csv: string[][];
  let exp: Record<'nv' | 'tele' | 'tele0' | 'tele1', Expected>;
  beforeAll(async () => {
    const out = join(work, 'report');
    const r = await runCli(['report', made.dir, join(work, 'results'), '--out', out]);
    expect(r.exitCode, r.stderr).toBe(0);
    html = await readFile(join(out, 'report.html'), 'utf8');
    md = await readFile(join(out, 'report.md'), 'utf8');
    csv = parseCsv(await readFile(join(out, 'results.csv'), 'utf8'));
    exp = {
      nv: expectedFromSamples(nvSamples, measured(nv), ['nvidia-smi:0']),
      tele: expectedFromSamples(teleSamples, measured(tele), ['replay:0', 'replay:1']),
      tele0: expectedFromSamples(teleSamples, measured(tele), ['replay:0']),
      tele1: expectedFromSamples(teleSamples, measured(tele), ['replay:1']),
    };
  }, 200_000);

  it('the expected figures are the designed ones (the inputs really carry what the test means to check)', () => {
    expect(exp.nv).toMatchObject({ maxTemperatureC: 76, smClockMinMHz: 1410, smClockMaxMHz: 1980, maxMemoryUsedMiB: 30200, throttleReasons: ['sw_power_cap', 'hw_thermal_slowdown'] });
    expect(exp.tele0).toMatchObject({ maxTemperatureC: 83, smClockMinMHz: 1410, smClockMaxMHz: 1980, throttleReasons: [HOSTILE, 'sw_power_cap'] });
    expect(exp.tele1).toMatchObject({ maxTemperatureC: 48, smClockMinMHz: 1755, smClockMaxMHz: 1755, meanUtilizationPct: 50, maxMemoryUsedMiB: 2048, throttleReasons: [] });
    // the run as a whole: both devices pooled
    expect(exp.tele).toMatchObject({ maxTemperatureC: 83, smClockMinMHz: 1410, smClockMaxMHz: 1980, throttleReasons: [HOSTILE, 'sw_power_cap'] });
  });

  it('results.csv has the telemetry columns: the figures for telemetry runs, empty for the others', () => {
    const [head, ...rows] = csv;
    const col = (name: string) => { const i = head!.indexOf(name); expect(i, name).toBeGreaterThanOrEqual(0); return i; };
    const row = (runId: string) => rows.find((x) => x[col('runId')] === runId)!;
    for (const [runId, e] of [['nv-tele', exp.nv], ['tele-b', exp.tele]] as const) {
      const x = row(runId);
      expect(Number(x[col('maxTemperatureC')])).toBe(e.maxTemperatureC);
      expect(Number(x[col('smClockMinMHz')])).toBe(e.smClockMinMHz);
      expect(Number(x[col('smClockMaxMHz')])).toBe(e.smClockMaxMHz);
      expect(Number(x[col('smClockDropPct')])).toBeCloseTo(e.smClockDropPct, 9);
      expect(Number(x[col('meanUtilizationPct')])).toBeCloseTo(e.meanUtilizationPct, 9);
      expect(Number(x[col('maxMemoryUsedMiB')])).toBe(e.maxMemoryUsedMiB);
      expect(x[col('throttled')]).toBe('yes');
    }
    expect(row('nv-tele')[col('throttleReasons')]).toBe('sw_power_cap;hw_thermal_slowdown');
    // a cell starting with '=' would run as a formula in a spreadsheet: it gets the apostrophe
    expect(row('tele-b')[col('throttleReasons')]).toBe(`'${HOSTILE};sw_power_cap`);
    const plain = row(aSmoke.runId);
    for (const c of ['maxTemperatureC', 'smClockMinMHz', 'smClockMaxMHz', 'smClockDropPct', 'meanUtilizationPct', 'maxMemoryUsedMiB', 'throttled', 'throttleReasons']) expect(plain[col(c)], c).toBe('');
  });

  it('the HTML table: run rows from the results, per-device rows from the samples, throttling marked in text', () => {
    has(html, '<a href="#telemetry">Device telemetry</a>');
    const rows = htmlTelemetryRows(html);
    // every run has a row (made.files: 6, plus the two telemetry runs), and tele-b one per device beneath it
    expect(rows.filter((r) => r.cls.startsWith('per-run'))).toHaveLength(Object.keys(made.files).length + 2);
    const at = rows.findIndex((r) => r.cells[0] === 'tele-b');
    const [run, dev0, dev1] = rows.slice(at, at + 3);
    const cells = (e: Expected, throttled: boolean) => [
      throttled ? `⚠ throttled ${e.throttleReasons.map(esc).join(', ')}` : 'none recorded',
      String(measured(tele).length), fmtReading(e.maxTemperatureC),
      e.smClockMinMHz === e.smClockMaxMHz ? fmtReading(e.smClockMaxMHz) : `${fmtReading(e.smClockMinMHz)}–${fmtReading(e.smClockMaxMHz)}`,
      `${fmtReading(e.smClockDropPct)}%`, `${fmtReading(e.meanUtilizationPct)}%`, fmtMiB(e.maxMemoryUsedMiB),
    ];
    expect(run!.cls).toBe('per-run throttled');
    expect(run!.cells.slice(2)).toEqual(['all 2 devices', ...cells(exp.tele, true)]);
    expect(dev0!.cls).toBe('per-device throttled');
    expect(dev0!.cells).toEqual(['↳ per device', 'replay:0', ...cells(exp.tele0, true)]);
    expect(dev1!.cls).toBe('per-device');
    expect(dev1!.cells).toEqual(['↳ per device', 'replay:1', ...cells(exp.tele1, false)]);
    // the designed figures, in the words a reader sees
    expect(run!.cells.slice(5, 8)).toEqual(['83', '1,410–1,980', '28.8%']);
    expect(dev1!.cells.slice(4, 7)).toEqual(['48', '1,755', '0%']);

    const nvRow = rows.find((r) => r.cells[0] === 'nv-tele')!;
    expect(nvRow.cls).toBe('per-run throttled');
    expect(nvRow.cells.slice(2)).toEqual(['nvidia-smi:0', '⚠ throttled sw_power_cap, hw_thermal_slowdown', String(measured(nv).length), '76', '1,410–1,980', '28.8%', `${fmtReading(exp.nv.meanUtilizationPct)}%`, fmtMiB(30200)]);
    // a single-device run gets no per-device rows
    expect(rows[rows.indexOf(nvRow) + 1]?.cls ?? 'per-run').toMatch(/^per-run/);

    // runs without diagnostics: dashes, no mark
    const plain = rows.filter((r) => r.cells[4] === '–');
    expect(plain.length).toBeGreaterThanOrEqual(5);
    for (const r of plain) { expect(r.cls).toBe('per-run'); expect(r.cells.slice(3)).toEqual(Array(7).fill('–')); }
    // readings outside the windows (idle, cooldown) never reach the table
    const table = /<table id="telemetry-table"[\s\S]*?<\/table>/.exec(html)![0];
    hasNot(table, 'hw_slowdown');
    hasNot(table, '>99<');
    hasNot(table, fmtMiB(90_000));
  });

  it('escapes the hostile throttle reason everywhere in the HTML', () => {
    has(html, esc(HOSTILE));
    hasNot(html, '<img');
    hasNot(html, 'onerror="window.__xss=3"');
  });

  it('the Markdown table: the same rows and figures, THROTTLED in words, the reason escaped', () => {
    has(md, '### Device telemetry');
    const lines = md.split('\n');
    const at = lines.findIndex((l) => l.startsWith('| tele-b |'));
    expect(at).toBeGreaterThan(0);
    const [run, dev0, dev1] = lines.slice(at, at + 3).map(mdCells);
    const reasons = (e: Expected) => e.throttleReasons.map(mdEscape).join(', ');
    expect(run!.slice(2, 5)).toEqual(['all 2 devices', `**THROTTLED**: ${reasons(exp.tele)}`, String(measured(tele).length)]);
    expect(run!.slice(5)).toEqual(['83', '1,410–1,980', '28.8%', `${fmtReading(exp.tele.meanUtilizationPct)}%`, fmtMiB(exp.tele.maxMemoryUsedMiB)]);
    expect(dev0!.slice(0, 4)).toEqual(['↳', '', 'replay:0', `**THROTTLED**: ${reasons(exp.tele0)}`]);
    expect(dev1!.slice(0, 5)).toEqual(['↳', '', 'replay:1', 'none recorded', String(measured(tele).length)]);
    expect(dev1!.slice(5)).toEqual(['48', '1,755', '0%', '50%', fmtMiB(2048)]);
    // the hostile reason is one cell of text: no raw markup, no cell break, no emphasis
    has(md, mdEscape(HOSTILE));
    hasNot(md, '<img');
    const nvLine = mdCells(lines.find((l) => l.startsWith('| nv-tele |'))!);
    expect(nvLine.slice(3)).toEqual(['**THROTTLED**: sw\\_power\\_cap, hw\\_thermal\\_slowdown', String(measured(nv).length), '76', '1,410–1,980', '28.8%', `${fmtReading(exp.nv.meanUtilizationPct)}%`, fmtMiB(30200)]);
  });

  /** The power chart figure of a run, by its run id in the caption. */
  const figureOf = (runId: string) => {
    const figs = html.match(/<figure class="chart power"[\s\S]*?<\/figure>/g) ?? [];
    const f = figs.find((x) => x.includes(`>${runId}</a>`));
    expect(f, runId).toBeDefined();
    return f!;
  };

  it('draws SM clock and temperature panels under the power when the samples carry them, on the same time axis and window shading', () => {
    for (const [runId, devices] of [['nv-tele', 1], ['tele-b', 2]] as const) {
      const f = figureOf(runId);
      has(f, '<tspan>SM clock</tspan><tspan x="0" dy="13">(MHz)</tspan>');
      has(f, '<tspan>temperature</tspan><tspan x="0" dy="13">(°C)</tspan>');
      // three panels, each with one line per device (both runs throttle: the band is row 2, under the SM clock)
      for (const k of [0, 1, 3]) expect(f.match(new RegExp(`concat_${k}_layer_\\d+_marks" role="graphics-object" aria-roledescription="line mark container"`, 'g'))?.length ?? 0, `panel ${k}`).toBe(devices);
      expect(f.match(/aria-roledescription="line mark"/g)).toHaveLength(3 * devices);
      // the measured windows are shaded at the same x positions in every panel
      const shading = (k: number) => {
        const g = new RegExp(`concat_${k}_layer_1_marks"[^>]*>([\\s\\S]*?)</g>`).exec(f)?.[1] ?? '';
        return [...g.matchAll(/d="M([\d.]+),0h([\d.]+)v/g)].map((m) => [m[1], m[2]]);
      };
      expect(shading(0)).toHaveLength((runId === 'nv-tele' ? nv : tele).repetitions.filter((x) => x.window).length);
      expect(shading(1)).toEqual(shading(0));
      expect(shading(3)).toEqual(shading(0));
      // the panels share the power panel's left edge
      const xs = [...f.matchAll(/concat_\d_group"[^>]*><g transform="translate\(([\d.]+),/g)].map((m) => m[1]);
      expect(new Set(xs).size).toBe(1);
      has(f, 'under the power: SM clock (MHz), temperature (°C)');
    }
  });

  it('draws runs without those readings as a power chart alone', () => {
    const plain = figureOf(aSmoke.runId);
    hasNot(plain, 'SM clock');
    hasNot(plain, 'temperature');
    hasNot(plain, 'concat_');
    expect(plain.match(/aria-roledescription="line mark"/g)).toHaveLength(1);
    const height = (f: string) => Number(/<svg[^>]* height="([\d.]+)"/.exec(f)![1]);
    expect(height(plain)).toBeLessThan(height(figureOf('tele-b')));
  });

  it('marks the throttled periods in a band under the SM clock: one mark per period, in the device colour; none for runs that never throttled', () => {
    for (const [runId, samples, devices] of [['nv-tele', nvSamples, ['nvidia-smi:0']], ['tele-b', teleSamples, ['replay:0', 'replay:1']]] as const) {
      const f = figureOf(runId);
      const periods = expectedThrottle(samples);
      expect([...periods.keys()]).toEqual(devices);
      // the designed inputs throttle in several periods more than a pixel apart, so none merges; a period shorter
      // than a pixel (a throttled last reading: it ends where it starts) is drawn one pixel wide, up to its end
      const pixelS = (Math.max(...samples.map((s) => s.tS)) - Math.min(...samples.map((s) => s.tS))) / POWER_CHART_WIDTH_PX;
      const drawn = (p: Interval) => (p.endS - p.startS < pixelS ? { startS: p.endS - pixelS, endS: p.endS } : p);
      for (const ps of periods.values()) {
        expect(ps.length).toBeGreaterThan(1);
        ps.forEach((p, i) => { if (i) expect(p.startS - ps[i - 1]!.endS).toBeGreaterThan(pixelS); });
      }
      // row 2, right under the SM clock (row 1): a lane per device, then the marks, each named for its period
      has(f, '>throttled</text>');
      expect(marksOf(f, 2, 0)).toHaveLength(devices.length);
      const marks = marksOf(f, 2, 1);
      expect(marks.map((m) => m.label)).toEqual(devices.flatMap((d) => periods.get(d)!.map((p) => throttleLabel(d, drawn(p)))));
      // no mark is too thin to see
      for (const w of [...f.matchAll(/throttled from [^"]*"[^>]*d="M[\d.]+,0h([\d.]+)v/g)].map((m) => Number(m[1]))) expect(w).toBeGreaterThan(0.5);
      // a single device keeps the line's colour; several take the shared device scale, as their lines do
      for (const m of marks) expect(m.fill).toBe(PALETTE[devices.findIndex((d) => m.label.startsWith(`${d} `))]);
    }
    // tele-b throttles to the end of its trace (the cooldown reports hw_slowdown): the last period runs to the last sample
    const last = expectedThrottle(teleSamples).get('replay:0')!.at(-1)!;
    expect(last.endS).toBe(Math.max(...teleSamples.filter((s) => s.deviceId === 'replay:0').map((s) => s.tS)));
    expect(last.endS - last.startS).toBeGreaterThan(0);
    // the chart draws periods, not reasons: the hostile reason string is not in it
    hasNot(figureOf('tele-b'), 'HYPERLINK');
    hasNot(figureOf(aSmoke.runId), 'throttled');
    // no run of the shared set reports throttle readings: only the two telemetry runs' charts have a band
    const figs = html.match(/<figure class="chart power"[\s\S]*?<\/figure>/g)!;
    expect(figs.filter((x) => x.includes('>throttled</text>')).length).toBe(2);
  });
});

describe('readPowerTrace with telemetry readings', () => {
  it('reduces the clock and temperature series like the power trace (spikes kept) and folds each window per device', async () => {
    const dir = await tempDir('wb-trace-telemetry-');
    const n = 20_000;
    const lines: string[] = [];
    for (let i = 0; i < n; i++) {
      const tS = i * 0.001;
      // one clock dip and one heat spike, a single reading each, in the middle of the first window
      const clk = i === 5_000 ? 210 : 1980, temp = i === 5_001 ? 95 : 60 + (i % 7);
      lines.push(JSON.stringify({ type: 'sample', tS, sourceId: 's', deviceId: 'd:0', powerW: 300, smClockMHz: clk, temperatureC: temp, utilizationPct: i % 2 ? 100 : 90, memoryUsedMiB: i, throttleReasons: i === 5_000 ? ['sw_power_cap', 'x'.repeat(500)] : [] }));
      if (i % 10 === 0) lines.push(JSON.stringify({ type: 'sample', tS, sourceId: 's', deviceId: 'd:1', powerW: 100 }));
    }
    await writeFile(join(dir, 'r.samples.jsonl'), lines.join('\n') + '\n');
    // the first window ends exactly on a reading (edges count, as in harness/analyse.ts); nothing is read between
    const windows = [{ startS: 2, endS: 8 }, { startS: 12, endS: 19 }];
    const t = await readPowerTrace(join(dir, 'r.json'), 'r.samples.jsonl', 1200, windows);
    if (t.state !== 'ok') throw new Error(t.reason);
    const d0 = t.trace.devices.find((d) => d.deviceId === 'd:0')!;
    expect(d0.smClockMHz!.tS.length).toBeLessThanOrEqual(1200);
    expect(d0.temperatureC!.tS.length).toBeLessThanOrEqual(1200);
    expect(Math.min(...d0.smClockMHz!.values)).toBe(210);
    expect(Math.max(...d0.temperatureC!.values)).toBe(95);
    // a device without those readings has no panel series, so the chart draws no empty line for it
    const d1 = t.trace.devices.find((d) => d.deviceId === 'd:1')!;
    expect(d1.smClockMHz).toBeUndefined();
    expect(d1.temperatureC).toBeUndefined();
    expect(t.windowDiagnostics.has('d:1')).toBe(false);
    const [w0, w1] = t.windowDiagnostics.get('d:0')!;
    // window 0 holds readings 2000..8000 (both edges), window 1 holds 12000..19000
    expect(w0).toEqual({ maxTemperatureC: 95, minSmClockMHz: 210, maxSmClockMHz: 1980, meanUtilizationPct: (3001 * 90 + 3000 * 100) / 6001, maxMemoryUsedMiB: 8000, throttleReasons: ['sw_power_cap', 'x'.repeat(128)] });
    expect(w1).toEqual({ maxTemperatureC: 66, minSmClockMHz: 1980, maxSmClockMHz: 1980, meanUtilizationPct: (3501 * 90 + 3500 * 100) / 7001, maxMemoryUsedMiB: 19000 });
  });
});

describe('a report without any telemetry', () => {
  it('leaves the table out of HTML and Markdown and the CSV columns empty', async () => {
    const { ok, invalid } = await collectResults([made.dir]);
    const { html, md, csv } = await buildReport(ok, invalid, { currency: '$', generatedAt: '2026-01-01T00:00:00Z' });
    // the estimate source reports CPU utilization: without it, nothing in the shared set has telemetry
    const noEst = ok.filter((l) => !l.result.sources.some((s) => s.state === 'used' && s.id === 'estimate'));
    const bare = await buildReport(noEst, invalid, { currency: '$', generatedAt: '2026-01-01T00:00:00Z' });
    hasNot(bare.html, 'id="telemetry"');
    hasNot(bare.html, 'href="#telemetry"');
    hasNot(bare.md, 'Device telemetry');
    const [head, ...rows] = parseCsv(bare.csv);
    for (const c of ['maxTemperatureC', 'throttled', 'throttleReasons']) expect(rows.every((r) => r[head!.indexOf(c)] === ''), c).toBe(true);
    // with the estimate run, its utilization alone is telemetry: the table is there, with no throttling claimed
    has(html, 'id="telemetry"');
    has(md, '### Device telemetry');
    const [h, ...rs] = parseCsv(csv);
    const est = rs.find((r) => r[h!.indexOf('sources')] === 'estimate')!;
    expect(est[h!.indexOf('throttled')]).toBe('no');
    expect(Number(est[h!.indexOf('meanUtilizationPct')])).toBeGreaterThan(0);
  });
});

describe('throttled periods for the power chart', () => {
  it('consecutive throttled readings are one period, ending at the next clean reading; a throttled last reading ends at the trace end', () => {
    const tS = [0, 1, 2, 3, 4, 5, 6, 7];
    const on = [false, true, true, false, true, false, true, true];
    expect(throttledIntervals(tS, on, 9.5)).toEqual([{ startS: 1, endS: 3 }, { startS: 4, endS: 5 }, { startS: 6, endS: 9.5 }]);
    expect(throttledIntervals(tS, on.map(() => false), 9.5)).toEqual([]);
    expect(throttledIntervals(tS, on.map(() => true), 7)).toEqual([{ startS: 0, endS: 7 }]);
    // one throttled reading, the last of the trace: a period that starts and ends there (the chart widens it)
    expect(throttledIntervals([0, 1, 2], [false, false, true], 2)).toEqual([{ startS: 2, endS: 2 }]);
  });

  it('reduceIntervals merges periods under a pixel apart and widens those under a pixel long, which bounds the marks', () => {
    // far apart and long: untouched
    expect(reduceIntervals([{ startS: 0, endS: 1 }, { startS: 3, endS: 4 }], 0.5)).toEqual([{ startS: 0, endS: 1 }, { startS: 3, endS: 4 }]);
    // 0.1 apart at a 0.5 s pixel: one mark; a 0.01 s blip: one pixel wide; one at the end: widened backwards
    expect(reduceIntervals([{ startS: 0, endS: 1 }, { startS: 1.1, endS: 2 }, { startS: 5, endS: 5.01 }, { startS: 9.9, endS: 10 }], 0.5, 10))
      .toEqual([{ startS: 0, endS: 2 }, { startS: 5, endS: 5.5 }, { startS: 9.5, endS: 10 }]);
    // a pathological trace: 100 s of readings 1 ms apart flipping at random, drawn 860 px wide
    let seed = 7;
    const rand = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    const tS: number[] = [], on: boolean[] = [];
    for (let i = 0; i < 100_000; i++) { tS.push(i / 1000); on.push(rand() < (i < 50_000 ? 0.02 : 0.5)); }
    const raw = throttledIntervals(tS, on, 99.999);
    const pixelS = 99.999 / POWER_CHART_WIDTH_PX;
    const drawn = reduceIntervals(raw, pixelS, 99.999);
    expect(raw.length).toBeGreaterThan(10_000);
    // every mark and every gap at least a pixel: at most one mark per two pixels
    expect(drawn.length).toBeLessThanOrEqual(POWER_CHART_WIDTH_PX / 2 + 1);
    drawn.forEach((d, i) => {
      expect(d.endS - d.startS).toBeGreaterThanOrEqual(pixelS - 1e-9);
      if (i) expect(d.startS - drawn[i - 1]!.endS).toBeGreaterThanOrEqual(pixelS);
      expect(d.startS).toBeGreaterThanOrEqual(0);
      expect(d.endS).toBeLessThanOrEqual(99.999);
    });
    // and no throttled moment is lost
    let k = 0;
    for (const r of raw) {
      while (drawn[k]!.endS < r.endS) k++;
      expect(drawn[k]!.startS).toBeLessThanOrEqual(r.startS);
    }
  });

  it('readPowerTrace: periods per device from the samples file, in time order; a sample without the field ends nothing', async () => {
    const dir = await tempDir('wb-trace-throttle-');
    const s = (tS: number, deviceId: string, extra: Record<string, unknown> = {}) => JSON.stringify({ type: 'sample', tS, sourceId: 's', deviceId, powerW: 300, ...extra });
    const lines = [
      s(0, 'g:0', { throttleReasons: [] }),
      s(1, 'g:0', { throttleReasons: ['sw_power_cap'] }),
      s(2, 'g:0'), // no throttle reading (a source that missed it): the period goes on
      s(3, 'g:0', { throttleReasons: ['hw_slowdown'] }),
      s(4, 'g:0', { throttleReasons: [] }),
      s(5, 'g:0', { throttleReasons: [42, ''] }), // nothing usable: a clean reading
      s(8, 'g:0', { throttleReasons: ['sw_thermal_slowdown'] }), // out of order in the file
      s(6, 'g:0', { throttleReasons: ['sw_power_cap'] }),
      s(7, 'g:0', { throttleReasons: [] }),
      s(9, 'g:0'), // the device's last sample: the open period runs to here
      ...[0, 3, 6, 9].map((t) => s(t, 'g:1', { throttleReasons: [] })),
      s(0, 'g:2'), s(9, 'g:2'),
    ];
    await writeFile(join(dir, 'r.samples.jsonl'), lines.join('\n') + '\n');
    const t = await readPowerTrace(join(dir, 'r.json'), 'r.samples.jsonl');
    if (t.state !== 'ok') throw new Error(t.reason);
    const dev = (id: string) => t.trace.devices.find((d) => d.deviceId === id)!;
    expect(dev('g:0').throttled).toEqual([{ startS: 1, endS: 4 }, { startS: 6, endS: 7 }, { startS: 8, endS: 9 }]);
    // reported readings, never throttled: an empty lane; no readings at all: no lane
    expect(dev('g:1').throttled).toEqual([]);
    expect(dev('g:2').throttled).toBeUndefined();
    expect(panelsOf(t.trace)).toEqual(['throttled']);
    // without any throttled period there is no band to draw
    expect(panelsOf({ ...t.trace, devices: t.trace.devices.filter((d) => d.deviceId !== 'g:0') })).toEqual([]);
  });
});

describe('the throttled band in the power chart', () => {
  let view: RunView;
  beforeAll(() => { view = buildRunViews([{ path: teleFile, result: tele }])[0]!; });
  const series = (tS: number[], v: number) => ({ tS, values: tS.map(() => v) });
  const traceOf = (ids: string[], o: { clock?: boolean; throttled?: Interval[] }): PowerTrace => {
    const tS = [0, 1, 2, 3, 4, 5, 6];
    return { sampleCount: tS.length * ids.length, devices: ids.map((deviceId) => ({ deviceId, tS, powerW: tS.map(() => 300), ...(o.clock ? { smClockMHz: series(tS, 1980), temperatureC: series(tS, 60) } : {}), ...(o.throttled ? { throttled: o.throttled } : {}) })) };
  };
  const svgOf = async (t: PowerTrace) => { const parts = panelsOf(t); return renderSvg(powerSpec(t.devices.length > 1, parts), powerData(view, t, parts)!); };

  it('a run whose devices report throttle readings but never throttle is drawn exactly as without them', async () => {
    for (const ids of [['d:0'], ['d:0', 'd:1']]) {
      for (const clock of [false, true]) {
        const t = traceOf(ids, { clock, throttled: [] });
        const parts = panelsOf(t);
        expect(parts).not.toContain('throttled');
        expect(JSON.stringify(powerSpec(ids.length > 1, parts))).toBe(JSON.stringify(powerSpec(ids.length > 1, clock ? ['smClockMHz', 'temperatureC'] : [])));
        const svg = await svgOf(t);
        hasNot(svg, 'throttled');
        expect(svg).toBe(await svgOf(traceOf(ids, { clock })));
      }
    }
  });

  it('without a clock panel the band sits under the power panel and carries the time axis', async () => {
    const svg = await svgOf(traceOf(['d:0'], { throttled: [{ startS: 2, endS: 3 }] }));
    has(svg, '>throttled</text>');
    expect(marksOf(svg, 1, 1).map((m) => m.label)).toEqual(['d:0 throttled from 2 s to 3 s']);
    // the time axis title moved from the power panel to the band under it
    const band = /concat_1_group"[\s\S]*$/.exec(svg)![0];
    has(band, 'time on the run clock (s)');
    hasNot(/^[\s\S]*?concat_1_group"/.exec(svg)![0], '>time on the run clock (s)</text>');
  });

  it('device ids in the band are text: escaped by the renderer', async () => {
    const evil = 'gpu"><img src=x onerror="window.__xss=4">';
    const svg = await svgOf(traceOf([evil, 'd:1'], { clock: true, throttled: [{ startS: 1, endS: 2 }] }));
    // no injected element or attribute: with every attribute value blanked, no tag has more than vega put there
    hasNot(svg, '<img');
    for (const tag of svg.match(/<[a-zA-Z][^>]*>/g)!) expect(tag.replace(/="[^"]*"/g, '=""')).not.toMatch(/onerror|img/);
    has(svg, `aria-label="${evil.replace(/"/g, '&quot;').replace(/>/g, '&gt;').replace(/</g, '&lt;')} throttled from 1 s to 2 s"`);
  });
});
