// `wattbench validate FILE...`: check result files against the schema; each problem with its JSON pointer.
import type { Command } from './command.js';
import { parseFlags } from './command.js';
import { loadResult } from '../../results/io.js';
import { EXIT, badInput } from '../../lib/errors.js';

const usage = `wattbench validate FILE... [--json]

Check result files against the result schema (results/schema.json). Exit 0 when all are valid, 2 otherwise.`;

export const validate: Command = {
  name: 'validate', summary: 'check result files against the schema', usage,
  async run(argv, io) {
    const { values: f, positionals } = parseFlags(argv, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const, 'validate');
    if (f.help) { io.stdout.write(usage + '\n'); return EXIT.OK; }
    if (!positionals.length) throw badInput('BAD_FLAG', 'validate needs at least one file', 'e.g. wattbench validate results/runs/*.json');
    let bad = 0;
    const report: unknown[] = [];
    for (const p of positionals) {
      const r = await loadResult(p);
      if (r.state === 'ok') {
        report.push({ file: p, valid: true, ...(r.upgradedFrom ? { upgradedFrom: r.upgradedFrom } : {}) });
        if (!f.json) io.stdout.write(`${p}: valid (schema v${r.result.schemaVersion}${r.upgradedFrom ? `, upgraded from v${r.upgradedFrom}` : ''})\n`);
      } else {
        bad++;
        report.push({ file: p, valid: false, reason: r.reason, problems: r.problems ?? [] });
        if (!f.json) {
          io.stdout.write(`${p}: invalid — ${r.reason}\n`);
          for (const pr of r.problems ?? []) io.stdout.write(`  ${pr.pointer}: ${pr.message}\n`);
        }
      }
    }
    if (f.json) io.stdout.write(JSON.stringify(report, null, 2) + '\n');
    return bad ? EXIT.BAD_INPUT : EXIT.OK;
  },
};
