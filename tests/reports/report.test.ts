// `wattbench report` over result files made by the real pipeline (tests/reports/make-results.ts): the matrix and
// its ratios against the result files, escaping of hostile names in HTML, Markdown and CSV, invalid inputs listed
// while the report is still produced, marks on runs of another measurement basis, cost and carbon, power charts.
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdir, readFile, writeFile, copyFile, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { makeResults, XSS_CHIP, XSS_SIZE, CHIP_A, type MadeResults } from './make-results.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { validateResult } from '../../results/validate.js';
import type { WattbenchResult } from '../../results/types.gen.js';
import { fmtNum } from '../../reports/format.js';
import { WARNING_TEXT } from '../../results/warnings.js';
import { collectResults } from '../../harness/collect.js';
import { buildReport } from '../../reports/index.js';
import { describe as describeStats } from '../../harness/stats.js';
import { parseCsv } from '../helpers/csv.js';

let made: MadeResults;
let work: string;
const res: Record<string, WattbenchResult> = {};

/** Handlebars' HTML escaping (& < > " ' ` =), to state what the HTML must contain for a data string. */
const esc = (x: string) => x.replace(/[&<>"'`=]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;', '`': '&#x60;', '=': '&#x3D;' })[c]!);
/** Substring checks that print the needle, not the whole report, when they fail. */
const has = (text: string, needle: string) => expect(text.includes(needle), `missing: ${needle}`).toBe(true);
const hasNot = (text: string, needle: string) => expect(text.includes(needle), `present: ${needle}`).toBe(false);
const matches = (text: string, re: RegExp) => expect(re.test(text), `no match: ${re}`).toBe(true);
const matchesNot = (text: string, re: RegExp) => expect(re.exec(text)?.[0], `matched: ${re}`).toBeUndefined();

const load = async (p: string) => JSON.parse(await readFile(p, 'utf8')) as WattbenchResult;


/** Copy a result (and optionally its samples) into dir after an edit, keeping it valid. */
async function variant(src: string, dir: string, name: string, edit: (r: WattbenchResult) => void, withSamples = true): Promise<string> {
  await mkdir(dir, { recursive: true });
  const r = await load(src);
  edit(r);
  const v = validateResult(r);
  if (!v.ok) throw new Error(`variant ${name} is invalid: ${JSON.stringify(v.problems)}`);
  const out = join(dir, `${name}.json`);
  await writeFile(out, JSON.stringify(r, null, 2));
  if (withSamples) await copyFile(join(dirname(src), r.rawSamples.file), join(dir, r.rawSamples.file));
  return out;
}

beforeAll(async () => {
  made = await makeResults();
  work = await tempDir('wb-report-');
  for (const [k, f] of Object.entries(made.files)) res[k] = await load(f);
}, 400_000);

describe('wattbench report over real results', () => {
  let html: string, md: string, csv: string[][], stderr: string, exitCode: number;
  beforeAll(async () => {
    const bad = join(work, 'bad');
    await mkdir(bad, { recursive: true });
    await writeFile(join(bad, 'not-json.json'), '{"schemaVersion": 1, "runId": ');
    await writeFile(join(bad, 'older.json'), JSON.stringify({ ...res['a-smoke'], schemaVersion: 0 }));
    await writeFile(join(bad, 'newer.json'), JSON.stringify({ ...res['a-smoke'], schemaVersion: 2 }));
    const { summary: _drop, ...noSummary } = res['a-smoke']!;
    await writeFile(join(bad, 'schema-broken.json'), JSON.stringify(noSummary));
    const out = join(work, 'report');
    const r = await runCli(['report', made.dir, bad, join(work, 'does-not-exist.json'), '--out', out, '--price-per-kwh', '0.2', '--pue', '1.25', '--carbon-g-per-kwh', '350', '--currency', '€']);
    exitCode = r.exitCode; stderr = r.stderr;
    expect(r.exitCode, r.stderr).toBe(0);
    html = await readFile(join(out, 'report.html'), 'utf8');
    md = await readFile(join(out, 'report.md'), 'utf8');
    csv = parseCsv(await readFile(join(out, 'results.csv'), 'utf8'));
  }, 120_000);

  it('lists every invalid input with its reason and still writes the report', () => {
    expect(exitCode).toBe(0);
    const reasons: Array<[string, RegExp]> = [
      ['not-json.json', /not valid JSON/],
      ['older.json', /no upgrade from schemaVersion 0/],
      ['newer.json', /schemaVersion 2 is newer/],
      ['schema-broken.json', /does not match the result schema/],
      ['does-not-exist.json', /cannot read/],
    ];
    const invalidSection = html.slice(html.indexOf('id="invalid"'));
    const mdInvalid = md.slice(md.indexOf('## Files not included'));
    for (const [file, why] of reasons) {
      expect(stderr).toContain(file);
      const line = invalidSection.split('<li>').find((l) => l.includes(file));
      expect(line, file).toBeDefined();
      expect(line).toMatch(why);
      expect(mdInvalid.split('\n').find((l) => l.includes(file.replace(/_/g, '\\_')))).toMatch(why);
    }
    // the schema problem is named by its JSON pointer
    has(invalidSection, esc("/: must have required property 'summary'"));
    has(html, '5 files were not included');
  });

  it('has one matrix row per chip and basis, one column per model size × workload, ratios against the first chip', () => {
    const matrix = html.slice(html.indexOf('<table id="matrix"'), html.indexOf('</table>', html.indexOf('<table id="matrix"')));
    const heads = [...matrix.matchAll(/<span class="size">([^<]*)<\/span><span class="kind kind-(\w+)">/g)].map((m) => `${m[1]} ${m[2]}`);
    expect(heads).toEqual(['smoke infer', 'smoke-l infer', `${esc(XSS_SIZE)} train`]);
    const rows = [...matrix.matchAll(/<span class="chip">([^<]*)<\/span>/g)].map((m) => m[1]);
    expect(rows).toEqual([`${CHIP_A} ×1 · 350 W`, `${esc(XSS_CHIP)} ×2 · 250 W`, `${esc(res.est!.devices[0]!.name)} ×1 · limit not recorded`]);
    // each cell shows the run's own tokens/J mean and the ratio to the baseline chip (A), from the result files
    for (const [b, a] of [['b-smoke', 'a-smoke'], ['b-large', 'a-large'], ['est', 'a-smoke']] as const) {
      const tb = res[b]!.summary!.tokensPerJ.mean, ta = res[a]!.summary!.tokensPerJ.mean;
      has(matrix, `<span class="v">${fmtNum(tb)}</span>`);
      const ratio = tb / ta;
      has(matrix, `×${ratio >= 10 ? ratio.toFixed(1) : ratio.toFixed(2)}`);
    }
    has(md, `| ${CHIP_A} ×1 · 350 W (baseline) |`);
  });

  it('never ranks the estimated run with measured ones without a visible mark', () => {
    const estMean = fmtNum(res.est!.summary!.tokensPerJ.mean);
    // the estimated row carries a mark in the matrix, in the figure cell and in the Markdown
    const matrix = html.slice(html.indexOf('<table id="matrix"'), html.indexOf('</table>', html.indexOf('<table id="matrix"')));
    const estRow = matrix.split('<tr').find((r) => r.includes(`<span class="v">${estMean}</span>`))!;
    matches(estRow, /<span class="mark"[^>]*>†<\/span>/);
    has(estRow, 'estimated scope, grade D');
    hasNot(estRow, 'best');
    const mdRow = md.split('\n').find((l) => l.startsWith(`| ${mdName(res.est!.devices[0]!.name)}`))!;
    has(mdRow, '†');
    matches(md, /† estimated scope, grade D — measured on a different basis/);
    // "best" goes to the best measured chip even where the estimate shows a larger number
    const measuredBest = Math.max(res['a-smoke']!.summary!.tokensPerJ.mean, res['b-smoke']!.summary!.tokensPerJ.mean);
    const bestCell = matrix.split('<td').find((c) => c.includes('best-tag') && c.includes(`<span class="v">${fmtNum(measuredBest)}</span>`));
    expect(bestCell).toBeDefined();
  });

  it('escapes hostile device and model-size names in HTML and Markdown', () => {
    for (const payload of [XSS_CHIP, XSS_SIZE]) {
      hasNot(html, payload);
      hasNot(md, payload);
    }
    matchesNot(html, /<script>window\.__xss/);
    matchesNot(html, /<img\b/i);
    matchesNot(md, /<script|<img/i);
    has(html, esc(XSS_CHIP));
    has(md, 'Chip B &lt;script&gt;window.\\_\\_xss=1&lt;/script&gt;');
    has(md, 'tiny"&gt;&lt;img src=x onerror="window.\\_\\_xss=2"&gt;');
    // inside the SVG charts too: vega escapes text and aria labels, so no tag can open there
    for (const svg of html.match(/<svg[\s\S]*?<\/svg>/g) ?? []) matchesNot(svg, /<(script|img|foreignObject)\b/i);
    // the only script is our own print helper
    expect(html.match(/<script/g)).toHaveLength(1);
  });

  it('is self-contained: no external resource of any kind', () => {
    // (URLs may appear as text — a source's reason can name one — but nothing may load one; the browser test
    // also blocks and counts every request)
    matchesNot(html, /<(link|iframe|object|embed|img|video|audio|source)\b/i);
    matchesNot(html, /@import|url\(/i);
    // every real tag (text has its '<' escaped, so each '<x ...>' is markup): no attribute that loads anything
    const loaders = new Set(['src', 'href', 'xlink:href', 'srcset', 'action', 'formaction', 'poster', 'data', 'background']);
    for (const [tag] of html.matchAll(/<[a-zA-Z][^>]*>/g)) {
      for (const [, name, raw] of tag.matchAll(/\s([\w:-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)/g)) {
        const value = raw!.replace(/^["']|["']$/g, '');
        if (loaders.has(name!.toLowerCase())) expect(value.startsWith('#'), `${name}=${value} in ${tag.slice(0, 80)}`).toBe(true);
      }
    }
  });

  it('draws every chart: efficiency, one throughput-vs-power per column, one power-over-time per run', () => {
    expect(html.match(/data-chart="efficiency"/g)).toHaveLength(1);
    expect(html.match(/data-chart="scatter"/g)).toHaveLength(3);
    expect(html.match(/data-chart="power"/g)).toHaveLength(6);
    for (const fig of html.split('<figure').slice(1)) matches(fig.slice(0, fig.indexOf('</figure>')), /<svg[^>]*width="\d/);
    // windows shaded: one labelled band per repetition of each run
    expect((html.match(/>rep 1</g) ?? []).length).toBe(6);
    expect((html.match(/>idle \d+(\.\d)? W/g) ?? []).length).toBeGreaterThanOrEqual(6);
  });

  it('writes the methodology from the results: sources, scopes, semantics, intervals, idle, grades, warnings', () => {
    const m = html.slice(html.indexOf('id="methodology"'), html.indexOf('id="cost"'));
    has(m, '<code>replay</code>');
    has(m, '<code>estimate</code>');
    matches(m, /<strong>device<\/strong> — the accelerator/);
    matches(m, /<strong>estimated<\/strong> — not measured/);
    has(m, 'each reading is the power at one instant');
    const a = res['a-smoke']!;
    const used = a.sources.find((s) => s.state === 'used')!;
    if (used.state !== 'used') throw new Error('no used source');
    has(m, `${fmtNum(used.achievedIntervalMs!.median)} ms (p99 ${fmtNum(used.achievedIntervalMs!.p99)} ms)`);
    has(m, `${fmtNum(a.idle!.powerW)} W over ${fmtNum(a.idle!.durationS)} s`);
    has(m, 'grade-B');
    has(m, 'grade-D');
    // sources probed but not used: each reason listed once, however many runs gave it
    for (const src of a.sources) if (src.state !== 'used') expect(m.split(`<td>${esc(src.reason)}</td>`).length - 1, src.id).toBe(1);
    // every warning of every run appears as its sentence, under that run
    for (const r of Object.values(res)) {
      const block = m.slice(m.indexOf(`>${r.runId}</a> · `));
      for (const w of r.warnings) has(block.slice(0, block.indexOf('</ul>')), `<code class="code">${w.code}</code> ${esc(WARNING_TEXT[w.code])}`);
    }
  });

  it('computes cost and carbon per million tokens with the stated formulas', () => {
    const c = html.slice(html.indexOf('id="cost"'), html.indexOf('id="runs"'));
    has(c, 'J/token ÷ 3.6');
    has(c, 'facility energy (kWh/Mtok) = energy × PUE');
    has(c, '€0.2 per kWh');
    const jpt = res['a-smoke']!.summary!.joulesPerToken.mean;
    has(c, `€${fmtNum((jpt / 3.6) * 1.25 * 0.2)}`);
    has(c, fmtNum(((jpt / 3.6) * 1.25 * 350) / 1000));
    has(md, '- cost per Mtok = facility kWh/Mtok × price per kWh');
  });

  it('results.csv has one row per run with every headline figure, exactly as in the result files', () => {
    const [head, ...rows] = csv;
    expect(rows).toHaveLength(6);
    const col = (name: string) => { const i = head!.indexOf(name); expect(i, name).toBeGreaterThanOrEqual(0); return i; };
    for (const r of Object.values(res)) {
      const row = rows.find((x) => x[col('runId')] === r.runId)!;
      expect(row, r.runId).toBeDefined();
      for (const f of ['tokensPerJ', 'tokensPerS', 'meanPowerW', 'joulesPerToken', 'energyJ'] as const) {
        expect(Number(row[col(`${f}_mean`)])).toBe(r.summary![f].mean);
        expect(Number(row[col(`${f}_ci95HalfWidth`)])).toBe(r.summary![f].ci95HalfWidth);
      }
      expect(row[col('fidelityGrade')]).toBe(r.fidelity!.grade);
      expect(Number(row[col('costPerMTok')])).toBeCloseTo((r.summary!.joulesPerToken.mean / 3.6) * 1.25 * 0.2, 12);
    }
    expect(rows.find((x) => x[col('deviceName')] === XSS_CHIP)).toBeDefined();
  });

  it('run details hold host, devices, software versions and the workload config, collapsible', () => {
    const d = html.slice(html.indexOf('id="runs"'));
    expect(d.match(/<details class="run"/g)).toHaveLength(6);
    has(d, `<th>CPU</th><td>${esc(res['a-smoke']!.host.cpuModel)}</td>`);
    has(d, `<th>node</th><td>${esc(res['a-smoke']!.software.node!)}</td>`);
    has(d, '&quot;dModel&quot;: 256');
    has(d, 'train-protocol.mjs');
    matches(md, /```json\n\{\n {2}"durationS": 1/);
  });
});

const mdName = (s: string) => s.replace(/[\\`*_[\]|#~]/g, (c) => `\\${c}`);

describe('report edge cases (in-process)', () => {
  it('pools two runs that fall into one cell, over their headline repetitions', async () => {
    const dir = join(work, 'pool');
    const twin = await variant(made.files['a-smoke'], dir, 'twin', (r) => { r.runId = `${r.runId}-twin`; });
    const { ok, invalid } = await collectResults([made.files['a-smoke'], twin, made.files['b-smoke']]);
    expect(invalid).toEqual([]);
    const { model, md } = await buildReport(ok, invalid, { currency: '$', generatedAt: 'T' });
    const row = model.rows[0]!;
    const cell = model.cells.get(`${row.key}\u0000${model.columns[0]!.key}`)!;
    const reps = [...res['a-smoke']!.repetitions, ...res['a-smoke']!.repetitions].map((x) => x.figures!.tokensPerJ!);
    expect(cell.figures!.runs).toBe(2);
    expect(cell.figures!.reps).toBe(4);
    expect(cell.figures!.tokensPerJ).toEqual(describeStats(reps));
    has(md, `| ${CHIP_A} ×1 · 350 W | smoke · infer | 2 | 4 |`);
  });

  it('a run with no headline figure and one with no samples file still make a report, each with a note', async () => {
    const dir = join(work, 'edge');
    const failed = await variant(made.files['b-smoke'], dir, 'failed', (r) => {
      r.runId = 'failed-run'; r.status = 'failed'; r.summary = null;
      for (const rep of r.repetitions) { rep.status = 'failed'; rep.figures = null; }
    });
    const noSamples = await variant(made.files['a-large'], dir, 'nosamples', (r) => { r.runId = 'no-samples'; r.rawSamples.file = 'gone.samples.jsonl'; }, false);
    const { ok, invalid } = await collectResults([failed, noSamples]);
    const { html, md } = await buildReport(ok, invalid, { currency: '$' });
    has(html, 'no headline figure');
    has(html, 'raw samples file gone.samples.jsonl was not found next to the result; power chart skipped');
    has(md, 'no-samples: raw samples file gone.samples.jsonl was not found');
    expect(html.match(/data-chart="power"/g)).toHaveLength(1);
  });

  it('--max-power-charts caps the power charts, one per matrix cell first, and lists the rest', async () => {
    const { ok } = await collectResults([made.dir]);
    const { html } = await buildReport(ok, [], { currency: '$', maxPowerCharts: 2 });
    expect(html.match(/data-chart="power"/g)).toHaveLength(2);
    has(html, '4 more runs are not charted: at most 2 power charts');
  });

  it('csv cells that a spreadsheet would run as formulas are neutralized; numbers stay numbers', async () => {
    const dir = join(work, 'csv');
    const f = await variant(made.files['a-smoke'], dir, 'formula', (r) => {
      r.runId = 'formula-run';
      r.workload.name = '=HYPERLINK("http://example.invalid","x")';
      r.workload.modelSize = '+cmd|/C calc';
      r.devices[0]!.name = '-2+3+cmd';
      r.host.cpuModel = '@SUM(A1)';
    });
    const { ok } = await collectResults([f]);
    const { csv } = await buildReport(ok, [], { currency: '$' });
    const [head, row] = parseCsv(csv);
    const cell = (n: string) => row![head!.indexOf(n)]!;
    expect(cell('workloadName')).toBe(`'=HYPERLINK("http://example.invalid","x")`);
    expect(cell('modelSize')).toBe(`'+cmd|/C calc`);
    expect(cell('deviceName')).toBe(`'-2+3+cmd`);
    for (const v of row!) expect(v).not.toMatch(/^[=+@\t\r]/);
    expect(Number(cell('tokensPerJ_mean'))).toBe(res['a-smoke']!.summary!.tokensPerJ.mean);
  });

  it('--baseline picks the comparison chip; an unknown one is exit 2 naming the chips there are', async () => {
    const out = join(work, 'baseline');
    const r = await runCli(['report', made.files['a-smoke'], made.files['b-smoke'], '--out', out, '--baseline', 'chip b']);
    expect(r.exitCode, r.stderr).toBe(0);
    const md = await readFile(join(out, 'report.md'), 'utf8');
    has(md, 'Baseline: **Chip B');
    const ratio = res['a-smoke']!.summary!.tokensPerJ.mean / res['b-smoke']!.summary!.tokensPerJ.mean;
    has(md, `(×${ratio >= 10 ? ratio.toFixed(1) : ratio.toFixed(2)})`);
    const bad = await runCli(['report', made.files['a-smoke'], '--out', out, '--baseline', 'H100']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/BAD_BASELINE: --baseline: no chip matches 'H100'/);
    expect(bad.stderr).toContain(`"${CHIP_A} ×1 · 350 W (device scope, grade B)"`); // the full row name, which picks it
  });

  it('no valid input at all is exit 2, not an empty report', async () => {
    const dir = join(work, 'empty');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'x.json'), '[]');
    const r = await runCli(['report', dir, '--out', join(work, 'empty-out')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/NO_RESULTS/);
    await rm(dir, { recursive: true, force: true });
  });

  it('the same run reached twice counts once, and the second file is listed', async () => {
    const dir = join(work, 'dup');
    const copy = await variant(made.files['a-smoke'], dir, 'copy', () => {});
    const { ok, invalid } = await collectResults([made.files['a-smoke'], copy]);
    expect(ok).toHaveLength(2);
    const { model, html } = await buildReport(ok, invalid, { currency: '$' });
    expect(model.runs).toHaveLength(1);
    has(html, `same runId (${res['a-smoke']!.runId}) as ${esc(made.files['a-smoke'])}, which is included`);
  });

  it('an upgraded result is named as such', async () => {
    const { ok } = await collectResults([made.files['a-smoke']]);
    const { html, md } = await buildReport([{ ...ok[0]!, upgradedFrom: 0 }], [], { currency: '$' });
    matches(html, /Upgraded from an older schema[\s\S]*schema version 0/);
    matches(md, /Upgraded from an older schema: .*\(version 0\)/);
    expect(basename(made.files['a-smoke'])).toMatch(/\.json$/);
  });
});
