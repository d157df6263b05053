// Gathers result files from files, folders and globs, validated (and upgraded) — reports read nothing else.
// A folder is searched recursively for *.json; a glob is matched here (Node 20 has no fs.glob) with *, ?, [...]
// inside a path segment and ** for any depth. A glob that matches nothing is reported, never silently dropped.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadResult, type LoadedResult } from '../results/io.js';

export type OkResult = Extract<LoadedResult, { state: 'ok' }>;
export type BadResult = Extract<LoadedResult, { state: 'invalid' }>;

const isGlob = (s: string) => /[*?[]/.test(s);

async function jsonFilesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.json')) out.push(join((e as unknown as { parentPath?: string; path?: string }).parentPath ?? (e as unknown as { path: string }).path, e.name));
  }
  return out.sort();
}

async function expand(arg: string): Promise<string[] | { unmatched: string }> {
  if (isGlob(arg)) {
    const found = await glob(arg);
    return found.length ? found : { unmatched: arg };
  }
  try {
    if ((await stat(arg)).isDirectory()) return jsonFilesUnder(arg);
  } catch { /* reported by loadResult */ }
  return [arg];
}

/** One path segment's pattern as a regular expression: * and ? stay within the segment, [...] is a class. */
export function segmentRegExp(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 1);
      if (end < 0) { re += '\\['; continue; }
      const body = seg.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
      re += `[${body}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Files matching a glob: segments before the first wildcard are a plain folder, the rest are matched. */
export async function glob(pattern: string): Promise<string[]> {
  const parts = pattern.split(/[\\/]+/);
  const absolute = pattern.startsWith('/');
  const firstWild = parts.findIndex(isGlob);
  const base = parts.slice(0, firstWild).join('/') || (absolute ? '/' : '.');
  const rest = parts.slice(firstWild);
  const out = new Set<string>();
  const walk = async (dir: string, i: number): Promise<void> => {
    if (i === rest.length) return;
    const seg = rest[i]!;
    let entries;
    try { entries = await readdir(dir, { withFileTypes: true }); } catch { return; }
    if (seg === '**') {
      if (i === rest.length - 1) { for (const f of await jsonFilesUnder(dir).catch(() => [])) out.add(f); return; }
      await walk(dir, i + 1); // ** matches no folder at all, too
      for (const e of entries) if (e.isDirectory() && !e.name.startsWith('.')) await walk(join(dir, e.name), i);
      return;
    }
    const re = segmentRegExp(seg);
    for (const e of entries) {
      if (!re.test(e.name)) continue;
      const p = join(dir, e.name);
      if (i === rest.length - 1) { if (e.isFile()) out.add(p); } else if (e.isDirectory()) await walk(p, i + 1);
    }
  };
  await walk(base, 0);
  return [...out].sort();
}

export async function collectResults(args: string[]): Promise<{ ok: OkResult[]; invalid: BadResult[] }> {
  const expanded = await Promise.all(args.map(expand));
  const unmatched: BadResult[] = expanded.flatMap((x) => (Array.isArray(x) ? [] : [{ state: 'invalid' as const, path: x.unmatched, reason: 'no file matches this pattern' }]));
  const paths = [...new Set(expanded.flatMap((x) => (Array.isArray(x) ? x : [])))];
  const loaded = await Promise.all(paths.map(loadResult));
  return {
    ok: loaded.filter((l): l is OkResult => l.state === 'ok'),
    invalid: [...unmatched, ...loaded.filter((l): l is BadResult => l.state === 'invalid')],
  };
}
