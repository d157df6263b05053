// A harness that is starved for a moment (a loaded host, a long synchronous step) must not blame the tool: when its
// timers finally run, the tool's output or exit is already waiting, and a hang or timeout must not be declared
// before it has been read.
import { describe, it, expect } from 'vitest';
import { runCommand } from '../../lib/process.js';
import { superviseLoop } from '../../lib/supervise.js';
import { createRunClock, sleepMs } from '../../lib/clock.js';
import { waitFor } from '../helpers/wait.js';

/** Block the event loop, as a starved process is blocked. */
function blockMs(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* starved */ }
}

describe('a starved harness', () => {
  it('a program that exited during the stall has not timed out', async () => {
    const p = runCommand('/bin/sh', ['-c', 'exit 0'], { timeoutMs: 300 });
    blockMs(1200); // the child exits within milliseconds; its exit and the 300 ms timer are both due
    const r = await p;
    expect(r.timedOut).toBe(false);
    expect(r.exitCode).toBe(0);
  });

  it('a program that is still running when the stall ends does time out', async () => {
    const p = runCommand('/bin/sh', ['-c', 'sleep 5'], { timeoutMs: 300 });
    blockMs(600);
    const r = await p;
    expect(r.timedOut).toBe(true);
  });

  it('a looping tool whose lines are waiting in the pipe after the stall is not hung', async () => {
    const ctrl = new AbortController();
    const restarts: string[] = [];
    let lines = 0;
    const sup = superviseLoop({
      file: '/bin/sh', args: ['-c', 'while :; do echo 1; sleep 0.05; done'], env: process.env, clock: createRunClock(), signal: ctrl.signal,
      sink: { gap: () => {}, restarted: (r) => restarts.push(r), note: () => {} },
      expectedIntervalMs: 50, hangTimeoutMs: 400,
      onLine: () => { lines++; return true; },
    });
    await waitFor(() => lines > 0, 20_000, 'a first line');
    for (let i = 0; i < 3; i++) { blockMs(1000); await sleepMs(150); } // starved well past the hang timeout, three times
    ctrl.abort();
    await sup.stop();
    expect(restarts).toEqual([]);
  });
});
