// Keeps a vendor tool producing samples: a long-lived looping process (nvidia-smi -lms) or a repeated one-shot
// poll (npu-smi). A tool that exits, hangs or prints garbage gives a recorded gap and a restart with exponential
// backoff — never a crash and never a made-up 0 W.
import { spawnStreaming, runCommand, type StreamingHandle } from './process.js';
import { sleepMs, type RunClock } from './clock.js';

export interface SuperviseSink {
  gap(g: { startS: number; endS: number; reason: string }): void;
  restarted(reason: string): void;
  note(message: string): void;
}

export interface LoopOptions {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  clock: RunClock;
  signal: AbortSignal;
  sink: SuperviseSink;
  /** Called for every stdout line with its receive time; return true if the line held a reading. */
  onLine(line: string, tS: number, truncated: boolean): boolean;
  /** Called when a new process starts (reset header state). */
  onStart?(): void;
  expectedIntervalMs: number;
  /** The tool's name in messages, when `file` is a wrapper such as stdbuf (default: file). */
  name?: string;
  /** No reading for this long → the tool is hung: kill and restart. Default max(5 s, 20 × interval). */
  hangTimeoutMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
}

export interface Supervised {
  readonly command: string[];
  stop(): Promise<void>;
}

/** Run a looping tool for as long as the signal allows, restarting it when it dies or hangs. */
export function superviseLoop(o: LoopOptions): Supervised {
  const hangMs = o.hangTimeoutMs ?? Math.max(5000, 20 * o.expectedIntervalMs);
  const initial = o.backoffInitialMs ?? 250;
  const max = o.backoffMaxMs ?? 8000;
  let current: StreamingHandle | undefined;
  let lastReadingS = o.clock.nowS();
  let stopping = false;
  let garbage = 0;
  const label = o.name ?? o.file;

  const loop = (async () => {
    let backoff = initial;
    while (!o.signal.aborted && !stopping) {
      o.onStart?.();
      let sawReading = false;
      let hung = false;
      const startedS = o.clock.nowS();
      current = spawnStreaming(o.file, o.args, {
        env: o.env as Record<string, string>,
        extendEnv: false,
        signal: o.signal,
        killGraceMs: 1000,
        captureTail: 4096,
        onStdoutLine: (line, truncated) => {
          const t = o.clock.nowS();
          let ok = false;
          try { ok = o.onLine(line, t, truncated); } catch { ok = false; }
          if (ok) { lastReadingS = t; sawReading = true; }
          else if (line.trim() && ++garbage <= 5) o.sink.note(`ignored unparseable output from ${label}: ${JSON.stringify(line.slice(0, 120))}`);
        },
      });
      const quiet = () => (o.clock.nowS() - Math.max(lastReadingS, startedS)) * 1000 > hangMs;
      const watchdog = setInterval(() => {
        // timers run before the output waiting in the pipe is read: after the harness itself was starved (a loaded
        // host), check again once that output has been taken, or a healthy tool is declared hung
        if (quiet()) setImmediate(() => { if (quiet() && !hung) { hung = true; void current?.stop(); } });
      }, Math.min(1000, hangMs / 4));
      const r = await current.done;
      clearInterval(watchdog);
      if (o.signal.aborted || stopping) break;
      const why = r.spawnError ? `${label} could not start (${r.spawnError.code})`
        : hung ? `${label} printed no reading for ${hangMs} ms (hung); restarted`
        : `${label} exited (code ${r.exitCode ?? r.signal})${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').pop()!.slice(0, 200)}` : ''}`;
      const gapStart = lastReadingS;
      if (sawReading) backoff = initial;
      await sleepMs(backoff, o.signal);
      backoff = Math.min(max, backoff * 2);
      if (o.signal.aborted || stopping) { o.sink.gap({ startS: gapStart, endS: o.clock.nowS(), reason: why }); break; }
      o.sink.restarted(why);
      // the gap ends when the next reading arrives; record it from the last reading to now, extended on next reading
      o.sink.gap({ startS: gapStart, endS: o.clock.nowS(), reason: why });
    }
  })();

  return {
    command: [o.file, ...o.args],
    stop: async () => { stopping = true; await current?.stop(); await loop; },
  };
}

export interface PollOptions {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  clock: RunClock;
  signal: AbortSignal;
  sink: SuperviseSink;
  intervalMs: number;
  timeoutMs?: number;
  /** Parse one invocation's output taken at time tS; return how many readings it held. */
  onOutput(stdout: string, tS: number): number;
  backoffMaxMs?: number;
}

/** Call a one-shot tool every interval (tools with no loop option). Each call is stamped at its midpoint. */
export function supervisePoll(o: PollOptions): Supervised {
  let stopping = false;
  const ctrl = new AbortController();
  const onAbort = () => ctrl.abort();
  o.signal.addEventListener('abort', onAbort, { once: true });
  const loop = (async () => {
    let failures = 0;
    let lastOkS = o.clock.nowS();
    let failingSince: { startS: number; reason: string } | undefined;
    let next = o.clock.nowS();
    while (!ctrl.signal.aborted && !stopping) {
      const t0 = o.clock.nowS();
      const r = await runCommand(o.file, o.args, { env: o.env as Record<string, string>, extendEnv: false, signal: ctrl.signal, timeoutMs: o.timeoutMs ?? Math.max(2000, 5 * o.intervalMs) });
      if (ctrl.signal.aborted || stopping) break;
      const t1 = o.clock.nowS();
      let n = 0;
      if (r.exitCode === 0) { try { n = o.onOutput(r.stdout, (t0 + t1) / 2); } catch { n = 0; } }
      if (n > 0) {
        // readings are stamped at the call's midpoint, so that is where a gap ends and the next one may start
        const stampS = (t0 + t1) / 2;
        if (failingSince) { o.sink.gap({ startS: lastOkS, endS: stampS, reason: failingSince.reason }); failingSince = undefined; }
        lastOkS = stampS;
        failures = 0;
        next += o.intervalMs / 1000;
        if (next < t1) next = t1; // fell behind: do not burst to catch up
        await sleepMs((next - o.clock.nowS()) * 1000, ctrl.signal);
      } else {
        const reason = r.spawnError ? `${o.file} could not start (${r.spawnError.code})` : r.timedOut ? `${o.file} timed out` : r.exitCode !== 0 ? `${o.file} exited (code ${r.exitCode ?? r.signal})` : `${o.file} printed no reading`;
        if (!failingSince) { failingSince = { startS: lastOkS, reason }; o.sink.restarted(reason); }
        failures++;
        await sleepMs(Math.min(o.backoffMaxMs ?? 8000, o.intervalMs * 2 ** Math.min(failures, 6)), ctrl.signal);
        next = o.clock.nowS();
      }
    }
    if (failingSince) o.sink.gap({ startS: lastOkS, endS: o.clock.nowS(), reason: failingSince.reason });
  })();
  return {
    command: [o.file, ...o.args],
    stop: async () => { stopping = true; ctrl.abort(); o.signal.removeEventListener('abort', onAbort); await loop; },
  };
}
