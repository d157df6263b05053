// Workload faults through the real CLI and the `command` workload: a crash (exit code and signal), a hang past
// --timeout (ignoring SIGTERM, with a grandchild), no window, malformed protocol lines, a 100 MB stdout flood, and a
// grandchild that keeps stdout open after the workload exits. Each run is failed or marked, the harness's memory
// stays bounded, and the next run of the suite goes on.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fault, tempDir, workloadScript, wb, countResults, pidsIn, survivors, looksLikeCrash, constantTrace, quickRunFlags } from './helpers.js';

let dir: string;
let trace: string;
beforeAll(async () => {
  dir = await tempDir('wb-fault-workload-');
  trace = await constantTrace(dir, 100, 30);
});
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

const node = process.execPath;
const good = (tokens = 1000) => `
  emit({ event: 'warmup_start' }); await sleep(50);
  emit({ event: 'window_start' });
  for (let i = 0; i < 10; i++) { await sleep(30); emit({ event: 'tokens', tokens: ${tokens / 10} }); }
  emit({ event: 'window_end' });`;

async function resultsByRun(out: string): Promise<any[]> {
  const { valid } = await countResults(out);
  const all = await Promise.all(valid.map(async (f) => JSON.parse(await readFile(f, 'utf8'))));
  // run ids carry the suite position (-0, -1, ...)
  return all.sort((a, b) => Number(a.runId.split('-').pop()) - Number(b.runId.split('-').pop()));
}

describe('workload faults', () => {
  it('a suite of broken workloads followed by a good one: each broken run failed with its reason, the good run measured, exit 1', async () => {
    const pidsHang = join(dir, 'hang.pids');
    const termSeen = join(dir, 'hang.term');
    const crash = await workloadScript(dir, 'crash', `
      emit({ event: 'window_start' }); emit({ event: 'tokens', tokens: 10 });
      console.error('RuntimeError: CUDA error: an illegal memory access was encountered');
      process.exit(3);`);
    const segv = await workloadScript(dir, 'segv', `
      emit({ event: 'window_start' }); await sleep(50);
      process.kill(process.pid, 'SIGSEGV');`);
    const hang = await workloadScript(dir, 'hang', `
      forkChild(${JSON.stringify(pidsHang)});
      // deaf to the polite stop: needs the SIGKILL that follows (the note shows the stop came after this was set up)
      process.on('SIGTERM', () => { fs.appendFileSync(${JSON.stringify(termSeen)}, 'TERM\\n'); });
      emit({ event: 'warmup_start' }); emit({ event: 'window_start' });
      setInterval(() => emit({ event: 'tokens', tokens: 1 }), 50);`);
    const noWindow = await workloadScript(dir, 'nowindow', `
      emit({ event: 'start' }); emit({ event: 'tokens', tokens: 500 }); console.log('done, I think');`);
    const malformed = await workloadScript(dir, 'malformed', `
      emit({ event: 'warmup_start' });
      emit({ event: 'window_start' });
      process.stdout.write('{"event": "tokens", "tokens": 5\\n');               // cut JSON
      emit({ event: 'tokens', tokens: -5 });                                  // negative
      emit({ event: 'tokens', tokens: 'many' });                              // wrong type
      emit({ event: 'tokens', tokens: 1e308 }); emit({ event: 'tokens', tokens: 1e308 }); // would sum to Infinity
      emit({ event: 'tokens', tokens: 100, input: -1 });
      emit({ event: 'teleport' });                                           // unknown event
      emit({ event: 'metric', name: 'x'.repeat(500), value: 1, unit: 'u' });  // name too long
      emit({ event: 'metric', name: 'ok_metric', value: 'NaN', unit: 'u' });
      process.stdout.write('{"event":"window_end"\\n');
      process.stdout.write('\\u0000\\u001b[2J not json at all {\\n');
      emit({ event: 'tokens', tokens: 300 }); await sleep(60); emit({ event: 'tokens', tokens: 200 });
      emit({ event: 'window_end' });`);
    const okWl = await workloadScript(dir, 'good', good(1000));
    const suite = join(dir, 'broken.json');
    const cmd = (p: string, name: string) => ({ command: [node, p], name });
    await writeFile(suite, JSON.stringify({
      name: 'faults',
      runs: [
        { name: 'crash', workload: 'command', config: cmd(crash, 'crash') },
        { name: 'segv', workload: 'command', config: cmd(segv, 'segv') },
        // the timeout runs from the spawn: a fresh Node process can take a second or more to start on a loaded 2-core
        // CI machine, and a 1 s timeout could stop it before it has forked its child or become deaf to SIGTERM
        { name: 'hang', workload: 'command', config: cmd(hang, 'hang'), timeoutS: 5 },
        { name: 'no-window', workload: 'command', config: cmd(noWindow, 'no-window') },
        { name: 'malformed', workload: 'command', config: cmd(malformed, 'malformed') },
        { name: 'good', workload: 'command', config: cmd(okWl, 'good') },
      ],
    }));
    const out = join(dir, 'suite-out');
    const r = await wb(['run', suite, ...quickRunFlags(trace, out), '--run-id', 'f'], { timeoutMs: 120_000 });
    expect(r.hung).toBe(false);
    expect(looksLikeCrash(r.stderr), r.stderr).toBe(false);
    expect(r.code, r.stderr).toBe(1);
    const res = await resultsByRun(out);
    const byName = Object.fromEntries(res.map((x) => [x.workload.name, x]));

    await fault('workload', 'crashes (exit 3)', async () => {
      const x = byName.crash;
      expect(x.status).toBe('failed');
      expect(x.repetitions[0].error.code).toBe('WORKLOAD_FAILED');
      expect(x.repetitions[0].exit.exitCode).toBe(3);
      expect(x.repetitions[0].error.stderrTail).toMatch(/illegal memory access/);
      return { expected: 1, found: x ? 1 : 0 };
    });
    await fault('workload', 'crashes (SIGSEGV)', async () => {
      const x = byName.segv;
      expect(x.status).toBe('failed');
      expect(x.repetitions[0].exit.signal).toBe('SIGSEGV');
      return { expected: 1, found: x ? 1 : 0 };
    });
    await fault('workload', 'hangs past its timeout (deaf to SIGTERM, with a grandchild)', async () => {
      const x = byName.hang;
      expect(x.status).toBe('failed');
      expect(x.repetitions[0].error.code).toBe('WORKLOAD_TIMEOUT');
      const pids = pidsIn(pidsHang);
      expect(pids).toHaveLength(2);
      // the timeout's SIGTERM reached a workload that ignored it: the SIGKILL is what stopped it
      expect(existsSync(termSeen), 'the workload got SIGTERM while it was deaf to it').toBe(true);
      expect(await survivors(pids, 1000)).toEqual([]);
      return { expected: 1, found: x ? 1 : 0 };
    });
    await fault('workload', 'never signals its window', async () => {
      const x = byName['no-window'];
      expect(x.status).toBe('failed');
      expect(x.repetitions[0].error.code).toBe('NO_WINDOW');
      expect(x.repetitions[0].error.message).toMatch(/window_start/);
      return { expected: 1, found: x ? 1 : 0 };
    });
    await fault('workload', 'prints malformed protocol lines', async () => {
      const x = byName.malformed;
      // the window still counts; only the well-formed token events inside it are counted
      expect(x.status).toBe('ok');
      expect(x.repetitions[0].tokens.total).toBe(500); // 300 + 200; the "input: -1" event is rejected whole
      const pe = x.warnings.find((w: any) => w.code === 'PROTOCOL_ERRORS');
      expect(pe).toBeTruthy();
      expect(pe.message).toMatch(/\d+ malformed protocol line/);
      expect(Number(/(\d+) malformed/.exec(pe.message)![1])).toBeGreaterThanOrEqual(8);
      return { expected: 1, found: x ? 1 : 0 };
    });
    await fault('workload', 'a good run after five broken ones (suite goes on)', async () => {
      const x = byName.good;
      expect(x.status).toBe('ok');
      expect(x.repetitions[0].tokens.total).toBe(1000);
      expect(x.repetitions[0].figures.tokensPerJ).toBeGreaterThan(0);
      expect(res).toHaveLength(6);
      return { expected: 6, found: res.length };
    });
  });

  it('`--workload command --set command=[...]`: a crash is a failed run with exit code 1 and a valid result', async () => {
    await fault('workload', 'crashes (--workload command --set)', async () => {
      const crash = await workloadScript(dir, 'crash2', `emit({ event: 'window_start' }); throw new Error('boom from the workload');`);
      const out = join(dir, 'set-out');
      const r = await wb(['run', ...quickRunFlags(trace, out), '--workload', 'command', '--set', `command=${JSON.stringify([node, crash])}`]);
      expect(looksLikeCrash(r.stdout), r.stdout).toBe(false);
      expect(r.code, r.stderr).toBe(1);
      const { valid } = await countResults(out);
      expect(valid).toHaveLength(1);
      const x = JSON.parse(await readFile(valid[0]!, 'utf8'));
      expect(x.status).toBe('failed');
      expect(x.repetitions[0].error.stderrTail).toMatch(/boom from the workload/);
      return { expected: 1, found: valid.length };
    });
  });

  it('a timeout longer than a timer can hold (--timeout 3000000 s, config timeoutS too) does not fire at once', async () => {
    await fault('workload', 'timeout beyond the 24.8-day timer limit', async () => {
      // setTimeout turns any delay over 2^31-1 ms into 1 ms: without a cap this run would be stopped immediately
      const wl = await workloadScript(dir, 'long-timeout', good(300));
      const out = join(dir, 'long-timeout-out');
      const r = await wb(['run', ...quickRunFlags(trace, out), '--timeout', '3000000', '--workload', 'command',
        '--set', `command=${JSON.stringify([node, wl])}`, '--set', 'timeoutS=3000000']);
      expect(r.code, r.stderr).toBe(0);
      const { valid } = await countResults(out);
      const x = JSON.parse(await readFile(valid[0]!, 'utf8'));
      expect(x.repetitions[0].status).toBe('ok');
      expect(x.repetitions[0].tokens.total).toBe(300);
      return { expected: 1, found: valid.length };
    });
  });

  it('a grandchild that keeps stdout open after the workload exits does not hang the harness, and is stopped', async () => {
    await fault('workload', 'exits but a grandchild keeps its stdout open', async () => {
      const pids = join(dir, 'daemon.pids');
      const daemon = await workloadScript(dir, 'daemon', `
        const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: ['ignore', 'inherit', 'inherit'] });
        fs.writeFileSync(${JSON.stringify(pids)}, process.pid + ' ' + c.pid + '\\n');
        ${good(400)}
        await sleep(100);
        process.exit(0);`);
      const out = join(dir, 'daemon-out');
      const r = await wb(['run', ...quickRunFlags(trace, out), '--workload', 'command', '--set', `command=${JSON.stringify([node, daemon])}`], { timeoutMs: 40_000 });
      expect(r.hung, 'the harness waited forever for the pipe to close').toBe(false);
      expect(r.code, r.stderr).toBe(0);
      const { valid } = await countResults(out);
      expect(valid).toHaveLength(1);
      expect(JSON.parse(await readFile(valid[0]!, 'utf8')).repetitions[0].tokens.total).toBe(400);
      expect(await survivors(pidsIn(pids), 1000)).toEqual([]);
      return { expected: 1, found: valid.length };
    });
  });

  it('a 100 MB stdout flood (short lines and one endless line) is read, cut and dropped with bounded memory', async () => {
    // the baseline: the same run without the flood
    const plain = await workloadScript(dir, 'plain', good(1000));
    const base = await wb(['run', ...quickRunFlags(trace, join(dir, 'base-out')), '--workload', 'command', '--set', `command=${JSON.stringify([node, plain])}`]);
    expect(base.code, base.stderr).toBe(0);
    expect(base.peakRssKiB).toBeGreaterThan(0);

    await fault('workload', 'floods stdout with 100 MB', async () => {
      const flood = await workloadScript(dir, 'flood', `
        const write = (s) => new Promise((r) => { if (process.stdout.write(s)) r(); else process.stdout.once('drain', r); });
        emit({ event: 'warmup_start' });
        emit({ event: 'window_start' });
        // 60 MB of short log lines, 1 MiB per write
        const chunk = ('log line that is not protocol ' + 'x'.repeat(34) + '\\n').repeat(16384);
        for (let i = 0; i < 60; i++) await write(chunk);
        // 40 MB on one line that never ends until the very last byte
        const long = 'y'.repeat(1 << 20);
        for (let i = 0; i < 40; i++) await write(long);
        await write('\\n');
        // 20 MB on stderr, one line
        process.stderr.write('z'.repeat(20 << 20) + '\\n');
        emit({ event: 'tokens', tokens: 777 });
        emit({ event: 'window_end' });`);
      const out = join(dir, 'flood-out');
      const r = await wb(['run', ...quickRunFlags(trace, out), '--workload', 'command', '--set', `command=${JSON.stringify([node, flood])}`], { timeoutMs: 90_000 });
      expect(r.hung).toBe(false);
      expect(r.code, r.stderr.slice(-2000)).toBe(0);
      const { valid } = await countResults(out);
      expect(valid).toHaveLength(1);
      const x = JSON.parse(await readFile(valid[0]!, 'utf8'));
      expect(x.repetitions[0].tokens.total).toBe(777);
      expect(x.warnings.map((w: any) => w.code)).toContain('OUTPUT_TRUNCATED');
      // the result file stays small: nothing of the flood is kept beyond bounded tails
      expect(JSON.stringify(x).length).toBeLessThan(256 * 1024);
      // memory: the harness read 120 MB; its peak RSS grew by far less than that
      const grewMiB = (r.peakRssKiB - base.peakRssKiB) / 1024;
      console.log(`flood: peak RSS ${(r.peakRssKiB / 1024).toFixed(0)} MiB vs ${(base.peakRssKiB / 1024).toFixed(0)} MiB without the flood (+${grewMiB.toFixed(0)} MiB for 120 MB read)`);
      expect(grewMiB).toBeLessThan(64);
      return { expected: 1, found: valid.length, note: `peak RSS +${grewMiB.toFixed(0)} MiB` };
    });
  });
});
