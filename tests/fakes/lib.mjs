// Shared by the fake vendor tools in tests/fakes/*/: call counting (so a fault can hit only the first run),
// fault injection, and an argv log. Everything is configured through environment variables set by the test:
//   FAKE_STATE_DIR    folder for the call counters and the argv log (required for faults and logging)
//   FAKE_FAULT        exit-after:N | hang-after:N | garbage-after:N | truncate-after:N  (looping tools: N rows;
//                     polled tools: the fault hits whole calls, N is ignored) | fail | hang | garbage
//   FAKE_FAULT_CALLS  which calls of the tool the fault applies to: "1", "2-4", "1,3" (default "1")
import { appendFileSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

/** 1-based number of this call of `name` (loop or poll calls only; probes pass count=false). */
export function nextCall(name) {
  const dir = process.env.FAKE_STATE_DIR;
  if (!dir) return 1;
  const f = join(dir, `${name}.count`);
  const n = (existsSync(f) ? Number(readFileSync(f, 'utf8')) : 0) + 1;
  writeFileSync(f, String(n));
  return n;
}

export function logArgs(name, argv) {
  const dir = process.env.FAKE_STATE_DIR;
  if (dir) appendFileSync(join(dir, `${name}.argv`), JSON.stringify(argv) + '\n');
}

function inCalls(call, spec) {
  return spec.split(',').some((part) => {
    const [a, b] = part.split('-').map(Number);
    return b === undefined ? call === a : call >= a && call <= b;
  });
}

/** The fault for this call, or undefined: { kind: 'exit'|'hang'|'garbage'|'truncate'|'fail', after: rows }. */
export function faultFor(call) {
  const spec = process.env.FAKE_FAULT;
  if (!spec || !inCalls(call, process.env.FAKE_FAULT_CALLS ?? '1')) return undefined;
  const [kind, after] = spec.split(':');
  return { kind: kind.replace(/-after$/, ''), after: Number(after ?? 0) };
}

/** Apply a whole-call fault for a polled tool; returns true when the call must print nothing normal. */
export function pollFault(call) {
  const f = faultFor(call);
  if (!f) return false;
  if (f.kind === 'fail' || f.kind === 'exit') { process.stderr.write('fake: device error\n'); process.exit(1); }
  if (f.kind === 'hang') { setInterval(() => {}, 1 << 30); return true; }
  if (f.kind === 'garbage') { process.stdout.write('\u0000\u0007 Segmentation fault?? @@@\n'); process.exit(0); }
  if (f.kind === 'truncate') return 'truncate';
  return false;
}

/** Frames to replay, from a ':'-separated list of files; the k-th poll prints frame k (the last repeats). */
export function frame(listVar, call) {
  const files = (process.env[listVar] ?? '').split(':').filter(Boolean);
  if (!files.length) return undefined;
  return readFileSync(files[Math.min(call - 1, files.length - 1)], 'utf8');
}
