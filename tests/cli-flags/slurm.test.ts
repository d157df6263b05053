// `wattbench slurm`: a setting with a control character would split its line of the sbatch script (a newline in
// --partition becomes lines of its own), and --write to a path that cannot take a file is one exit-2 line.
import { describe, it, expect } from 'vitest';
import { execa } from 'execa';
import { join } from 'node:path';
import { writeFile, mkdir, readFile, stat, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { slurm } from '../../harness/commands/slurm.js';
import { expectBadInput } from '../helpers/expect.js';
import { tempDir } from '../helpers/cli.js';
import { captureIO, thrown } from '../helpers/io.js';

const run = (args: string[]) => {
  const c = captureIO();
  return { ...c, done: thrown(slurm.run(['--nodes', '2', ...args, '--', 'python', 'train.py'], c.io)) };
};

describe('slurm settings with control characters', () => {
  const flags = ['--partition', '--account', '--time', '--job-name', '--name', '--sbatch', '--dir', '--out', '--srun', '--source-opt', '--clock-host', '--clock-bind', '--wattbench'];
  it.each(flags)('%s with a newline, CR, NUL or tab is refused, naming the flag', async (flag) => {
    for (const bad of ['gpu\n#SBATCH --exclusive\nrm -rf /tmp/x', 'a\rb', 'a\u0000b', 'a\tb', 'a\u001bb']) {
      // a source option must name its source and a key it takes, or it is refused before the script is checked
      const { done, out } = run(flag === '--source-opt' ? ['--source', 'replay', flag, `file=${bad}`] : [flag, bad]);
      const err = await done;
      expectBadInput(err, 'BAD_FLAG', new RegExp(`^${flag} '.*' contains `), new RegExp(flag));
      expect((err as Error).message).not.toMatch(/[\n\r\0]/);
      expect(out()).toBe('');
    }
  });

  it('plain settings still go into the script, one per line', async () => {
    const { done, out } = run(['--partition', 'gpu', '--account', 'proj-1', '--time', '1:00:00', '--sbatch=--constraint=h100', '--job-name', 'my job']);
    expect(await done).toBeUndefined();
    for (const l of ['--partition=gpu', '--account=proj-1', '--time=1:00:00', '--constraint=h100', '--job-name=my job']) expect(out()).toContain(`#SBATCH ${l}\n`);
  });

  it('--dir and --out keep $VAR references live but never run $(…)', async () => {
    const dir = await tempDir('wb-slurm-dq-');
    const marker = join(dir, 'ran');
    const { done, out } = run(['--dir', `$WB_BASE/$(touch ${marker})/\${SLURM_JOB_ID}`, '--out', `$WB_BASE/$((6*7))/r.json`]);
    expect(await done).toBeUndefined();
    const line = out().split('\n').find((l) => l.startsWith('WB_DIR='))!;
    const r = await execa('bash', ['-c', `${line}; printf '%s' "$WB_DIR"`], { env: { WB_BASE: '/shared', SLURM_JOB_ID: '7' }, extendEnv: false });
    expect(r.stdout).toBe(`/shared/$(touch ${marker})/7`);
    expect(existsSync(marker)).toBe(false);
    const merge = out().split('\n').find((l) => l.startsWith('"${WB[@]}" merge'))!;
    const m = /--out ("[^"]*")/.exec(merge)!;
    const o = await execa('bash', ['-c', `printf '%s' ${m[1]}`], { env: { WB_BASE: '/shared' }, extendEnv: false });
    expect(o.stdout).toBe('/shared/$((6*7))/r.json');
  });
});

describe('slurm --write', () => {
  it('a path under a file, a folder, a missing folder or a device is one exit-2 line', async () => {
    const dir = await tempDir('wb-slurm-write-');
    await writeFile(join(dir, 'afile'), 'x');
    await mkdir(join(dir, 'adir'));
    const targets: Array<[string, RegExp]> = [
      [join(dir, 'afile', 'x.sbatch'), /is a file, not a folder/],
      [join(dir, 'adir'), /is a folder/],
      [join(dir, 'nodir', 'x.sbatch'), /folder does not exist/],
      ...(existsSync('/dev/null') ? [['/dev/null', /not a regular file/] as [string, RegExp]] : []),
    ];
    for (const [target, why] of targets) {
      const { done, out } = run(['--write', target]);
      const err = await done;
      expectBadInput(err, 'OUTPUT_NOT_WRITABLE', why, /--write/);
      expect((err as Error).message).toContain(target);
      expect((err as Error).message).not.toMatch(/\n/);
      expect(out()).toBe('');
    }
    expect((await stat('/dev/null')).isCharacterDevice()).toBe(true);
    expect(await readdir(join(dir, 'adir'))).toEqual([]);
  });

  it('a good path gets an executable script and nothing on stdout', async () => {
    const dir = await tempDir('wb-slurm-write-');
    const file = join(dir, 'job.sbatch');
    const { done, out } = run(['--write', file]);
    expect(await done).toBeUndefined();
    expect(out()).toBe('');
    expect(await readFile(file, 'utf8')).toMatch(/^#!\/bin\/bash\n#SBATCH --job-name=wattbench\n/);
    expect((await stat(file)).mode & 0o111).toBe(0o111);
  });
});
