// Gathers result files from files, folders and globs, validated (and upgraded) — reports read nothing else.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadResult, type LoadedResult } from '../results/io.js';

export type OkResult = Extract<LoadedResult, { state: 'ok' }>;
export type BadResult = Extract<LoadedResult, { state: 'invalid' }>;

async function expand(arg: string): Promise<string[]> {
  if (/[*?[]/.test(arg)) {
    const { glob } = await import('node:fs/promises') as unknown as { glob?: (p: string) => AsyncIterable<string> };
    if (glob) { const out: string[] = []; for await (const p of glob(arg)) out.push(p); return out.sort(); }
    return globFallback(arg);
  }
  try {
    const st = await stat(arg);
    if (st.isDirectory()) {
      const out: string[] = [];
      for (const e of await readdir(arg, { withFileTypes: true, recursive: true })) {
        if (e.isFile() && e.name.endsWith('.json')) out.push(join((e as unknown as { parentPath?: string; path?: string }).parentPath ?? (e as unknown as { path: string }).path, e.name));
      }
      return out.sort();
    }
  } catch { /* reported by loadResult */ }
  return [arg];
}

/** Node 20 has no fs.glob: a small matcher for `dir/*.json`-style patterns (one wildcard segment, at the end). */
async function globFallback(pattern: string): Promise<string[]> {
  const i = pattern.lastIndexOf('/');
  const dir = i >= 0 ? pattern.slice(0, i) || '/' : '.';
  const base = pattern.slice(i + 1);
  const re = new RegExp('^' + base.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
  try { return (await readdir(dir)).filter((n) => re.test(n)).map((n) => (i >= 0 ? join(dir, n) : n)).sort(); } catch { return []; }
}

export async function collectResults(args: string[]): Promise<{ ok: OkResult[]; invalid: BadResult[] }> {
  const paths = [...new Set((await Promise.all(args.map(expand))).flat())];
  const loaded = await Promise.all(paths.map(loadResult));
  return { ok: loaded.filter((l): l is OkResult => l.state === 'ok'), invalid: loaded.filter((l): l is BadResult => l.state === 'invalid') };
}
