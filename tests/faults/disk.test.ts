// Disk faults through the real CLI: an output folder that cannot be written (a file where a folder is expected,
// /proc, a read-only mount, a 0555 folder for a non-root user) or a disk that is full (a tiny tmpfs; the raw
// samples file on /dev/full; a disk that fills up during the window). Known problems are refused before anything
// runs; a disk that fills mid-run never leaves a half-written result, and the result is rescued elsewhere.
// We run as root, where permission bits do not stop writes, so the real refusals come from mounts and other users.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, symlink, writeFile, chmod, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDir, checkWritableDir } from '../../results/io.js';
import { fault, tempDir, workloadScript, wb, countResults, tempLeftovers, looksLikeCrash, constantTrace, quickRunFlags, nonEmpty, ensureDir } from './helpers.js';
import { baseResult } from './base-result.js';

let dir: string;
let trace: string;
const mounts: string[] = [];

function tryMount(target: string, opts: string): boolean {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', target], { stdio: 'ignore' });
  if (r.status === 0) { mounts.push(target); return true; }
  return false;
}

let canMount = false;
let canDropPrivileges = false;
beforeAll(async () => {
  dir = await tempDir('wb-fault-disk-');
  trace = await constantTrace(dir, 100, 30);
  const probe = join(dir, 'mount-probe');
  await mkdir(probe);
  canMount = process.getuid?.() === 0 && tryMount(probe, 'size=64k');
  if (!canMount) console.log('note: cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN); the read-only and full-disk mount cases are skipped, the /dev/full and injected-error cases still run');
  // nobody must also be able to reach the checkout: a clone under a 0700 folder (mktemp -d) is out of its reach
  const bin = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..', 'bin', 'wattbench.js');
  canDropPrivileges = process.getuid?.() === 0 && spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(bin)}, require('fs').constants.R_OK)`], { stdio: 'ignore' }).status === 0;
  if (!canDropPrivileges) console.log('note: node cannot run as nobody here, or nobody cannot read this checkout; the 0555-folder case is skipped');
});
afterAll(async () => {
  for (const m of mounts.reverse()) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
  await rm(dir, { recursive: true, force: true });
});

/** A workload that leaves a marker: if the marker exists, the run started although it should have been refused. */
async function markerWorkload(name: string): Promise<{ script: string; marker: string }> {
  const marker = join(dir, `${name}.started`);
  const script = await workloadScript(dir, name, `fs.writeFileSync(${JSON.stringify(marker)}, 'x');
    emit({ event: 'window_start' }); await sleep(100); emit({ event: 'tokens', tokens: 10 }); emit({ event: 'window_end' });`);
  return { script, marker };
}

async function refusedBeforeStart(label: string, out: string, wrap?: string[]): Promise<void> {
  const { script, marker } = await markerWorkload(label);
  const r = await wb(['run', ...quickRunFlags(trace, out), '--workload', 'command', '--set', `command=${JSON.stringify([process.execPath, script])}`],
    { timeoutMs: 40_000, ...(wrap ? { wrap, env: { PATH: process.env.PATH!, HOME: tmpdir(), CI: '1' } } : {}) });
  expect(r.hung, `${label}: the harness hung`).toBe(false);
  expect(looksLikeCrash(r.stderr), r.stderr).toBe(false);
  expect(r.code, r.stderr).toBe(2);
  // one clear line naming the folder and the fix
  expect(r.stderr).toMatch(/OUTPUT_NOT_WRITABLE: cannot write results to .* — choose another folder with --out/);
  expect(existsSync(marker), 'the workload ran although the output folder was known to be unusable').toBe(false);
}

describe('disk faults', () => {
  it('a file where the output folder is expected: refused before the run starts', async () => {
    await fault('disk', 'output folder is a file (ENOTDIR)', async () => {
      const file = join(dir, 'not-a-dir');
      await writeFile(file, 'x');
      await refusedBeforeStart('enotdir', join(file, 'runs'));
      return { expected: 0, found: 0 };
    });
  });

  it('an output folder under /proc: refused at once (Node\'s recursive mkdir would spin there forever)', async () => {
    await fault('disk', 'output folder under /proc', async () => {
      const t0 = Date.now();
      await expect(makeDir('/proc/wattbench-fault/runs')).rejects.toThrow(/ENOENT|EACCES|EPERM/);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(await checkWritableDir('/proc/wattbench-fault/runs')).toMatch(/ENOENT|EACCES|EPERM/);
      await refusedBeforeStart('proc', '/proc/wattbench-fault/runs');
      return { expected: 0, found: 0 };
    });
  });

  it('a read-only mount: refused before the run starts', async (ctx) => {
    if (!canMount) return ctx.skip();
    await fault('disk', 'output folder on a read-only mount', async () => {
      const ro = join(dir, 'ro');
      await mkdir(ro);
      expect(tryMount(ro, 'ro,size=1m')).toBe(true);
      await refusedBeforeStart('erofs', ro);
      return { expected: 0, found: 0 };
    });
  });

  it('a 0555 folder for a user who is not root: refused before the run starts', async (ctx) => {
    if (!canDropPrivileges) return ctx.skip();
    await fault('disk', 'output folder mode 0555 (run as nobody)', async () => {
      const locked = join(dir, 'locked');
      await mkdir(locked);
      await chmod(locked, 0o555);
      await chmod(dir, 0o755); // nobody must reach the workload script and the trace
      await refusedBeforeStart('eacces', locked, ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
      return { expected: 0, found: 0 };
    });
  });

  it('a disk that is already full: refused before the run starts', async (ctx) => {
    if (!canMount) return ctx.skip();
    await fault('disk', 'output disk already full (1 MiB tmpfs)', async () => {
      const tiny = join(dir, 'tiny');
      await mkdir(tiny);
      expect(tryMount(tiny, 'size=1m')).toBe(true);
      await refusedBeforeStart('enospc-before', tiny);
      return { expected: 0, found: 0 };
    });
  });

  it('a disk that fills up during the window: no half-written result; the result is rescued; exit 1', async (ctx) => {
    if (!canMount) return ctx.skip();
    await fault('disk', 'output disk fills up mid-run (tmpfs)', async () => {
      const small = join(dir, 'small');
      await mkdir(small);
      expect(tryMount(small, 'size=10m')).toBe(true);
      const runId = `fills-${process.pid}-${Date.now()}`;
      // the workload itself fills the disk in its window, then keeps going for a while (samples keep arriving)
      const wl = await workloadScript(dir, 'filler', `
        emit({ event: 'window_start' });
        const fd = fs.openSync(${JSON.stringify(join(small, 'filler.bin'))}, 'w');
        try { for (;;) fs.writeSync(fd, Buffer.alloc(1 << 20, 1)); } catch (e) { console.error('filler: ' + e.code); }
        try { for (;;) fs.writeSync(fd, Buffer.alloc(512, 1)); } catch { /* to the last block */ }
        fs.closeSync(fd);
        // 2.4 s at 20 ms is ~120 raw-sample lines (> 8 KiB): more than the page the samples file may still have free
        for (let i = 0; i < 40; i++) { await sleep(60); emit({ event: 'tokens', tokens: 10 }); }
        emit({ event: 'window_end' });`);
      const r = await wb(['run', ...quickRunFlags(trace, small), '--run-id', runId, '--interval', '20', '--workload', 'command', '--set', `command=${JSON.stringify([process.execPath, wl])}`], { timeoutMs: 60_000 });
      const rescued = join(tmpdir(), 'wattbench-rescue', `${runId}.json`);
      try {
        expect(r.hung).toBe(false);
        expect(looksLikeCrash(r.stderr), r.stderr).toBe(false);
        expect(r.code, r.stderr).toBe(1);
        // nothing half-written where results belong: no result file, no temp file of an atomic write
        const names = await readdir(small);
        expect(names.filter((n) => n.endsWith('.json'))).toEqual([]);
        expect(await tempLeftovers(small)).toEqual([]);
        // the result went to the rescue folder, said so, and records that the raw samples are incomplete
        expect(r.stderr).toContain(rescued);
        const res = JSON.parse(await readFile(rescued, 'utf8'));
        expect((await countResults(join(tmpdir(), 'wattbench-rescue'))).valid).toContain(rescued);
        expect(res.status).toBe('failed');
        expect(res.errors.map((e: any) => e.code)).toEqual(expect.arrayContaining(['SAMPLES_WRITE_FAILED', 'RESULT_RESCUED']));
        expect(res.rawSamples.file).toBe(join(small, `${runId}.samples.jsonl`)); // the samples stayed where the run wrote them
        expect(res.repetitions[0].tokens.total).toBe(400); // the measurement itself is whole
        return { expected: 1, found: 1, note: 'rescued to the temp folder' };
      } finally {
        await rm(rescued, { force: true });
      }
    });
  });

  it('`report --out` to a folder under /proc or under a file: one exit-2 line, no hang, no stack trace', async () => {
    await fault('disk', 'report output folder unwritable (/proc, under a file)', async () => {
      const good = await baseResult(await ensureDir(join(dir, 'for-report')));
      const file = join(dir, 'report-not-a-dir');
      await writeFile(file, 'x');
      for (const out of ['/proc/wattbench-fault-report', join(file, 'report')]) {
        const r = await wb(['report', good, '--out', out], { timeoutMs: 40_000 });
        expect(r.hung, `report --out ${out} hung`).toBe(false);
        expect(looksLikeCrash(r.stderr), r.stderr).toBe(false);
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toMatch(/OUTPUT_NOT_WRITABLE: cannot write the report to/);
      }
      return { expected: 0, found: 0 };
    });
  });

  it('the raw samples file hits ENOSPC (/dev/full): the result is still written, valid, and says the samples are incomplete', async () => {
    await fault('disk', 'raw samples file on a full device (/dev/full)', async () => {
      const out = join(dir, 'devfull');
      await mkdir(out);
      await symlink('/dev/full', join(out, 'full.samples.jsonl'));
      const { script } = await markerWorkload('devfull');
      const r = await wb(['run', ...quickRunFlags(trace, out), '--run-id', 'full', '--workload', 'command', '--set', `command=${JSON.stringify([process.execPath, script])}`]);
      expect(looksLikeCrash(r.stderr), r.stderr).toBe(false);
      expect(r.code, r.stderr).toBe(1);
      const { valid } = await countResults(out);
      expect(valid).toEqual([join(out, 'full.json')]);
      const res = JSON.parse(await readFile(valid[0]!, 'utf8'));
      expect(res.status).toBe('failed');
      const e = res.errors.find((x: any) => x.code === 'SAMPLES_WRITE_FAILED');
      expect(e.message).toMatch(/ENOSPC/);
      expect(res.repetitions[0].status).toBe('ok');
      expect(await nonEmpty(join(out, 'full.json'))).toBe(true);
      return { expected: 1, found: valid.length };
    });
  });
});
