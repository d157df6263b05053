// The run clock: one monotonic time base (process.hrtime) for every sample and workload event,
// anchored once to wall time so results can say when things happened without trusting NTP mid-run.

export interface RunClock {
  /** Wall-clock time of t = 0, ms since the Unix epoch. */
  readonly anchorWallMs: number;
  /** Seconds since the anchor, monotonic. */
  nowS(): number;
  /** ISO timestamp for a run-clock time. */
  toIso(tS: number): string;
}

export function createRunClock(): RunClock {
  const anchorNs = process.hrtime.bigint();
  const anchorWallMs = Date.now();
  return {
    anchorWallMs,
    nowS: () => Number(process.hrtime.bigint() - anchorNs) / 1e9,
    toIso: (tS: number) => new Date(anchorWallMs + tS * 1000).toISOString(),
  };
}

/** A clock the caller moves by hand: for tests and for re-analysing recorded traces. */
export function createManualClock(startS = 0, anchorWallMs = Date.UTC(2026, 0, 1)): RunClock & { set(tS: number): void; advance(dS: number): void } {
  let t = startS;
  return {
    anchorWallMs,
    nowS: () => t,
    toIso: (tS: number) => new Date(anchorWallMs + tS * 1000).toISOString(),
    set: (tS: number) => { t = tS; },
    advance: (dS: number) => { t += dS; },
  };
}

/** Longest delay setTimeout honours (~24.8 days); a longer one fires after 1 ms, so every timer is capped here. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export function sleepMs(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const timer = setTimeout(done, Math.min(ms, MAX_TIMER_MS));
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
