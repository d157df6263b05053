// `wattbench report RESULTS... --out DIR`: render reports from validated result files only.
import { resolve } from 'node:path';
import type { Command } from './command.js';
import { parseFlags } from './command.js';
import { EXIT, badInput } from '../../lib/errors.js';
import { collectResults } from '../collect.js';
import { writeReport } from '../../reports/index.js';

const usage = `wattbench report RESULTS... --out DIR [--baseline DEVICE] [--price-per-kwh X] [--pue X] [--carbon-g-per-kwh X]

RESULTS are result files, folders (searched for *.json) or globs. Writes report.html (self-contained),
report.md and results.csv into DIR. Invalid files are listed with the reason; the report is built from the rest.`;

export const report: Command = {
  name: 'report', summary: 'write report.html, report.md and results.csv from result files', usage,
  async run(argv, io) {
    const { values: f, positionals } = parseFlags(argv, {
      out: { type: 'string' }, baseline: { type: 'string' }, 'price-per-kwh': { type: 'string' }, pue: { type: 'string' },
      'carbon-g-per-kwh': { type: 'string' }, currency: { type: 'string' }, title: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    } as const, 'report');
    if (f.help) { io.stdout.write(usage + '\n'); return EXIT.OK; }
    if (!positionals.length) throw badInput('BAD_FLAG', 'report needs result files or folders', 'e.g. wattbench report results/runs --out report/');
    if (!f.out) throw badInput('BAD_FLAG', 'report needs --out DIR', 'e.g. --out report/');
    const numOpt = (v: string | undefined, flag: string) => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw badInput('BAD_FLAG', `${flag} '${v}' is not a non-negative number`, `e.g. ${flag} 0.12`);
      return n;
    };
    const { ok, invalid } = await collectResults(positionals);
    for (const i of invalid) io.stderr.write(`skipped ${i.path}: ${i.reason}${i.problems?.length ? ` (${i.problems.slice(0, 3).map((p) => `${p.pointer}: ${p.message}`).join('; ')})` : ''}\n`);
    if (!ok.length) throw badInput('NO_RESULTS', 'no valid result files among the inputs', 'run `wattbench validate` on them to see why');
    const files = await writeReport(ok, invalid, resolve(f.out), {
      baseline: f.baseline, title: f.title, currency: f.currency ?? '$',
      pricePerKWh: numOpt(f['price-per-kwh'], '--price-per-kwh'), pue: numOpt(f.pue, '--pue'), carbonGPerKWh: numOpt(f['carbon-g-per-kwh'], '--carbon-g-per-kwh'),
    });
    for (const p of files) io.stdout.write(`wrote ${p}\n`);
    return EXIT.OK;
  },
};
