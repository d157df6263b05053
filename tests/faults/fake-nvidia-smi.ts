// A fake nvidia-smi for the fault suite, generated into a temp folder and put first on PATH. It answers the
// driver's probe (--query-gpu with a header, -L) for one H100 and runs the sampling loop (-lms) at the requested
// interval, printing 150 W. Each loop start appends its pid to STATE/loop.pids; FAULT_PLAN (a JSON list, one entry
// per loop start: "ok", "exit:N", "junk:N", "hang:N", "noexec:N", N = rows first) makes that loop misbehave;
// FAULT_RESTORE_AFTER names the file whose "EACCES" ends a noexec fault (see below).
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, writeExecutable } from './helpers.js';

export const HAVE_NVIDIA_SMI_DRIVER = existsSync(join(ROOT, 'drivers', 'nvidia-smi.ts'));

export async function installFakeNvidiaSmi(dir: string): Promise<{ bin: string; state: string; pidsFile: string }> {
  const bin = join(dir, 'bin');
  const state = join(dir, 'state');
  await mkdir(bin, { recursive: true });
  await mkdir(state, { recursive: true });
  await writeExecutable(join(bin, 'nvidia-smi'), fakeNvidiaSmi(state));
  return { bin, state, pidsFile: join(state, 'loop.pids') };
}

/**
 * A fake nvidia-smi: answers the probe (--query-gpu with a header, -L) for one H100, and runs the sampling loop
 * (-lms) with the fault planned for that loop call in FAULT_PLAN (a JSON list; later calls behave).
 */
export function fakeNvidiaSmi(state: string): string {
  return `#!${process.execPath}
'use strict';
const fs = require('fs');
const path = require('path');
const argv = process.argv.slice(2);
const out = (s) => process.stdout.write(s);
const STATIC = { index: '0', name: 'NVIDIA H100 PCIe', uuid: 'GPU-11111111-2222-3333-4444-555555555555', 'pci.bus_id': '00000000:17:00.0',
  driver_version: '535.104.05', 'memory.total': '81559', 'power.limit': '350.00', 'enforced.power.limit': '350.00', 'power.default_limit': '350.00',
  compute_cap: '9.0', 'mig.mode.current': 'Disabled', 'power.draw.instant': '150.00', 'power.draw': '150.00', 'power.draw.average': '150.00',
  'clocks_event_reasons.active': '0x0000000000000000', 'clocks_throttle_reasons.active': '0x0000000000000000' };
if (argv.includes('-L')) { out('GPU 0: NVIDIA H100 PCIe (UUID: GPU-11111111-2222-3333-4444-555555555555)\\n'); process.exit(0); }
const q = argv.find((a) => a.startsWith('--query-gpu='));
if (!q) { process.stderr.write('fake nvidia-smi: unsupported ' + argv.join(' ') + '\\n'); process.exit(1); }
const fields = q.slice(12).split(',');
const cell = (f) => f === 'timestamp' ? stamp() : (STATIC[f] ?? '[N/A]');
const pad = (n, w = 2) => String(n).padStart(w, '0');
function stamp() { const d = new Date(); return d.getFullYear() + '/' + pad(d.getMonth() + 1) + '/' + pad(d.getDate()) + ' ' + pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) + '.' + pad(d.getMilliseconds(), 3); }
const row = () => fields.map(cell).join(', ');
if (!argv.includes('-lms')) { out(fields.join(', ') + '\\n' + row() + '\\n'); process.exit(0); }

// the sampling loop
const state = ${JSON.stringify(state)};
fs.appendFileSync(path.join(state, 'loop.pids'), process.pid + '\\n');
const n = fs.readFileSync(path.join(state, 'loop.pids'), 'utf8').trim().split('\\n').length;
const plan = (JSON.parse(process.env.FAULT_PLAN || '[]')[n - 1] || 'ok').split(':');
const after = Number(plan[1] || 0);
const ms = Number(argv[argv.indexOf('-lms') + 1]);
let k = 0;
const tick = () => {
  if (plan[0] !== 'ok' && k >= after) {
    clearInterval(timer);
    if (plan[0] === 'exit') { process.stderr.write('Unable to determine the device handle for GPU 0000:17:00.0: GPU is lost\\n'); process.exit(255); }
    if (plan[0] === 'hang') { process.on('SIGTERM', () => {}); setInterval(() => {}, 1 << 30); return; }
    if (plan[0] === 'junk') {
      const cells = fields.map(cell);
      const pi = fields.findIndex((f) => f.startsWith('power.draw'));
      // a row whose power cell holds the given bytes, every other cell intact
      const withPower = (bytes) => Buffer.concat([Buffer.from(cells.slice(0, pi).map((c) => c + ', ').join('')), bytes, Buffer.from(cells.slice(pi + 1).map((c) => ', ' + c).join('') + '\\n')]);
      out('NVIDIA-SMI has f@iled ~~ 0x?? ,,,\\n');                                      // garbage
      process.stdout.write(withPower(Buffer.from([0x31, 0xff, 0x35, 0x30, 0x2e, 0x30, 0x30]))); // "1\\xff50.00": not 1 W
      process.stdout.write(withPower(Buffer.from([0xc3, 0x28, 0x80])));                  // no number at all
      out(cells.join(', ') + ', 77\\n');                                                // one column too many
      out(cells.slice(0, -1).join(', ') + '\\n');                                       // one column too few
      out(cells.join(', ').slice(0, -6) + '\\n');                                       // the reason mask cut short
      out(cells.join(', ').slice(0, 30));                                               // a row cut by the exit
      setTimeout(() => process.exit(1), 20);
      return;
    }
    if (plan[0] === 'noexec') {
      // the tool loses its execute bit (a driver update in progress); a helper restores it a little later: once
      // FAULT_RESTORE_AFTER (a file, the run's raw samples log) records a failed start (EACCES), at most 30 s on,
      // so the harness surely tries while the bit is off however slow a loaded machine makes its restart; without
      // the variable, after 1.2 s
      fs.chmodSync(process.argv[1], 0o644);
      const until = process.env.FAULT_RESTORE_AFTER;
      const wait = until ? 'i=0; while [ $i -lt 300 ] && ! grep -qs EACCES "$1"; do sleep 0.1; i=$((i+1)); done' : 'sleep 1.2';
      require('child_process').spawn('/bin/sh', ['-c', wait + '; chmod 755 "$0"', process.argv[1], until || ''], { detached: true, stdio: 'ignore' }).unref();
      process.exit(1);
    }
  }
  out(row() + '\\n');
  k++;
};
const timer = setInterval(tick, ms);
tick();
`;
}
