// A real Slurm (Debian's slurm-wlm + munge): munged, slurmctld and two slurmd ("nodes" n1 and n2 on 127.0.0.1,
// each on its own port — Debian's build allows several slurmd per host) are started from a temp folder. The sbatch
// script `wattbench slurm` writes runs a two-task job (one task per node) with one sampler per node; its two shards
// are merged into one validated result whose energy is the sum over both nodes.
//
// What works as root in a container: proctrack/linuxproc and task/none (no cgroup plugins), no accounting,
// the munge socket in a world-executable folder, SlurmUser=root.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile, mkdir, chmod, readFile, readdir, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { execa } from 'execa';
import { BIN, runCli, tempDir } from '../helpers/cli.js';
import { freePort } from '../helpers/datacenter.js';
import { loadResult } from '../../results/io.js';
import { sleepMs } from '../../lib/clock.js';

const DAEMONS = ['/usr/sbin/munged', '/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/bin/sbatch'];
const missing = DAEMONS.filter((d) => !existsSync(d));
const notRoot = process.getuid?.() !== 0;
if (missing.length) console.log(`note: ${missing.join(', ')} absent (apt-get install slurm-wlm munge); the Slurm test is skipped`);
else if (notRoot) console.log('note: not root; the local Slurm cluster needs root (SlurmUser=root), so the Slurm test is skipped');

describe.skipIf(missing.length > 0 || notRoot)('multi-node run on a real Slurm cluster', () => {
  let root = '';
  let env: Record<string, string> = {};
  const procs: Array<{ name: string; p: ChildProcess; log: string[] }> = [];

  const start = (name: string, file: string, args: string[]) => {
    const p = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const log: string[] = [];
    p.stdout!.on('data', (d) => log.push(String(d)));
    p.stderr!.on('data', (d) => log.push(String(d)));
    procs.push({ name, p, log });
    return p;
  };
  const logs = () => procs.map((x) => `--- ${x.name} (exit ${x.p.exitCode})\n${x.log.join('').slice(-1500)}`).join('\n');

  beforeAll(async () => {
    root = await tempDir('wb-slurm-');
    await chmod(root, 0o755); // munged wants every folder up to its socket executable by all
    const d = (p: string) => join(root, p);
    for (const sub of ['etc', 'munge', 'munge-lib', 'state', 'spool', 'log']) await mkdir(d(sub), { recursive: true });
    await chmod(d('etc'), 0o700);
    await chmod(d('munge'), 0o755);
    await chmod(d('munge-lib'), 0o700);
    await writeFile(d('etc/munge.key'), randomBytes(1024), { mode: 0o400 });
    const [ctld, n1, n2] = [await freePort(), await freePort(), await freePort()];
    const node = (n: string, port: number) => `NodeName=${n} NodeHostname=localhost NodeAddr=127.0.0.1 Port=${port} CPUs=2 State=UNKNOWN`;
    await writeFile(d('etc/slurm.conf'), [
      'ClusterName=wattbench-test',
      'SlurmctldHost=localhost(127.0.0.1)',
      `SlurmctldPort=${ctld}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      'AuthType=auth/munge',
      'CredType=cred/munge',
      `AuthInfo=socket=${d('munge/munge.socket')}`,
      `StateSaveLocation=${d('state')}`,
      `SlurmdSpoolDir=${d('spool')}/%n`,
      `SlurmctldPidFile=${d('slurmctld.pid')}`,
      `SlurmdPidFile=${d('slurmd-%n.pid')}`,
      `SlurmctldLogFile=${d('log/slurmctld.log')}`,
      `SlurmdLogFile=${d('log/slurmd-%n.log')}`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'JobCompType=jobcomp/none',
      'SchedulerType=sched/builtin',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core',
      'MpiDefault=none',
      'ReturnToService=2',
      'SlurmctldTimeout=30',
      'SlurmdTimeout=30',
      node('n1', n1),
      node('n2', n2),
      'PartitionName=debug Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES',
      '',
    ].join('\n'));
    for (const n of ['n1', 'n2']) await mkdir(join(d('spool'), n), { recursive: true });
    env = { ...process.env as Record<string, string>, SLURM_CONF: d('etc/slurm.conf') };

    start('munged', '/usr/sbin/munged', ['-F', `--socket=${d('munge/munge.socket')}`, `--key-file=${d('etc/munge.key')}`, `--log-file=${d('log/munged.log')}`, `--pid-file=${d('munge/munged.pid')}`, `--seed-file=${d('munge-lib/seed')}`]);
    for (let i = 0; i < 100 && !existsSync(d('munge/munge.socket')); i++) await sleepMs(100);
    if (!existsSync(d('munge/munge.socket'))) throw new Error(`munged did not start:\n${logs()}`);
    start('slurmctld', '/usr/sbin/slurmctld', ['-D', '-i', '-f', d('etc/slurm.conf')]);
    await sleepMs(1000);
    start('slurmd n1', '/usr/sbin/slurmd', ['-D', '-N', 'n1', '-f', d('etc/slurm.conf')]);
    start('slurmd n2', '/usr/sbin/slurmd', ['-D', '-N', 'n2', '-f', d('etc/slurm.conf')]);
    const deadline = Date.now() + 90_000;
    for (;;) {
      const r = await execa('sinfo', ['-h', '-N', '-o', '%N %T'], { env, reject: false, timeout: 10_000 });
      const idle = String(r.stdout).split('\n').filter((l) => /\bidle\b/.test(l)).length;
      if (idle === 2) break;
      if (Date.now() > deadline) throw new Error(`the two nodes did not come up idle: ${r.stdout} ${r.stderr}\n${logs()}`);
      await sleepMs(500);
    }
  }, 150_000);

  afterAll(async () => {
    for (const x of [...procs].reverse()) {
      if (x.p.exitCode !== null || x.p.signalCode !== null) continue;
      x.p.kill('SIGTERM');
      await new Promise((r) => { const t = setTimeout(() => { x.p.kill('SIGKILL'); r(null); }, 5000); x.p.once('exit', () => { clearTimeout(t); r(null); }); });
    }
    if (root) await rm(root, { recursive: true, force: true }).catch(() => {});
  });

  it('a two-task job across two nodes yields one merged, validated result', async () => {
    const work = join(root, 'work');
    await mkdir(work, { recursive: true });
    // every node replays a constant 150 W: the merged energy must be 2 × 150 W × the window
    await writeFile(join(work, 'trace.csv'), 't_s,power_w\n0,150\n0.1,150\n');
    await writeFile(join(work, 'workload.mjs'), `const e = (o) => console.log(JSON.stringify(o));
e({ event: 'start', info: { rank: Number(process.env.SLURM_PROCID) } });
e({ event: 'warmup_start' });
await new Promise((r) => setTimeout(r, 300));
e({ event: 'window_start' });
await new Promise((r) => setTimeout(r, 3000));
// only rank 0's events count: rank 1 reports a different number, which must not appear in the result
e({ event: 'tokens', tokens: process.env.SLURM_PROCID === '0' ? 3000 : 99 });
e({ event: 'window_end' });
`);
    const script = join(work, 'job.sbatch');
    const gen = await runCli(['slurm', '--nodes', '2', '--ntasks-per-node', '1', '--source', 'replay', '--source-opt', `file=${join(work, 'trace.csv')}`, '--interval', '100',
      '--idle', '1', '--cooldown', '0', '--repetitions', '1', '--kind', 'infer', '--clock-bind', '127.0.0.1', '--clock-host', '127.0.0.1',
      '--dir', `${work}/job-$SLURM_JOB_ID`, '--wattbench', BIN, `--sbatch=--output=${work}/slurm-%j.out`, '--write', script, '--', process.execPath, join(work, 'workload.mjs')]);
    expect(gen.exitCode, gen.stderr).toBe(0);
    const text = await readFile(script, 'utf8');
    expect(text).toMatch(/srun --overlap --nodes="\$NODES" --ntasks="\$NODES" --ntasks-per-node=1/);

    const r = await execa('sbatch', ['--wait', script], { env, cwd: work, reject: false, timeout: 240_000 });
    const outs = (await readdir(work)).filter((f) => f.startsWith('slurm-'));
    const jobOut = outs.length ? await readFile(join(work, outs[0]!), 'utf8') : '(no job output)';
    expect(r.exitCode, `${r.stdout}\n${r.stderr}\n${jobOut}\n${logs()}`).toBe(0);
    const jobId = /Submitted batch job (\d+)/.exec(String(r.stdout))?.[1];
    const dir = join(work, `job-${jobId}`);
    expect((await readdir(dir)).filter((f) => /^shard-\d\.json$/.test(f)).sort()).toEqual(['shard-0.json', 'shard-1.json']);

    const loaded = await loadResult(join(dir, 'result.json'));
    expect(loaded.state, JSON.stringify(loaded)).toBe('ok');
    if (loaded.state !== 'ok') return;
    const res = loaded.result;
    expect(res.status).toBe('ok');
    expect(res.cluster).toMatchObject({ scheduler: 'slurm', jobId, nodeCount: 2, referenceNode: 0, eventsNode: 0, maxSkewMs: 400 });
    expect(res.cluster!.skewMs).toBeLessThan(50);
    expect(res.cluster!.nodes.map((n) => n.name)).toEqual(['node0', 'node1']); // no host names without --record-hostname
    for (const n of res.cluster!.nodes) {
      expect(n.clock.offsetStartMs).not.toBeNull();
      expect(n.clock.offsetEndMs).not.toBeNull();
      expect(n.sampleCount).toBeGreaterThan(10);
    }
    expect(res.devices.map((d) => d.id)).toEqual(['node0/replay:0', 'node1/replay:0']);
    const rep = res.repetitions[0]!;
    expect(rep.tokens!.total).toBe(3000);
    expect(rep.window!.durationS).toBeGreaterThan(2.9);
    expect(rep.window!.durationS).toBeLessThan(4);
    const want = 2 * 150 * rep.window!.durationS;
    expect(Math.abs(rep.figures!.energyJ - want) / want).toBeLessThan(0.01);
    for (const n of res.cluster!.nodes) expect(n.repetitionEnergyJ[0]).toBeCloseTo(rep.figures!.energyJ / 2, 3);
    expect(res.idle?.powerW).toBeCloseTo(300, 3);
    expect(jobOut).toMatch(/2 node\(s\), largest clock offset/);
  }, 300_000);
});
