// collectResults: files, folders (recursive) and globs (*, ?, [...], **) — with Node 20's missing fs.glob
// covered by our own matcher — and every input that yields nothing reported, not dropped.
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { collectResults, glob, segmentRegExp } from '../../harness/collect.js';
import { tempDir } from '../helpers/cli.js';

let root: string;
const files = ['a/r1.json', 'a/r2.json', 'a/notes.txt', 'a/deep/r3.json', 'b/r10.json', 'b/.hidden/r4.json'];

beforeAll(async () => {
  root = await tempDir('wb-collect-');
  for (const f of files) {
    await mkdir(join(root, f, '..'), { recursive: true });
    // not results: collect only gathers paths here; loadResult then says why each one is not a result
    await writeFile(join(root, f), '{}');
  }
});

const rel = (ps: string[]) => ps.map((p) => p.slice(root.length + 1)).sort();

describe('glob', () => {
  it('matches within a segment with *, ? and [...], and across folders with **', async () => {
    expect(rel(await glob(join(root, 'a', '*.json')))).toEqual(['a/r1.json', 'a/r2.json']);
    expect(rel(await glob(join(root, '*', 'r?.json')))).toEqual(['a/r1.json', 'a/r2.json']);
    expect(rel(await glob(join(root, 'a', 'r[2-9].json')))).toEqual(['a/r2.json']);
    expect(rel(await glob(join(root, 'a', 'r[!1].json')))).toEqual(['a/r2.json']);
    expect(rel(await glob(join(root, '**', '*.json')))).toEqual(['a/deep/r3.json', 'a/r1.json', 'a/r2.json', 'b/r10.json']);
    expect(rel(await glob(join(root, 'a', '**')))).toEqual(['a/deep/r3.json', 'a/r1.json', 'a/r2.json']);
    expect(await glob(join(root, 'nowhere', '*.json'))).toEqual([]);
  });

  it('treats regex characters in names literally', () => {
    expect(segmentRegExp('run(1)+.json').test('run(1)+.json')).toBe(true);
    expect(segmentRegExp('*.json').test('a/b.json')).toBe(false);
  });
});

describe('collectResults', () => {
  it('reads folders recursively, dedupes paths, and lists what gave nothing', async () => {
    const { ok, invalid } = await collectResults([join(root, 'a'), join(root, 'a', 'r1.json'), join(root, 'x', '*.json'), join(root, 'missing.json')]);
    expect(ok).toEqual([]);
    const byPath = new Map(invalid.map((i) => [i.path.slice(root.length + 1), i.reason]));
    expect([...byPath.keys()].sort()).toEqual(['a/deep/r3.json', 'a/r1.json', 'a/r2.json', 'missing.json', 'x/*.json']);
    expect(byPath.get('x/*.json')).toBe('no file matches this pattern');
    expect(byPath.get('missing.json')).toMatch(/cannot read/);
    expect(byPath.get('a/r1.json')).toMatch(/no integer schemaVersion/);
  });
});
