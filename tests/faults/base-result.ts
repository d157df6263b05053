// One real, valid result file made by a real run (replayed constant power, a tiny command workload), for the tests
// that need a result to corrupt or to write: built at test time so it always matches the current schema.
import { join } from 'node:path';
import { readdir } from 'node:fs/promises';
import { wb, workloadScript, constantTrace, quickRunFlags } from './helpers.js';

export async function baseResult(dir: string, opts: { name?: string; extraArgs?: string[] } = {}): Promise<string> {
  const trace = await constantTrace(dir, 250, 20);
  const wl = await workloadScript(dir, 'base-workload', `
    emit({ event: 'warmup_start' }); await sleep(50);
    emit({ event: 'window_start' });
    for (let i = 0; i < 8; i++) { await sleep(40); emit({ event: 'tokens', tokens: 125 }); }
    emit({ event: 'window_end' });`);
  const out = join(dir, 'base-out');
  const r = await wb(['run', ...quickRunFlags(trace, out), '--repetitions', '2', '--run-id', 'base', ...(opts.extraArgs ?? []),
    '--workload', 'command', '--set', `command=${JSON.stringify([process.execPath, wl])}`, ...(opts.name ? ['--set', `name=${opts.name}`] : [])]);
  if (r.code !== 0) throw new Error(`the base run failed (${r.code}): ${r.stderr.slice(-2000)}`);
  const f = (await readdir(out)).find((n) => n.endsWith('.json'));
  if (!f) throw new Error('the base run wrote no result');
  return join(out, f);
}
