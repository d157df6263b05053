// Every flag a command accepts is in its --help; commands without arguments refuse extra ones;
// `wattbench help CMD` prints CMD --help; node's multi-line flag messages become one line.
import { describe, it, expect } from 'vitest';
import * as shardMod from '../../harness/commands/shard.js';
import * as slurmMod from '../../harness/commands/slurm.js';
import * as k8sMod from '../../harness/commands/k8s.js';
import * as sampleMod from '../../harness/commands/sample.js';
import * as devicesMod from '../../harness/commands/devices.js';
import { parseFlags } from '../../harness/commands/command.js';
import { expectBadInput } from '../helpers/expect.js';
import { runCli } from '../helpers/cli.js';
import { captureIO, thrown } from '../helpers/io.js';

describe('--help lists every flag', () => {
  const cases = [
    ['shard', shardMod.shard, shardMod.options], ['slurm', slurmMod.slurm, slurmMod.options], ['k8s', k8sMod.k8s, k8sMod.options],
    ['sample', sampleMod.sample, sampleMod.options], ['devices', devicesMod.devices, devicesMod.options],
  ] as const;
  it.each(cases)('%s', async (_name, cmd, options) => {
    const { io, out } = captureIO();
    await cmd.run(['--help'], io);
    for (const flag of Object.keys(options)) {
      if (flag === 'help') continue;
      expect(out(), `--${flag}`).toMatch(new RegExp(`--${flag}\\b`));
    }
  });

  it('sample shows --source as optional', () => {
    expect(sampleMod.sample.usage.split('\n')[0]).toMatch(/\[--source NAME\]/);
  });
});

describe('extra arguments are refused', () => {
  it.each([
    ['devices', devicesMod.devices, ['extra']],
    ['sample', sampleMod.sample, ['--duration', '0.1', 'extra', 'positional']],
    ['shard', shardMod.shard, ['--dir', '/nonexistent-wb', '--stop', 'extra']],
  ] as const)('%s', async (name, cmd, args) => {
    const { io, out } = captureIO();
    expectBadInput(await thrown(cmd.run([...args], io)), 'BAD_FLAG', new RegExp(`^${name} takes no arguments, got 'extra'`), /flags|wattbench devices/);
    expect(out()).toBe('');
  });
});

describe('flag messages', () => {
  it('a value starting with a dash, given without =, is one line that shows the = form', () => {
    let err: unknown;
    try { parseFlags(['--idle', '-1'], { idle: { type: 'string' } } as const, 'run'); } catch (e) { err = e; }
    expectBadInput(err, 'BAD_FLAG', /^run: --idle needs a value; one that starts with a dash must be joined with =$/, /--idle=VALUE/);
  });
});

describe('wattbench help CMD', () => {
  it('prints that command\'s --help', async () => {
    for (const cmd of ['run', 'slurm', 'sample']) {
      const viaHelp = await runCli(['help', cmd]);
      const direct = await runCli([cmd, '--help']);
      expect(viaHelp.exitCode, viaHelp.stderr).toBe(0);
      expect(viaHelp.stdout).toBe(direct.stdout);
      expect(viaHelp.stdout).toMatch(new RegExp(`^wattbench ${cmd} `));
    }
  });

  it('an unknown command after help is exit 2; bare help is the overview', async () => {
    const r = await runCli(['help', 'nope']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^UNKNOWN_COMMAND: no command 'nope'/);
    const overview = await runCli(['help']);
    expect(overview.exitCode).toBe(0);
    expect(overview.stdout).toMatch(/^wattbench — /);
  });
});
