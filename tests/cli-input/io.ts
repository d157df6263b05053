// In-process command I/O for the input checks: most refusals happen before anything runs, so calling the command
// module directly is enough (and much faster than a process per case).
import { PassThrough } from 'node:stream';

export function captureIO(env: NodeJS.ProcessEnv = {}) {
  const stdout = new PassThrough(), stderr = new PassThrough() as unknown as NodeJS.WriteStream;
  let out = '', err = '';
  stdout.on('data', (d) => { out += String(d); });
  (stderr as unknown as PassThrough).on('data', (d) => { err += String(d); });
  return { io: { stdout, stderr, env: { ...process.env, CI: '1', ...env }, signal: new AbortController().signal }, out: () => out, err: () => err };
}

/** What a promise rejected with (undefined when it resolved). */
export async function thrown(p: Promise<unknown>): Promise<unknown> {
  try { await p; return undefined; } catch (err) { return err; }
}
