// The atomic write of result files (results/io.ts) under injected file-system errors — ENOSPC in the middle of the
// write, at fsync, at the rename — on any machine (no mount needed): the previous file stays whole, no temp file
// is left, and writeResultOrRescue puts the result in the rescue folder instead of losing it.
import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fault } from './helpers.js';
import { baseResult } from './base-result.js';

// the fault plan for the next file-system calls of results/io.ts
const inject = vi.hoisted(() => ({ at: undefined as undefined | 'write' | 'sync' | 'rename' }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 });
  return {
    ...real,
    open: async (...args: Parameters<typeof real.open>) => {
      const fh = await real.open(...args);
      if (!String(args[0]).endsWith('.tmp') || !inject.at || inject.at === 'rename') return fh;
      const at = inject.at;
      inject.at = undefined; // one fault per arming: the next write (the rescue copy) goes through
      return new Proxy(fh, {
        get(t, k) {
          if (k === 'writeFile' && at === 'write') {
            // half the bytes reach the disk, then the disk is full
            return async (data: string) => { await t.writeFile(data.slice(0, Math.floor(data.length / 2))); throw enospc(); };
          }
          if (k === 'sync' && at === 'sync') return async () => { throw enospc(); };
          const v = Reflect.get(t, k);
          return typeof v === 'function' ? v.bind(t) : v;
        },
      });
    },
    rename: async (...args: Parameters<typeof real.rename>) => {
      if (inject.at === 'rename' && String(args[0]).endsWith('.tmp')) { inject.at = undefined; throw Object.assign(new Error('EROFS: read-only file system, rename'), { code: 'EROFS' }); }
      return real.rename(...args);
    },
  };
});

const { writeFileAtomic, writeResultOrRescue, RESCUE_DIR } = await import('../../results/io.js');
const { validateResult } = await import('../../results/validate.js');

let dir: string;
let base: any;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wb-fault-atomic-'));
  base = JSON.parse(await readFile(await baseResult(dir), 'utf8')); // a real result from a real run
});
afterAll(async () => { inject.at = undefined; await rm(dir, { recursive: true, force: true }); });


describe('atomic result writes under injected errors', () => {
  for (const at of ['write', 'sync', 'rename'] as const) {
    it(`ENOSPC/EROFS at ${at}: the previous file is untouched and no temp file is left`, async () => {
      await fault('disk', `atomic write fails at ${at} (injected)`, async () => {
        const path = join(dir, `r-${at}.json`);
        await writeFile(path, '{"previous": "whole"}\n');
        inject.at = at;
        try {
          await expect(writeFileAtomic(path, JSON.stringify({ next: 'x'.repeat(100_000) }))).rejects.toMatchObject({ code: at === 'rename' ? 'EROFS' : 'ENOSPC' });
        } finally { inject.at = undefined; }
        expect(await readFile(path, 'utf8')).toBe('{"previous": "whole"}\n');
        expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
        return { expected: 1, found: 1, note: 'the previous file survived' };
      });
    });
  }

  it('writeResultOrRescue: when the result folder refuses the write, the result lands in the rescue folder', async () => {
    await fault('disk', 'result write refused: rescued (injected)', async () => {
      const res = { ...base, runId: `rescue-${process.pid}-${Date.now()}` };
      expect(validateResult(res).ok).toBe(true);
      const path = join(dir, `${res.runId}.json`);
      inject.at = 'write';
      let out: { path: string; failed?: string };
      try { out = await writeResultOrRescue(path, res); } finally { inject.at = undefined; }
      try {
        expect(out.path).toBe(join(RESCUE_DIR, `${res.runId}.json`));
        expect(out.failed).toMatch(/ENOSPC/);
        expect(validateResult(JSON.parse(await readFile(out.path, 'utf8'))).ok).toBe(true);
        // and nothing half-written where it was meant to go
        expect((await readdir(dir)).filter((n) => n === `${res.runId}.json` || n.endsWith('.tmp'))).toEqual([]);
      } finally { await rm(out.path, { force: true }); }
      return { expected: 1, found: 1 };
    });
  });
});
