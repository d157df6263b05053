// `wattbench validate FILE...`: check result files against the schema; each problem with its JSON pointer.
import type { Command } from './command.js';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseFlags, oneLine } from './command.js';
import { loadResult } from '../../results/io.js';
import { EXIT, badInput } from '../../lib/errors.js';

const usage = `wattbench validate FILE... [--json]

Check result files against the result schema (results/schema.json). Exit 0 when all are valid, 2 otherwise.`;

/**
 * One line per file: a JSON.parse message can quote the file's own line breaks. A folder is still refused (validate
 * checks the files it is given), but the reason says how to pass its files.
 */
async function explain(path: string, reason: string): Promise<string> {
  const isDir = await stat(path).then((s) => s.isDirectory(), () => false);
  return isDir ? `${oneLine(reason)} (a folder: pass its files, e.g. ${join(path, '*.json')})` : oneLine(reason);
}

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
      if (r.state !== 'ok') r.reason = await explain(p, r.reason);
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
