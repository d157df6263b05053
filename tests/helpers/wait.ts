// Waiting on a condition instead of a fixed sleep. CI runs the suite on two shared cores, where a fake vendor tool
// (a fresh Node process per poll) can take seconds to answer: a test that needs "a reading, then another" waits for
// those readings, with a generous deadline, rather than for a time that holds only on a quiet machine.

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
