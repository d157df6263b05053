// The "Serving latency" section of `wattbench report`: a real serve result (the CLI against the fake streaming
// server, power replayed from a constant trace) shows one row per serve run in report.html, report.md and
// results.csv with the figures read back from the result file; the model name is escaped; a report of non-serve
// results has no such section.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdir, readFile, writeFile, copyFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { startFakeServer, type FakeServer } from '../serve/fake-server.js';
import { runCli, tempDir, resultFiles, readJson, writeConstantTrace } from '../helpers/cli.js';
import { validateResult } from '../../results/validate.js';
import type { WattbenchResult } from '../../results/types.gen.js';
import { fmtNum, fmtStat, mdEscape } from '../../reports/format.js';

// a model name that would break HTML and a Markdown table if it were not escaped
const MODEL = 'tiny<b>|m*_x';
const esc = (x: string) => x.replace(/[&<>"'`=]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;', '`': '&#x60;', '=': '&#x3D;' })[c]!);

let server: FakeServer;
let serveDir: string;
let result: WattbenchResult;
let resultPath: string;

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
}, 180_000);
afterAll(async () => { await server?.close(); });

/** RFC 4180 parser, enough for our own output (quoted fields with "" and CRLF line ends). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [], cell = '', q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (q) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (c === '"') q = false; else cell += c;
    } else if (c === '"') q = true;
    else if (c === ',') { row.push(cell); cell = ''; }
    else if (c === '\r') continue;
    else if (c === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; }
    else cell += c;
  }
  return rows;
}

/** The section's rows: HTML table body between its id and </table>. */
function htmlSection(html: string): string | null {
  const i = html.indexOf('<table id="serving-table"');
  return i < 0 ? null : html.slice(i, html.indexOf('</table>', i));
}

const metricMean = (name: string) => {
  const m = result.summary!.metrics!.find((x) => x.name === name);
  expect(m, name).toBeDefined();
  return m!.stats.mean;
};

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
    const expected = [
      `concurrency ${reps[0]!.load.concurrency}`, String(ok), String(failed),
      fmtNum(metricMean('ttft_p50_ms')), fmtNum(metricMean('ttft_p99_ms')), fmtNum(metricMean('tpot_p50_ms')), fmtNum(metricMean('tpot_p99_ms')),
      fmtStat(result.summary!.tokensPerS), `${fmtNum(metricMean('goodput_pct'))}%`, fmtStat(result.summary!.tokensPerJ),
    ];
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
    expect(mdCells).toHaveLength(12);
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
