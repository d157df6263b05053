// An in-process CommandIO for calling one command's run() directly: stdout and stderr are collected as text.
import { Writable } from 'node:stream';
import type { CommandIO } from '../../harness/commands/command.js';

export interface CapturedIO { io: CommandIO; out: () => string; err: () => string }

export function captureIO(env: NodeJS.ProcessEnv = process.env): CapturedIO {
  const sink = () => {
    const chunks: string[] = [];
    const stream = new Writable({ write(chunk, _enc, done) { chunks.push(String(chunk)); done(); } });
    return { stream, text: () => chunks.join('') };
  };
  const o = sink(), e = sink();
  const io: CommandIO = { stdout: o.stream, stderr: e.stream as unknown as NodeJS.WriteStream, env, signal: new AbortController().signal };
  return { io, out: o.text, err: e.text };
}

/** The error a command throws (undefined when it returns). */
export async function thrown(p: Promise<unknown>): Promise<unknown> {
  try { await p; return undefined; } catch (err) { return err; }
}
