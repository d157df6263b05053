// A vitest reporter that prints the fault table at the end of a run of tests/faults/: per row of issue 8, how many
// faults were injected, how many the harness survived, and how many results were lost (must be 0). The tests write
// one ledger line per injected fault (tests/faults/helpers.ts `fault`); this reporter gives the run a fresh ledger
// and reads it back. Use:  npx vitest run tests/faults --reporter=default --reporter=./tests/faults/table-reporter.ts
// (bench/faults.ts does exactly that).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Reporter } from 'vitest/node';
import type { FaultRecord } from './helpers.js';

export const ROWS = ['sensor CLI', 'workload', 'harness signals', 'disk', 'files', 'config', 'secrets', 'commands'];

export function faultTable(records: FaultRecord[]): { markdown: string; lost: number; failed: number } {
  const lines = ['| fault row | faults injected | survived | results expected | results lost |', '|---|---:|---:|---:|---:|'];
  let tot = { n: 0, ok: 0, exp: 0, lost: 0 };
  const rows = [...ROWS, ...new Set(records.map((r) => r.row).filter((r) => !ROWS.includes(r)))];
  for (const row of rows) {
    const rs = records.filter((r) => r.row === row);
    if (!rs.length) continue;
    const t = { n: rs.length, ok: rs.filter((r) => r.survived).length, exp: rs.reduce((s, r) => s + r.resultsExpected, 0), lost: rs.reduce((s, r) => s + Math.max(0, r.resultsExpected - r.resultsFound), 0) };
    lines.push(`| ${row} | ${t.n} | ${t.ok} | ${t.exp} | ${t.lost} |`);
    tot = { n: tot.n + t.n, ok: tot.ok + t.ok, exp: tot.exp + t.exp, lost: tot.lost + t.lost };
  }
  lines.push(`| **total** | **${tot.n}** | **${tot.ok}** | **${tot.exp}** | **${tot.lost}** |`);
  return { markdown: lines.join('\n'), lost: tot.lost, failed: tot.n - tot.ok };
}

export default class FaultTableReporter implements Reporter {
  private ledger = '';
  onInit(): void {
    this.ledger = process.env.WATTBENCH_FAULTS_LEDGER ??= join(tmpdir(), `wattbench-faults-${process.pid}.jsonl`);
    writeFileSync(this.ledger, '');
  }
  onTestRunEnd(): void {
    if (!existsSync(this.ledger)) return;
    const records = readFileSync(this.ledger, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as FaultRecord);
    if (!records.length) return;
    const t = faultTable(records);
    const notSurvived = records.filter((r) => !r.survived);
    process.stdout.write(`\nFault suite (issue 8): every fault injected, what the harness did\n\n${t.markdown}\n`);
    for (const r of notSurvived) process.stdout.write(`  NOT SURVIVED: [${r.row}] ${r.fault}${r.note ? ` — ${r.note}` : ''}\n`);
    process.stdout.write(t.lost === 0 && t.failed === 0 ? 'results lost: 0\n' : `results lost: ${t.lost}; faults not survived: ${t.failed}\n`);
  }
}
