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
    // The window lasts until every planned fault has played out and the loop after the last one is sampling: the
    // fifth loop has started and five more readings are on disk (the raw samples log flushes within 200 ms). Each
    // loop is a fresh Node process, which takes a second or more to start on a loaded 2-core CI machine, so a
    // fixed-length window could end before the last fault (or before sampling resumed after it). At most 60 s.
    const loops = join(state, 'loop.pids');
    const samples = join(out, 'nv.samples.jsonl');
    wl = await workloadScript(dir, 'steady', `
      const count = (file, re) => { try { return (fs.readFileSync(file, 'utf8').match(re) || []).length; } catch { return 0; } };
      emit({ event: 'warmup_start' }); await sleep(200);
      emit({ event: 'window_start' });
      const end = Date.now() + 60000;
      let before;
      while (Date.now() < end) {
        await sleep(100); emit({ event: 'tokens', tokens: 100 });
        if (before === undefined && count(${JSON.stringify(loops)}, /^\\d+$/gm) >= 5) before = count(${JSON.stringify(samples)}, /"type":"sample"/g);
        if (before !== undefined && count(${JSON.stringify(samples)}, /"type":"sample"/g) >= before + 5) break;
      }
      emit({ event: 'window_end' });`);
  });

  it('exit, junk (garbage, non-UTF-8, wrong columns, truncated row), hang and EACCES in one run: valid result, gaps and restarts recorded, only real readings', { timeout: 180_000 }, async () => {
    await fault('sensor CLI', 'nvidia-smi process: exit + junk + hang + EACCES in one run', async () => {
      // a 3 s hang timeout: a healthy loop that is slow to print its first row on a loaded machine must not be taken
      // for hung, or it would use up the fault planned for that loop start (the EACCES one, say) before it happens
      const r = await wb(['run', '--source', 'nvidia-smi', '--source-opt', 'hang-timeout-ms=3000', '--source-opt', 'stdbuf=false',
        '--interval', '50', '--idle', '0', '--cooldown', '0', '--repetitions', '1', '--run-id', 'nv', '--out', out, '--progress', 'plain',
        '--workload', 'command', '--set', `command=${JSON.stringify([process.execPath, wl])}`],
        { env: baseEnv({ PATH: `${bin}:${process.env.PATH}`, FAULT_PLAN: JSON.stringify(['exit:10', 'junk:5', 'hang:5', 'noexec:5']),
          // the non-executable tool is fixed once the run has recorded a start that failed with EACCES
          FAULT_RESTORE_AFTER: join(out, 'nv.samples.jsonl') }), timeoutMs: 150_000 });
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
