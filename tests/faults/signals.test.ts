// SIGINT and SIGTERM delivered to the harness in every phase of a run — idle baseline, warm-up, measured window,
// cooldown, and while the result is written. Each time: no child process left behind (the workload, its own child,
// the sampler's vendor tool), a partial result that passes `wattbench validate` with status interrupted (or the
// finished result, when the signal lands after the last measurement), and the raw samples kept on disk.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readSampleLog } from '../../results/samples.js';
import { fault, tempDir, workloadScript, startWb, wb, baseEnv, countResults, pidsIn, survivors, isAlive, waitFor, tempLeftovers, looksLikeCrash, constantTrace } from './helpers.js';
import { HAVE_NVIDIA_SMI_DRIVER, installFakeNvidiaSmi } from './fake-nvidia-smi.js';

let dir: string;
let trace: string;
beforeAll(async () => {
  dir = await tempDir('wb-fault-signals-');
  trace = await constantTrace(dir, 100, 60);
});
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

/** Sample records in a raw samples log written so far (0 while the file is not there yet). */
async function samplesOnDisk(file: string): Promise<number> {
  try {
    return (await readFile(file, 'utf8')).split('\n').filter((l) => l.includes('"type":"sample"')).length;
  } catch { return 0; }
}

type Phase = 'idle' | 'warm-up' | 'window' | 'cooldown' | 'writing';

/** The power source for one run; with the nvidia-smi driver present, a fake nvidia-smi of its own (a real child). */
async function source(tag: string): Promise<{ flags: string[]; env: Record<string, string>; samplerPids: () => number[] }> {
  if (!HAVE_NVIDIA_SMI_DRIVER) return { flags: ['--source', 'replay', '--source-opt', `file=${trace}`], env: baseEnv(), samplerPids: () => [] };
  const nv = await installFakeNvidiaSmi(join(dir, `nv-${tag}`));
  return { flags: ['--source', 'nvidia-smi', '--source-opt', 'stdbuf=false'], env: baseEnv({ PATH: `${nv.bin}:${process.env.PATH}` }), samplerPids: () => pidsIn(nv.pidsFile) };
}

async function interrupt(sig: 'SIGINT' | 'SIGTERM', phase: Phase): Promise<void> {
  const tag = `${sig}-${phase}`;
  const out = join(dir, `out-${tag}`);
  const pidsFile = join(dir, `${tag}.pids`);
  const body: Record<Phase, string> = {
    idle: `forkChild(${JSON.stringify(pidsFile)}); emit({ event: 'window_start' }); emit({ event: 'window_end' });`,
    'warm-up': `emit({ event: 'warmup_start' }); forkChild(${JSON.stringify(pidsFile)}); setInterval(() => {}, 1000);`,
    window: `emit({ event: 'warmup_start' }); emit({ event: 'window_start' }); forkChild(${JSON.stringify(pidsFile)});
      setInterval(() => emit({ event: 'tokens', tokens: 5 }), 20);`,
    // these two finish; their child would keep them alive, so they exit outright (the harness stops the child)
    cooldown: `forkChild(${JSON.stringify(pidsFile)}); emit({ event: 'window_start' }); await sleep(300); emit({ event: 'tokens', tokens: 50 }); emit({ event: 'window_end' }); process.exit(0);`,
    writing: `forkChild(${JSON.stringify(pidsFile)}); emit({ event: 'window_start' }); await sleep(300); emit({ event: 'tokens', tokens: 50 }); emit({ event: 'window_end' }); process.exit(0);`,
  };
  const wl = await workloadScript(dir, tag, body[phase]);
  const src = await source(tag);
  const h = startWb(['run', ...src.flags, '--interval', '50', '--idle', phase === 'idle' ? '30' : '0.3', '--cooldown', phase === 'cooldown' ? '30' : '0',
    '--repetitions', '1', '--out', out, '--run-id', tag, '--progress', 'plain', '--workload', 'command', '--set', `command=${JSON.stringify([process.execPath, wl])}`],
  { env: src.env, timeoutMs: 60_000 });
  // wait until the run is inside the phase, with something sampled, then signal
  if (phase === 'idle') { await h.waitForStderr(/idle baseline/, 45_000); await new Promise((r) => setTimeout(r, 500)); }
  if (phase === 'warm-up' || phase === 'window') { await waitFor(() => pidsIn(pidsFile).length === 2, 30_000, 'the workload and its child'); await new Promise((r) => setTimeout(r, 400)); }
  if (phase === 'cooldown') await h.waitForStderr(/cooldown 1/, 45_000);
  if (phase === 'writing') await h.waitForStderr(/: result$/, 45_000);
  // the fake vendor tool is a Node script: on a loaded machine it can take more than a moment to be up, so wait
  // for it (the idle and cooldown phases last 30 s) instead of racing its start
  if (HAVE_NVIDIA_SMI_DRIVER && phase !== 'writing') await waitFor(() => src.samplerPids().filter(isAlive).length > 0, 15_000, 'the vendor tool running when the signal comes');
  // and until a reading is on disk (the log flushes within 200 ms): the test asserts the raw samples are kept, so
  // there must be one to keep — on a loaded machine the vendor tool can be up yet not have printed its first row
  if (phase !== 'writing') await waitFor(async () => (await samplesOnDisk(join(out, `${tag}.samples.jsonl`))) > 0, 20_000, 'a sample on disk');
  const samplers = src.samplerPids();
  h.kill(sig);
  const r = await h.done;
  expect(r.hung, `${tag}: the harness did not stop`).toBe(false);
  expect(looksLikeCrash(r.stderr), r.stderr).toBe(false);
  const interruptedPhase = phase !== 'writing';
  // 130 once the signal was seen; a signal that lands after the run's last check leaves the normal exit code
  expect(interruptedPhase ? [130] : [0, 130], r.stderr).toContain(r.code);
  // nothing left running: the workload, its child, the vendor tool
  expect(await survivors([...pidsIn(pidsFile), ...samplers])).toEqual([]);
  if (phase === 'idle') expect(pidsIn(pidsFile), 'the workload must not start after the signal').toEqual([]);
  // the result: present, valid, marked interrupted (or finished, when writing had begun)
  const { files, valid } = await countResults(out);
  expect(files).toHaveLength(1);
  expect(valid).toHaveLength(1);
  const res = JSON.parse(await readFile(valid[0]!, 'utf8'));
  if (interruptedPhase) {
    expect(res.status).toBe('interrupted');
    expect(res.warnings.map((w: any) => w.code)).toContain('INTERRUPTED');
  } else expect(['ok', 'interrupted']).toContain(res.status);
  if (phase === 'cooldown') expect(res.repetitions[0].status).toBe('ok'); // the finished repetition is kept
  // the raw samples: on disk, with samples in them
  const log = await readSampleLog(join(out, res.rawSamples.file));
  expect(log.filter((x) => x.type === 'sample').length).toBeGreaterThan(0);
  expect(await tempLeftovers(out)).toEqual([]);
  // and `wattbench validate` agrees (one process per signal kind is enough: it is the same check as countResults)
  if (phase === 'window') {
    const v = await wb(['validate', valid[0]!]);
    expect(v.code, v.stdout).toBe(0);
  }
}

describe.concurrent('SIGINT and SIGTERM in every phase', () => {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    for (const phase of ['idle', 'warm-up', 'window', 'cooldown', 'writing'] as const) {
      it(`${sig} during ${phase}`, { timeout: 90_000 }, async () => {
        await fault('harness signals', `${sig} during ${phase}`, async () => {
          await interrupt(sig, phase);
          return { expected: 1, found: 1 };
        });
      });
    }
  }
});
