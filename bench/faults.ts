// The fault suite of issue 8 as one command: runs tests/faults/ with the fault-table reporter and prints, at the end,
// the table that goes into the README (faults injected, survived, results lost — which must be 0) and the wall time.
//   node --import tsx bench/faults.ts            (exit 0 only when every test passed and nothing was lost)
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { faultTable } from '../tests/faults/table-reporter.js';
import type { FaultRecord } from '../tests/faults/helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const ledgerDir = mkdtempSync(join(tmpdir(), 'wb-faults-bench-'));
const ledger = join(ledgerDir, 'ledger.jsonl');
const t0 = Date.now();
const vitest = spawn(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'tests/faults', '--reporter=default', '--reporter=./tests/faults/table-reporter.ts'], {
  cwd: root, stdio: 'inherit', env: { ...process.env, WATTBENCH_FAULTS_LEDGER: ledger },
});
const code: number = await new Promise((resolve) => vitest.on('close', (c) => resolve(c ?? 1)));
const wallS = (Date.now() - t0) / 1000;
let records: FaultRecord[] = [];
try { records = readFileSync(ledger, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)); } catch { /* no ledger: vitest failed early */ }
rmSync(ledgerDir, { recursive: true, force: true });
const t = faultTable(records);
// the reporter has printed the table itself; this line adds the wall time for the README
process.stdout.write(`\n${records.length} faults injected in ${wallS.toFixed(0)} s wall on ${cpus().length} CPU(s); vitest exit ${code}; results lost: ${t.lost}\n`);
process.exitCode = code === 0 && t.lost === 0 && t.failed === 0 ? 0 : 1;
