// The "Serving latency" section of `wattbench report`: a real serve result (the CLI against the fake streaming
// server, power replayed from a constant trace) shows one row per serve run in report.html, report.md and
// results.csv with the figures read back from the result file (TTFT, TPOT, ITL and E2E percentiles); the model
// name is escaped; a report of non-serve results has no such section. A load sweep (the same chip, model and
// endpoint at several concurrencies) is drawn as a chart of output tokens per joule and latency against load; a
// single load level is not.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdir, readFile, writeFile, copyFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { startFakeServer, type FakeServer } from '../serve/fake-server.js';
import { runCli, tempDir, resultFiles, readJson, writeConstantTrace } from '../helpers/cli.js';
import { validateResult } from '../../results/validate.js';
import type { WattbenchResult } from '../../results/types.gen.js';
import { fmtNum, fmtStat, mdEscape } from '../../reports/format.js';
import { buildModel, servingSweepsOf } from '../../reports/model.js';
import { SERVING_PANELS } from '../../reports/charts.js';
import { runServe } from './make-results.js';
import { parseCsv } from '../helpers/csv.js';

// a model name that would break HTML and a Markdown table if it were not escaped
const MODEL = 'tiny<b>|m*_x';
const esc = (x: string) => x.replace(/[&<>"'`=]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;', '`': '&#x60;', '=': '&#x3D;' })[c]!);

let server: FakeServer;
let serveDir: string;
let result: WattbenchResult;
let resultPath: string;
let sweepDir: string;
let sweepFiles: string[];

beforeAll(async () => {
  server = await startFakeServer({ ttftMs: 20, tpotMs: 4 });
  const trace = await writeConstantTrace(await tempDir(), 200, 30, 0.02);
  serveDir = await tempDir('wb-serve-report-');
  const r = await runCli(['serve', '--url', server.url, '--model', MODEL, '--concurrency', '3', '--requests', '60', '--input-tokens', '8', '--output-tokens', '16',
    '--source', 'replay', '--source-opt', `file=${trace}`, '--idle', '0.3', '--cooldown', '0', '--quiet', '--repetitions', '2', '--out', serveDir]);
  expect(r.exitCode, r.stderr).toBe(0);
  const files = await resultFiles(serveDir);
  expect(files).toHaveLength(1);
  resultPath = files[0]!;
  result = await readJson<WattbenchResult>(resultPath);
  // a sweep at 1, 2 and 4 requests in flight, same model, endpoint and prompt shape (the run above is level 3)
  sweepDir = await tempDir('wb-serve-sweep-');
  sweepFiles = await runServe({ url: server.url, model: MODEL, out: sweepDir, concurrency: '1,2,4' });
  expect(sweepFiles).toHaveLength(3);
}, 240_000);
afterAll(async () => { await server?.close(); });


/** The section's rows: HTML table body between its id and </table>. */
function htmlSection(html: string): string | null {
  const i = html.indexOf('<table id="serving-table"');
  return i < 0 ? null : html.slice(i, html.indexOf('</table>', i));
}

const metricOf = (r: WattbenchResult, name: string) => {
  const m = r.summary!.metrics!.find((x) => x.name === name);
  expect(m, name).toBeDefined();
  return m!.stats.mean;
};
const metricMean = (name: string) => metricOf(result, name);

/** The row a serve result should have in the table, in column order from the load on. */
const expectedRow = (r: WattbenchResult) => {
  const reps = r.serving!.repetitions;
  return [
    `concurrency ${reps[0]!.load.concurrency}`, String(reps.reduce((a, x) => a + x.requests.ok, 0)), String(reps.reduce((a, x) => a + x.requests.failed, 0)),
    ...['ttft_p50_ms', 'ttft_p99_ms', 'tpot_p50_ms', 'tpot_p99_ms', 'itl_p50_ms', 'itl_p99_ms', 'e2e_p50_ms', 'e2e_p99_ms'].map((m) => fmtNum(metricOf(r, m))),
    fmtStat(r.summary!.tokensPerS), `${fmtNum(metricOf(r, 'goodput_pct'))}%`, fmtStat(r.summary!.tokensPerJ),
  ];
};

const htmlRows = (sec: string) => sec.split('<tr>').slice(2).map((row) => [...row.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((m) => m[1]!));
/** The Markdown table's data rows as cells: from its header to the first line that is not a table line. */
const mdRowsOf = (md: string) => {
  const lines = md.slice(md.indexOf('### Serving latency')).split('\n');
  const head = lines.findIndex((l) => l.startsWith('| chip |'));
  const end = lines.findIndex((l, k) => k > head && !l.startsWith('|'));
  // split on unescaped pipes only: the escaped model name keeps its own
  return lines.slice(head + 2, end).map((l) => l.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim()));
};
const servingCharts = (html: string) => [...html.matchAll(/<figure class="chart" data-chart="serving">([\s\S]*?)<\/figure>/g)].map((m) => m[1]!);

describe('report: Serving latency', () => {
  it('shows one row per serve run with the result file\'s figures, escaped, in HTML, Markdown and CSV', async () => {
    const out = join(await tempDir(), 'report');
    const r = await runCli(['report', serveDir, '--out', out]);
    expect(r.exitCode, r.stderr).toBe(0);
    const html = await readFile(join(out, 'report.html'), 'utf8');
    const md = await readFile(join(out, 'report.md'), 'utf8');
    const csv = parseCsv(await readFile(join(out, 'results.csv'), 'utf8'));

    const reps = result.serving!.repetitions;
    const ok = reps.reduce((a, x) => a + x.requests.ok, 0);
    const failed = reps.reduce((a, x) => a + x.requests.failed, 0);
    expect(ok).toBe(120);
    const expected = expectedRow(result);
    expect(expected.slice(0, 3)).toEqual([`concurrency ${reps[0]!.load.concurrency}`, String(ok), String(failed)]);
    // ITL and E2E are the workload's own figures; E2E of a 16-token request spans TTFT and the 15 gaps after it
    expect(metricMean('itl_p50_ms')).toBeGreaterThan(0);
    expect(metricMean('e2e_p50_ms')).toBeGreaterThan(metricMean('ttft_p50_ms') + 10 * metricMean('tpot_p50_ms'));
    // the fake server's 20 ms TTFT shows through: the figure is the measured one, not a default
    expect(metricMean('ttft_p50_ms')).toBeGreaterThanOrEqual(15);

    const sec = htmlSection(html);
    expect(sec).not.toBeNull();
    expect(html).toContain('<h3 id="serving">Serving latency</h3>');
    const rows = sec!.split('<tr>').slice(2); // header row, then data rows
    expect(rows).toHaveLength(1);
    const cells = [...rows[0]!.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((m) => m[1]!);
    expect(cells[1]).toBe(esc(MODEL));
    expect(cells.slice(2)).toEqual(expected.map(esc));
    expect(html).not.toContain(MODEL);

    const mdStart = md.indexOf('### Serving latency');
    expect(mdStart).toBeGreaterThan(0);
    const mdRows = md.slice(mdStart).split('\n').filter((l) => l.startsWith('| ')).slice(1);
    expect(mdRows.length).toBeGreaterThanOrEqual(1);
    const mdRow = mdRows[0]!;
    // split on unescaped pipes only: the escaped model name keeps its own
    const mdCells = mdRow.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    expect(mdCells).toHaveLength(16);
    expect(mdCells[1]).toBe(mdEscape(MODEL));
    expect(mdCells.slice(2)).toEqual(expected);

    const [head, row] = [csv[0]!, csv[1]!];
    const col = (n: string) => row[head.indexOf(n)];
    expect(col('serveLoad')).toBe('closed');
    expect(col('serveConcurrency')).toBe('3');
    expect(col('requestsOk')).toBe(String(ok));
    expect(Number(col('ttftP50Ms'))).toBe(metricMean('ttft_p50_ms'));
    expect(Number(col('tpotP99Ms'))).toBe(metricMean('tpot_p99_ms'));
    expect(Number(col('goodputPct'))).toBe(metricMean('goodput_pct'));
    for (const [c, m] of [['itlP50Ms', 'itl_p50_ms'], ['itlP99Ms', 'itl_p99_ms'], ['e2eP50Ms', 'e2e_p50_ms'], ['e2eP99Ms', 'e2e_p99_ms']] as const) expect(Number(col(c)), c).toBe(metricMean(m));

    // one load level: nothing to draw against load
    expect(servingCharts(html)).toEqual([]);
    expect(md).not.toContain('Serving sweeps');
  }, 120_000);

  it('a load sweep: rows in order of load with every percentile, and a chart of tokens per joule and latency against concurrency', async () => {
    const out = join(await tempDir(), 'report');
    // the sweep's folder first: the single run at concurrency 3 must still land between 2 and 4
    const r = await runCli(['report', sweepDir, serveDir, '--out', out]);
    expect(r.exitCode, r.stderr).toBe(0);
    const html = await readFile(join(out, 'report.html'), 'utf8');
    const md = await readFile(join(out, 'report.md'), 'utf8');
    const csv = parseCsv(await readFile(join(out, 'results.csv'), 'utf8'));
    const sweep = await Promise.all(sweepFiles.map((f) => readJson<WattbenchResult>(f)));
    const byLevel = [...sweep, result].sort((a, b) => a.serving!.repetitions[0]!.load.concurrency! - b.serving!.repetitions[0]!.load.concurrency!);
    expect(byLevel.map((x) => x.serving!.repetitions[0]!.load.concurrency)).toEqual([1, 2, 3, 4]);

    const rows = htmlRows(htmlSection(html)!);
    expect(rows.map((c) => c.slice(2))).toEqual(byLevel.map((x) => expectedRow(x).map(esc)));
    expect(mdRowsOf(md).map((c) => c.slice(2))).toEqual(byLevel.map(expectedRow));
    const [head, ...csvRows] = csv;
    for (const x of byLevel) {
      const row = csvRows.find((c) => c[head!.indexOf('runId')] === x.runId)!;
      for (const [c, m] of [['itlP50Ms', 'itl_p50_ms'], ['itlP99Ms', 'itl_p99_ms'], ['e2eP50Ms', 'e2e_p50_ms'], ['e2eP99Ms', 'e2e_p99_ms']] as const) expect(Number(row[head!.indexOf(c)]), c).toBe(metricOf(x, m));
    }

    // the curve: one point per level with the run's own figures
    const model = buildModel([...sweepFiles, resultPath].map((path, i) => ({ path, result: [...sweep, result][i]! })));
    const sweeps = servingSweepsOf(model);
    expect(sweeps).toHaveLength(1);
    expect(sweeps[0]!.loadKind).toBe('closed');
    expect(sweeps[0]!.points.map((p) => [p.level, p.outputTokensPerJ.mean, p.ttftP50Ms, p.tpotP50Ms])).toEqual(
      byLevel.map((x) => [x.serving!.repetitions[0]!.load.concurrency, x.summary!.tokensPerJ.mean, metricOf(x, 'ttft_p50_ms'), metricOf(x, 'tpot_p50_ms')]));
    // the fake server answers at a fixed pace and the power is constant: more requests in flight, more tokens per joule
    const tpj = sweeps[0]!.points.map((p) => p.outputTokensPerJ.mean);
    expect(tpj[3]!).toBeGreaterThan(tpj[0]! * 2);

    // drawn: one chart, one line, a point per level in each panel, the legend naming the sweep as text
    const charts = servingCharts(html);
    expect(charts).toHaveLength(1);
    const svg = charts[0]!;
    expect(svg).toContain('<svg');
    const points = [...svg.matchAll(/<g class="mark-symbol role-mark[^"]*"[^>]*>([\s\S]*?)<\/g>/g)].reduce((n, m) => n + (m[1]!.match(/<path /g)?.length ?? 0), 0);
    expect(points).toBe(SERVING_PANELS.length * 4);
    expect(svg.match(/<g class="mark-line role-mark[^"]*"[^>]*>[\s\S]*?<\/g>/g)?.join('').match(/<path /g)).toHaveLength(SERVING_PANELS.length);
    expect(svg).toContain('tiny&lt;b&gt;|m*_x · completions · 8→16 tokens');
    expect(html).not.toContain(MODEL);
    expect(html).toContain('<h3 id="serving-charts">');
    expect(md).toContain(`Serving sweeps against concurrency (requests in flight) (output tokens/J, TTFT p50, TPOT p50): ${mdEscape(sweeps[0]!.label)}.`);
  }, 120_000);

  it('an open-loop sweep (arrival rates) is its own chart, never joined with the concurrency sweep', async () => {
    const rateDir = await tempDir('wb-serve-rates-');
    const rateFiles = await runServe({ url: server.url, model: MODEL, out: rateDir, rate: '20,40', requests: 16 });
    expect(rateFiles).toHaveLength(2);
    const out = join(await tempDir(), 'report');
    const r = await runCli(['report', sweepDir, rateDir, '--out', out]);
    expect(r.exitCode, r.stderr).toBe(0);
    const html = await readFile(join(out, 'report.html'), 'utf8');
    const charts = servingCharts(html);
    expect(charts).toHaveLength(2);
    expect(charts[0]).toContain('Serving: efficiency and latency against concurrency');
    expect(charts[1]).toContain('Serving: efficiency and latency against arrival rate');
    expect(charts[1]).toContain('arrival rate (requests per second)');
    // the rate rows follow the concurrency rows, in order of rate
    const loads = htmlRows(htmlSection(html)!).map((c) => c[2]);
    expect(loads).toEqual(['concurrency 1', 'concurrency 2', 'concurrency 4', `${fmtNum(20)} req/s`, `${fmtNum(40)} req/s`]);
  }, 120_000);

  it('serve runs at one level each, of different models, are no sweep: no chart', async () => {
    const dir = await tempDir('wb-nosweep-');
    const other = await readJson<WattbenchResult>(sweepFiles[0]!);
    (other.workload.config as { model: string }).model = 'another-model';
    other.runId = `${other.runId}-other`;
    const v = validateResult(other);
    expect(v.ok, JSON.stringify(!v.ok && v.problems)).toBe(true);
    await writeFile(join(dir, 'other.json'), JSON.stringify(other));
    const out = join(dir, 'report');
    const r = await runCli(['report', join(dir, 'other.json'), resultPath, '--out', out]);
    expect(r.exitCode, r.stderr).toBe(0);
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(htmlRows(htmlSection(html)!)).toHaveLength(2);
    expect(servingCharts(html)).toEqual([]);
    expect(html).not.toContain('id="serving-charts"');
  }, 120_000);

  it('has no Serving latency section when no result is a serve run', async () => {
    const dir = await tempDir('wb-noserve-');
    await mkdir(dir, { recursive: true });
    const r0 = JSON.parse(JSON.stringify(result)) as WattbenchResult;
    r0.workload.kind = 'infer';
    delete r0.serving;
    const v = validateResult(r0);
    expect(v.ok, JSON.stringify(!v.ok && v.problems)).toBe(true);
    await writeFile(join(dir, 'infer.json'), JSON.stringify(r0));
    await copyFile(join(dirname(resultPath), result.rawSamples.file), join(dir, result.rawSamples.file));
    const out = join(dir, 'report');
    const r = await runCli(['report', join(dir, 'infer.json'), '--out', out]);
    expect(r.exitCode, r.stderr).toBe(0);
    const html = await readFile(join(out, 'report.html'), 'utf8');
    const md = await readFile(join(out, 'report.md'), 'utf8');
    expect(html).not.toContain('Serving latency');
    expect(html).not.toContain('serving-table');
    expect(md).not.toContain('Serving latency');
    // the CSV keeps its columns, empty for a non-serve run
    const [head, row] = parseCsv(await readFile(join(out, 'results.csv'), 'utf8'));
    expect(head!.indexOf('ttftP50Ms')).toBeGreaterThan(0);
    expect(row![head!.indexOf('ttftP50Ms')]).toBe('');
  }, 120_000);
});
