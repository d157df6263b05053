// An in-process CommandIO for calling one command's run() directly (most refusals happen before anything runs, so
// this is enough, and much faster than a process per case): stdout and stderr are collected as text.
import { Writable } from 'node:stream';
import type { CommandIO } from '../../harness/commands/command.js';

export interface CapturedIO { io: CommandIO; out: () => string; err: () => string }

/** env is laid over this process's environment (with CI=1: plain progress lines). */
export function captureIO(env: NodeJS.ProcessEnv = {}): CapturedIO {
  const sink = () => {
    const chunks: string[] = [];
    const stream = new Writable({ write(chunk, _enc, done) { chunks.push(String(chunk)); done(); } });
    return { stream, text: () => chunks.join('') };
  };
  const o = sink(), e = sink();
  const io: CommandIO = { stdout: o.stream, stderr: e.stream as unknown as NodeJS.WriteStream, env: { ...process.env, CI: '1', ...env }, signal: new AbortController().signal };
  return { io, out: o.text, err: e.text };
}

/** What a promise rejected with (undefined when it resolved). */
export async function thrown(p: Promise<unknown>): Promise<unknown> {
  try { await p; return undefined; } catch (err) { return err; }
}
