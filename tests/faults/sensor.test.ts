// Sensor-CLI faults against lib/supervise.ts directly: fake vendor tools (small scripts generated into a temp
// folder and put first on PATH) that exit mid-run, hang, print garbage, truncated lines, the wrong number of
// columns, bytes that are not UTF-8, or cannot be executed. Each must give a recorded gap, a restart with backoff
// and no crash — and never a made-up reading.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmod, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { superviseLoop, supervisePoll, type Supervised } from '../../lib/supervise.js';
import { createRunClock } from '../../lib/clock.js';
import { parseNumber } from '../../drivers/driver.js';
import { fault, tempDir, writeExecutable, isAlive, pidsIn, survivors, waitFor } from './helpers.js';

let dir: string;
let bin: string;
beforeAll(async () => {
  dir = await tempDir('wb-fault-sensor-');
  bin = join(dir, 'bin');
  await (await import('node:fs/promises')).mkdir(bin);
});
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

/** The fake tool's row format: "<index>, <power> W" — like nvidia-smi's csv with units. */
const ROW = /^(\d+), (\d+(?:\.\d+)?) W$/;

interface Watch {
  readings: Array<{ tS: number; powerW: number }>;
  gaps: Array<{ startS: number; endS: number; reason: string }>;
  restarts: string[];
  notes: string[];
  truncatedSeen: number[];
  sup: Supervised;
  ctrl: AbortController;
}

/**
 * Supervise `name` (found through PATH, which has our bin folder first). The parser is strict and, like many real
 * parsers, throws on a row with the wrong number of columns: the supervisor must survive that too.
 */
function watchLoop(name: string, opts: { hangTimeoutMs?: number; backoffInitialMs?: number; backoffMaxMs?: number } = {}): Watch {
  const clock = createRunClock();
  const ctrl = new AbortController();
  const w: Omit<Watch, 'sup'> = { readings: [], gaps: [], restarts: [], notes: [], truncatedSeen: [], ctrl };
  const sup = superviseLoop({
    file: name, args: ['--loop'], env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, clock, signal: ctrl.signal,
    sink: { gap: (g) => w.gaps.push(g), restarted: (r) => w.restarts.push(r), note: (m) => w.notes.push(m) },
    expectedIntervalMs: 50,
    // the product's own floor (5 s) unless a test is about hangs: a tool that is slow to print its first row on a
    // loaded 2-core CI machine, or a test process that is not scheduled for a moment, must not look hung to a test
    // that asserts there was no restart, or that every gap is an exit
    hangTimeoutMs: opts.hangTimeoutMs ?? 5000,
    backoffInitialMs: opts.backoffInitialMs ?? 100,
    backoffMaxMs: opts.backoffMaxMs ?? 800,
    onLine: (line, tS, truncated) => {
      if (truncated) { w.truncatedSeen.push(line.length); return false; }
      if (line.split(',').length !== 2) throw new Error(`expected 2 columns, got ${line.split(',').length}`);
      const m = ROW.exec(line);
      if (!m) return false;
      w.readings.push({ tS, powerW: Number(m[2]) });
      return true;
    },
  });
  return { ...w, sup };
}

async function stopWatch(w: Watch): Promise<void> {
  w.ctrl.abort();
  await w.sup.stop();
}

const sh = (body: string) => `#!/bin/sh\n${body}\n`;

describe.concurrent('sensor CLI faults (superviseLoop)', () => {
  it('a tool that exits mid-run: gap recorded, restarted, readings resume, no made-up values', async () => {
    await fault('sensor CLI', 'loop tool exits mid-run', async () => {
      const log = join(dir, 'exits.calls');
      await writeExecutable(join(bin, 'tool-exits'), sh(`echo $$ >> ${log}
for i in 1 2 3 4 5; do echo "0, 212.5 W"; sleep 0.05; done
echo "Unable to determine the device handle for GPU 0000:17:00.0: GPU is lost" >&2
exit 255`));
      const w = watchLoop('tool-exits');
      await waitFor(() => pidsIn(log).length >= 3, 20_000, 'three starts of the tool');
      await waitFor(() => w.readings.length >= 12, 10_000, 'readings after the restarts');
      await stopWatch(w);
      expect(w.restarts.length).toBeGreaterThanOrEqual(2);
      expect(w.restarts[0]).toMatch(/exited \(code 255\).*GPU is lost/);
      expect(w.gaps.length).toBeGreaterThanOrEqual(2);
      for (const g of w.gaps) { expect(g.endS).toBeGreaterThanOrEqual(g.startS); expect(g.reason).toMatch(/exited/); }
      // readings after the first gap exist: the restart worked
      expect(w.readings.some((r) => r.tS > w.gaps[0]!.endS)).toBe(true);
      // a tool that died never turns into 0 W or any value it did not print
      expect(new Set(w.readings.map((r) => r.powerW))).toEqual(new Set([212.5]));
      expect(await survivors(pidsIn(log))).toEqual([]);
    });
  });

  it('restarts back off exponentially up to the cap when the tool keeps dying', async () => {
    await fault('sensor CLI', 'loop tool dies at once, again and again (backoff)', async () => {
      const log = join(dir, 'backoff.times');
      await writeExecutable(join(bin, 'tool-dies'), sh(`date +%s%N >> ${log}\nexit 1`));
      const w = watchLoop('tool-dies', { backoffInitialMs: 100, backoffMaxMs: 1600 });
      await waitFor(async () => (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').length >= 7, 30_000, 'seven starts');
      await stopWatch(w);
      const t = (await readFile(log, 'utf8')).trim().split('\n').map((s) => Number(s) / 1e6);
      const d = t.slice(1).map((x, i) => x - t[i]!);
      // Each time between starts is the backoff plus start-up and exit time, which only adds: 100, 200, 400, 800,
      // 1600, then 1600 again (capped) ms at least. Lower bounds hold however loaded the machine is; an upper bound
      // needs room for scheduling noise (NOISE_MS), kept below what a wrong backoff would add.
      const NOISE_MS = 1400;
      for (const [i, backoffMs] of [100, 200, 400, 800, 1600, 1600].entries()) expect(d[i]!, `wait ${i + 1}`).toBeGreaterThanOrEqual(backoffMs - 5);
      // it starts small (a backoff that began at the cap would wait 1600 ms here)
      expect(d[0]!).toBeLessThan(100 + NOISE_MS);
      // and the cap holds: the sixth wait would be 3200 ms without it
      expect(Math.max(...d)).toBeLessThan(1600 + NOISE_MS);
      expect(w.restarts.length).toBeGreaterThanOrEqual(6);
      expect(w.readings).toEqual([]);
    });
  });

  it('a tool that hangs with no output (and ignores SIGTERM) is killed and restarted; the hung process is gone', async () => {
    await fault('sensor CLI', 'loop tool hangs, ignoring SIGTERM', async () => {
      const pids = join(dir, 'hang.pids');
      const calls = join(dir, 'hang.calls');
      // first start: two readings, then silence with SIGTERM ignored; later starts behave
      await writeExecutable(join(bin, 'tool-hangs'), sh(`echo x >> ${calls}
if [ "$(wc -l < ${calls})" -eq 1 ]; then
  echo $$ >> ${pids}
  trap '' TERM
  echo "0, 180.0 W"; echo "0, 180.0 W"
  while :; do sleep 1; done
fi
while :; do echo "0, 181.0 W"; sleep 0.05; done`));
      const w = watchLoop('tool-hangs', { hangTimeoutMs: 700 });
      await waitFor(() => w.readings.some((r) => r.powerW === 181), 20_000, 'readings from the restarted tool');
      const hungPid = pidsIn(pids)[0]!;
      expect(hungPid).toBeGreaterThan(0);
      await waitFor(() => !isAlive(hungPid), 5000, 'the hung tool to be killed');
      await stopWatch(w);
      expect(w.restarts[0]).toMatch(/hung/);
      expect(w.gaps[0]!.reason).toMatch(/printed no reading for 700 ms/);
      expect(w.gaps[0]!.endS - w.gaps[0]!.startS).toBeGreaterThan(0.5);
    });
  });

  it('garbage between readings is ignored with a bounded number of notes; garbage only counts as a hang', async () => {
    await fault('sensor CLI', 'loop tool prints garbage', async () => {
      await writeExecutable(join(bin, 'tool-garbage'), sh(`i=0
while :; do
  echo "NVIDIA-SMI has f@iled ~~ 0x?? ,,, $i"; echo "0, 150.0 W"; echo ""; echo "Segmentation fault (core dumped)"
  i=$((i+1)); sleep 0.02
done`));
      const w = watchLoop('tool-garbage');
      await waitFor(() => w.readings.length >= 40, 20_000, '40 readings');
      await stopWatch(w);
      expect(w.restarts).toEqual([]);
      expect(w.gaps).toEqual([]);
      // one note per kind of trouble would be enough; never one per line (a flood of notes is a flood of logs)
      expect(w.notes.length).toBeGreaterThan(0);
      expect(w.notes.length).toBeLessThanOrEqual(5);
      expect(w.readings.every((r) => r.powerW === 150)).toBe(true);
    });
    await fault('sensor CLI', 'loop tool prints only garbage', async () => {
      await writeExecutable(join(bin, 'tool-only-garbage'), sh(`while :; do echo "?? no reading ??"; sleep 0.02; done`));
      const w = watchLoop('tool-only-garbage', { hangTimeoutMs: 600 });
      await waitFor(() => w.restarts.length >= 1, 20_000, 'a restart');
      await stopWatch(w);
      expect(w.restarts[0]).toMatch(/printed no reading/);
      expect(w.gaps.length).toBeGreaterThanOrEqual(1);
      expect(w.readings).toEqual([]);
    });
  });

  it('truncated lines: a row cut by the tool dying is not a reading; a 3 MB line is cut to the limit, not buffered', async () => {
    await fault('sensor CLI', 'loop tool prints truncated lines', async () => {
      // a 3 MB line with no newline until its end, a good row, then a row cut in half by the exit
      await writeExecutable(join(bin, 'tool-truncates'), `#!${process.execPath}
process.stdout.write('0, 150.0 W\\n');
process.stdout.write('9'.repeat(3 * 1024 * 1024) + '\\n');
process.stdout.write('0, 151.0 W\\n');
process.stdout.write('0, 15', () => process.exit(1));
`);
      const w = watchLoop('tool-truncates', { backoffInitialMs: 2000, backoffMaxMs: 2000 });
      await waitFor(() => w.restarts.length >= 1, 20_000, 'the tool to exit');
      await stopWatch(w);
      // (a loaded machine may already have started the tool again: judge the first start, and that nothing else appeared)
      expect(w.readings.map((r) => r.powerW).slice(0, 2)).toEqual([150, 151]);
      expect(w.readings.every((r) => r.powerW === 150 || r.powerW === 151)).toBe(true); // never the cut "15"
      // the long line reached the parser cut to the 1 MiB line limit and flagged as cut, once per start
      expect(w.truncatedSeen.length).toBeGreaterThanOrEqual(1);
      expect(w.truncatedSeen.every((n) => n === 1 << 20)).toBe(true);
      expect(w.gaps[0]!.reason).toMatch(/exited \(code 1\)/);
    });
  });

  it('rows with the wrong number of columns make the parser throw; the supervisor survives and keeps reading', async () => {
    await fault('sensor CLI', 'loop tool prints the wrong number of columns', async () => {
      await writeExecutable(join(bin, 'tool-columns'), sh(`while :; do
  echo "0, 150.0 W, 55, 1410"; echo "0"; echo "0, 152.0 W"; echo "0, 152.0 W,"
  sleep 0.02
done`));
      const w = watchLoop('tool-columns');
      await waitFor(() => w.readings.length >= 30, 20_000, '30 readings');
      await stopWatch(w);
      expect(w.restarts).toEqual([]);
      expect(w.readings.every((r) => r.powerW === 152)).toBe(true);
      expect(w.notes.length).toBeLessThanOrEqual(5);
    });
  });

  it('bytes that are not UTF-8 do not crash the reader; the rows around them still parse', async () => {
    await fault('sensor CLI', 'loop tool prints bytes that are not UTF-8', async () => {
      await writeExecutable(join(bin, 'tool-bytes'), sh(`while :; do
  printf '\\377\\376\\200\\300 0, 99 W\\n'; printf '0, 1\\303\\050 W\\n'; printf '0, 140.0 W\\n'
  printf '\\000\\001\\033[31m\\n'
  sleep 0.02
done`));
      const w = watchLoop('tool-bytes');
      await waitFor(() => w.readings.length >= 30, 20_000, '30 readings');
      await stopWatch(w);
      expect(w.restarts).toEqual([]);
      expect(w.readings.every((r) => r.powerW === 140)).toBe(true);
      // what the user is told about the bad bytes is valid text (replacement characters), safe to serialize
      expect(w.notes.join('\n')).toMatch(/\uFFFD/);
      expect(() => JSON.parse(JSON.stringify(w.notes))).not.toThrow();
    });
  });

  it('a tool that cannot be executed (EACCES): gap with the reason, restarts with backoff, recovers once fixed', async () => {
    await fault('sensor CLI', 'loop tool not executable (EACCES)', async () => {
      const path = join(bin, 'tool-noexec');
      await writeExecutable(path, sh(`while :; do echo "0, 120.0 W"; sleep 0.05; done`), 0o644);
      const w = watchLoop('tool-noexec', { backoffInitialMs: 100, backoffMaxMs: 400 });
      await waitFor(() => w.restarts.length >= 3, 20_000, 'three failed starts');
      expect(w.readings).toEqual([]);
      expect(w.restarts[0]).toMatch(/could not start \(EACCES\)/);
      await chmod(path, 0o755); // the admin fixes it: sampling resumes without a harness restart
      await waitFor(() => w.readings.length >= 5, 20_000, 'readings after the fix');
      await stopWatch(w);
      expect(w.gaps.length).toBeGreaterThanOrEqual(3);
      expect(w.gaps[0]!.reason).toMatch(/EACCES/);
    });
  });
});

describe('sensor CLI faults (the shared number parser)', () => {
  it('a number cut by a byte that is not UTF-8 is no reading; a unit spoiled after a space still is', () => {
    const bytes = (b: number[]) => Buffer.from(b).toString('utf8'); // decoded as the line splitter decodes
    expect(parseNumber(bytes([0x31, 0xff, 0x35, 0x30, 0x2e, 0x30, 0x30]))).toBeUndefined(); // "1\xff50.00" is not 1 W
    expect(parseNumber(bytes([0xff, 0x31, 0x35, 0x30]))).toBeUndefined();
    expect(parseNumber(`55 ${bytes([0xb0])}C`)).toBe(55); // a Latin-1 degree sign
    expect(parseNumber('150.00 W')).toBe(150);
  });
});

describe.concurrent('sensor CLI faults (supervisePoll, one-shot tools)', () => {
  it('a polled tool that fails, hangs, prints garbage and cannot start: one gap per outage, recovery, nothing left running', async () => {
    await fault('sensor CLI', 'polled tool fails, hangs and prints garbage', async () => {
      const calls = join(dir, 'poll.calls');
      const pids = join(dir, 'poll.pids');
      // call 1 ok, 2 exits 3, 3 hangs past the timeout, 4 prints garbage, 5 prints non-UTF-8, then ok
      await writeExecutable(join(bin, 'tool-poll'), sh(`echo x >> ${calls}
n=$(wc -l < ${calls})
case $n in
  2) echo "dcmi: device busy" >&2; exit 3 ;;
  3) echo $$ >> ${pids}; sleep 30 ;;
  4) echo "Error: ~~~ ??"; exit 0 ;;
  5) printf '\\377\\376 0, 1 W\\n'; exit 0 ;;
esac
echo "0, 77.0 W"`));
      const clock = createRunClock();
      const ctrl = new AbortController();
      const readings: number[] = [];
      const gaps: Array<{ startS: number; endS: number; reason: string }> = [];
      const restarts: string[] = [];
      const sup = supervisePoll({
        file: 'tool-poll', args: [], env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, clock, signal: ctrl.signal,
        sink: { gap: (g) => gaps.push(g), restarted: (r) => restarts.push(r), note: () => {} },
        // 3 s: long enough that a healthy call (or this test process, not scheduled for a moment on a loaded 2-core
        // CI machine) never times out, so the one outage is calls 2–5 and nothing else
        intervalMs: 50, timeoutMs: 3000, backoffMaxMs: 400,
        onOutput: (out) => {
          let n = 0;
          for (const l of out.split('\n')) { const m = ROW.exec(l.trim()); if (m) { readings.push(Number(m[2])); n++; } }
          return n;
        },
      });
      await waitFor(() => readings.length >= 5, 30_000, 'readings after the outage');
      ctrl.abort();
      await sup.stop();
      expect(readings.every((r) => r === 77)).toBe(true);
      // calls 2–5 are one outage: one restart notice, one gap spanning it, with the first reason
      expect(restarts).toHaveLength(1);
      expect(restarts[0]).toMatch(/exited \(code 3\)/);
      expect(gaps).toHaveLength(1);
      expect(gaps[0]!.endS - gaps[0]!.startS).toBeGreaterThan(2.9); // it includes the hung call's 3 s timeout
      expect(await survivors(pidsIn(pids))).toEqual([]);
    });
  });

  it('a polled tool that cannot be executed records the outage as a gap when sampling stops', async () => {
    await fault('sensor CLI', 'polled tool not executable (EACCES)', async () => {
      await writeExecutable(join(bin, 'tool-poll-noexec'), sh('echo "0, 1.0 W"'), 0o600);
      const clock = createRunClock();
      const ctrl = new AbortController();
      const gaps: Array<{ reason: string }> = [];
      const restarts: string[] = [];
      let outputs = 0;
      const sup = supervisePoll({
        file: 'tool-poll-noexec', args: [], env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, clock, signal: ctrl.signal,
        sink: { gap: (g) => gaps.push(g), restarted: (r) => restarts.push(r), note: () => {} },
        intervalMs: 50, backoffMaxMs: 200,
        onOutput: () => { outputs++; return 1; },
      });
      // the first failed call, then a second more of them (backoff 100, 200, 200, ... ms): still one outage
      await waitFor(() => restarts.length >= 1, 20_000, 'the first failed call');
      await new Promise((r) => setTimeout(r, 1000));
      ctrl.abort();
      await sup.stop();
      expect(outputs).toBe(0);
      expect(restarts).toHaveLength(1);
      expect(restarts[0]).toMatch(/EACCES/);
      expect(gaps).toHaveLength(1);
      expect(gaps[0]!.reason).toMatch(/EACCES/);
    });
  });
});
