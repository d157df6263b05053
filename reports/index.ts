// Report rendering: pure functions of validated results → report.md, report.html (self-contained), results.csv.
import Handlebars from 'handlebars';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../results/io.js';
import type { WattbenchResult } from '../results/types.gen.js';

export interface ReportOptions {
  baseline?: string; title?: string; currency: string;
  pricePerKWh?: number; pue?: number; carbonGPerKWh?: number;
}
export interface LoadedOk { path: string; result: WattbenchResult; upgradedFrom?: number }
export interface LoadedBad { path: string; reason: string }

const tpl = (name: string) => readFileSync(fileURLToPath(new URL(`./templates/${name}`, import.meta.url)), 'utf8');

export function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  // a leading =,+,-,@ would be run as a formula by spreadsheets
  const safe = /^[=+\-@]/.test(s) && !/^-?\d/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export interface Row {
  runId: string; device: string; deviceCount: number; workload: string; kind: string; modelSize: string; source: string; scope: string; grade: string;
  status: string; reps: string; tokensPerJ: number | null; tokensPerJCi: number | null; tokensPerS: number | null; meanPowerW: number | null; joulesPerToken: number | null;
}

export function rowsOf(results: LoadedOk[]): Row[] {
  return results.map(({ result: r }) => {
    const used = r.sources.find((s) => s.state === 'used');
    const accel = r.devices.filter((d) => used && used.state === 'used' && used.deviceIds.includes(d.id));
    const s = r.summary;
    return {
      runId: r.runId, device: accel[0]?.name ?? r.host.cpuModel, deviceCount: accel.length, workload: r.workload.name, kind: r.workload.kind ?? 'other',
      modelSize: r.workload.modelSize ?? '', source: used?.id ?? '', scope: used && used.state === 'used' ? used.scope : '', grade: r.fidelity?.grade ?? '',
      status: r.status, reps: s ? `${s.repetitionsOk}/${s.repetitionsTotal}` : `0/${r.repetitions.length}`,
      tokensPerJ: s?.tokensPerJ.mean ?? null, tokensPerJCi: s?.tokensPerJ.ci95HalfWidth ?? null, tokensPerS: s?.tokensPerS.mean ?? null,
      meanPowerW: s?.meanPowerW.mean ?? null, joulesPerToken: s?.joulesPerToken.mean ?? null,
    };
  });
}

const fmt = (x: unknown, d = 3) => (typeof x === 'number' && Number.isFinite(x) ? (Math.abs(x) >= 100 ? x.toFixed(1) : x.toPrecision(d)) : '–');

export function renderCsv(rows: Row[]): string {
  const cols = Object.keys(rows[0] ?? { runId: '' }) as Array<keyof Row>;
  return [cols.join(','), ...rows.map((r) => cols.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n';
}

function context(results: LoadedOk[], invalid: LoadedBad[], opts: ReportOptions) {
  const rows = rowsOf(results).map((r) => ({ ...r, tpj: fmt(r.tokensPerJ), ci: fmt(r.tokensPerJCi), tps: fmt(r.tokensPerS), pw: fmt(r.meanPowerW), jpt: fmt(r.joulesPerToken) }));
  return { title: opts.title ?? 'wattbench report', generated: new Date().toISOString(), rows, invalid, runs: results.map((l) => ({ ...l.result, warningsList: l.result.warnings })) };
}

export function renderMarkdown(results: LoadedOk[], invalid: LoadedBad[], opts: ReportOptions): string {
  const md = Handlebars.create();
  // Markdown table cells: escape pipes and HTML so device names stay data
  md.registerHelper('cell', (v: unknown) => new Handlebars.SafeString(String(v ?? '').replace(/[|\\]/g, (c) => `\\${c}`).replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\n/g, ' ')));
  return md.compile(tpl('report.md.hbs'), { noEscape: true })(context(results, invalid, opts));
}

export function renderHtml(results: LoadedOk[], invalid: LoadedBad[], opts: ReportOptions): string {
  const h = Handlebars.create();
  return h.compile(tpl('report.html.hbs'))({ ...context(results, invalid, opts), css: tpl('report.css') });
}

export async function writeReport(results: LoadedOk[], invalid: LoadedBad[], outDir: string, opts: ReportOptions): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const files: Array<[string, string]> = [
    ['report.html', renderHtml(results, invalid, opts)],
    ['report.md', renderMarkdown(results, invalid, opts)],
    ['results.csv', renderCsv(rowsOf(results))],
  ];
  for (const [name, text] of files) await writeFileAtomic(join(outDir, name), text);
  return files.map(([n]) => join(outDir, n));
}
