// Sensor-CLI faults at process level: `wattbench run --source nvidia-smi` with a fake nvidia-smi first on PATH whose
// successive sampling loops exit mid-run, print garbage / non-UTF-8 bytes / wrong column counts / a truncated row,
// hang while ignoring SIGTERM, and make themselves non-executable (EACCES). The run must finish with a valid result
// that records the gaps and restarts as warnings, keeps only real readings, and leaves no nvidia-smi running.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readSampleLog } from '../../results/samples.js';
import { fault, tempDir, workloadScript, wb, baseEnv, countResults, pidsIn, survivors, looksLikeCrash } from './helpers.js';
import { HAVE_NVIDIA_SMI_DRIVER as HAVE_DRIVER, installFakeNvidiaSmi } from './fake-nvidia-smi.js';

if (!HAVE_DRIVER) console.log('note: drivers/nvidia-smi.ts is absent; the process-level sensor fault case is skipped');

let dir: string;
afterAll(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

describe.skipIf(!HAVE_DRIVER)('sensor CLI faults through the nvidia-smi driver (process level)', () => {
  let bin: string, state: string, out: string, wl: string;
  beforeAll(async () => {
    dir = await tempDir('wb-fault-nvsmi-');
    ({ bin, state } = await installFakeNvidiaSmi(dir));
    out = join(dir, 'out');
    // a window long enough for every planned fault to happen inside it
    wl = await workloadScript(dir, 'steady', `
      emit({ event: 'warmup_start' }); await sleep(200);
      emit({ event: 'window_start' });
      const end = Date.now() + 6500;
      while (Date.now() < end) { await sleep(100); emit({ event: 'tokens', tokens: 100 }); }
      emit({ event: 'window_end' });`);
  });

  it('exit, junk (garbage, non-UTF-8, wrong columns, truncated row), hang and EACCES in one run: valid result, gaps and restarts recorded, only real readings', async () => {
    await fault('sensor CLI', 'nvidia-smi process: exit + junk + hang + EACCES in one run', async () => {
      const r = await wb(['run', '--source', 'nvidia-smi', '--source-opt', 'hang-timeout-ms=800', '--source-opt', 'stdbuf=false',
        '--interval', '50', '--idle', '0', '--cooldown', '0', '--repetitions', '1', '--run-id', 'nv', '--out', out, '--progress', 'plain',
        '--workload', 'command', '--set', `command=${JSON.stringify([process.execPath, wl])}`],
        { env: baseEnv({ PATH: `${bin}:${process.env.PATH}`, FAULT_PLAN: JSON.stringify(['exit:10', 'junk:5', 'hang:5', 'noexec:5']) }), timeoutMs: 60_000 });
      expect(r.hung).toBe(false);
      expect(looksLikeCrash(r.stderr), r.stderr).toBe(false);
      expect(r.code, r.stderr).toBe(0);
      const { valid } = await countResults(out);
      expect(valid).toHaveLength(1);
      const res = JSON.parse(await readFile(join(out, 'nv.json'), 'utf8'));
      expect(res.status).toBe('ok');
      const src = res.sources[0];
      expect(src.id).toBe('nvidia-smi');
      expect(src.restarts).toBeGreaterThanOrEqual(4);
      const reasons = src.gaps.map((g: any) => g.reason).join('\n');
      expect(reasons).toMatch(/exited \(code 255\).*GPU is lost/);
      expect(reasons).toMatch(/hung/);
      expect(reasons).toMatch(/EACCES/);
      const codes = res.warnings.map((w: any) => w.code);
      expect(codes).toContain('SOURCE_RESTARTED');
      expect(codes).toContain('SAMPLING_GAP');
      // only what the sensor really said: 150 W; the corrupted, cut and mis-columned rows gave nothing
      const log = await readSampleLog(join(out, 'nv.samples.jsonl'));
      const powers = new Set(log.filter((x) => x.type === 'sample').map((x: any) => x.powerW));
      expect([...powers]).toEqual([150]);
      expect(log.filter((x) => x.type === 'gap').length).toBeGreaterThanOrEqual(4);
      // the sampling resumed after the last fault (samples late in the window)
      const w = res.repetitions[0].window;
      expect(log.some((x: any) => x.type === 'sample' && x.tS > w.endS - 1)).toBe(true);
      // every nvidia-smi loop the harness started is gone, the hung one included
      const loops = pidsIn(join(state, 'loop.pids'));
      expect(loops.length).toBeGreaterThanOrEqual(5);
      expect(await survivors(loops)).toEqual([]);
      return { expected: 1, found: valid.length };
    });
  });
});
