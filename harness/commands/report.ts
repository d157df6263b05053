// `wattbench report RESULTS... --out DIR`: render reports from validated result files only.
import { resolve } from 'node:path';
import type { Command } from './command.js';
import { parseFlags, num, oneLine } from './command.js';
import { EXIT, badInput } from '../../lib/errors.js';
import { collectResults } from '../collect.js';
import { checkWritableDir } from '../../results/io.js';
// the renderer (vega, vega-lite: ~40 MB) is loaded only when a report is written, not for every command
import { buildRunViews, matchBaseline, DEFAULT_MAX_POWER_CHARTS } from '../../reports/model.js';

const usage = `wattbench report RESULTS... --out DIR [options]

RESULTS are result files, folders (searched for *.json) or globs. Writes report.html (self-contained),
report.md and results.csv into DIR. Invalid files are listed with the reason; the report is built from the rest.

  --out DIR               where the three files go (created if needed)
  --baseline CHIP         the row the ratios compare against: its full name, 'CHIP (SCOPE scope, grade G)',
                          a chip label or device name, or a unique part of a row's name
                          (default: the first row in the inputs)
  --title TEXT            report title
  --price-per-kwh X       electricity price per kWh → energy cost per million tokens
  --currency SYMBOL       currency symbol for the cost (default $)
  --pue X                 data-centre power usage effectiveness (default 1 when a cost or carbon flag is given)
  --carbon-g-per-kwh X    grid carbon intensity → kg CO2 per million tokens
  --max-power-charts N    power-over-time charts drawn at most (default ${DEFAULT_MAX_POWER_CHARTS}; one per matrix cell first)`;

export const report: Command = {
  name: 'report', summary: 'write report.html, report.md and results.csv from result files', usage,
  async run(argv, io) {
    const { values: f, positionals } = parseFlags(argv, {
      out: { type: 'string' }, baseline: { type: 'string' }, 'price-per-kwh': { type: 'string' }, pue: { type: 'string' },
      'carbon-g-per-kwh': { type: 'string' }, currency: { type: 'string' }, title: { type: 'string' }, 'max-power-charts': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    } as const, 'report');
    if (f.help) { io.stdout.write(usage + '\n'); return EXIT.OK; }
    if (!positionals.length) throw badInput('BAD_FLAG', 'report needs result files or folders', 'e.g. wattbench report results/runs --out report/');
    if (!f.out) throw badInput('BAD_FLAG', 'report needs --out DIR', 'e.g. --out report/');
    // each remedy shows a value that the flag accepts (a PUE is at least 1)
    const pue = num(f.pue, '--pue', { example: 1.3 });
    if (pue !== undefined && pue < 1) throw badInput('BAD_FLAG', `--pue '${f.pue}' is below 1`, 'PUE is facility energy ÷ IT energy, so at least 1 (e.g. --pue 1.3)');
    const pricePerKWh = num(f['price-per-kwh'], '--price-per-kwh', { min: 0, example: 0.12 });
    const carbonGPerKWh = num(f['carbon-g-per-kwh'], '--carbon-g-per-kwh', { min: 0, example: 350 });
    const maxPowerCharts = num(f['max-power-charts'], '--max-power-charts', { min: 0, integer: true });
    const collected = await collectResults(positionals);
    const { ok } = collected;
    // a JSON.parse message can quote the file's own line breaks: each skipped file stays on one line (here and in
    // the report's list of skipped files)
    const invalid = collected.invalid.map((i) => ({ ...i, reason: oneLine(i.reason) }));
    for (const i of invalid) io.stderr.write(`skipped ${i.path}: ${i.reason}${i.problems?.length ? ` (${i.problems.slice(0, 3).map((p) => `${p.pointer}: ${p.message}`).join('; ')})` : ''}\n`);
    if (!ok.length) throw badInput('NO_RESULTS', 'no valid result files among the inputs', 'run `wattbench validate` on them to see why');
    if (f.baseline !== undefined) {
      const m = matchBaseline(buildRunViews(ok), f.baseline);
      if (!m.ok) throw badInput('BAD_BASELINE', `--baseline: ${m.reason}`, `pass one of: ${m.chips.map((c) => JSON.stringify(c)).join(', ')}`);
    }
    // a folder that cannot take the report is said in one line (and /proc paths, where mkdir -p spins, never hang)
    const unwritable = await checkWritableDir(resolve(f.out));
    if (unwritable) throw badInput('OUTPUT_NOT_WRITABLE', `cannot write the report to ${resolve(f.out)}: ${unwritable}`, 'choose another folder with --out, or fix its permissions / free space');
    const { writeReport } = await import('../../reports/index.js');
    const files = await writeReport(ok, invalid, resolve(f.out), {
      baseline: f.baseline, title: f.title, currency: f.currency ?? '$',
      pricePerKWh, pue, carbonGPerKWh, maxPowerCharts,
    });
    for (const p of files) io.stdout.write(`wrote ${p}\n`);
    return EXIT.OK;
  },
};
