// --clock-port is a UDP port: shard takes 0..65535 (0 = any free port), k8s 1..65535 (it goes into a Service).
import { describe, it, expect } from 'vitest';
import { shard } from '../../harness/commands/shard.js';
import { k8s } from '../../harness/commands/k8s.js';
import { expectBadInput } from '../helpers/expect.js';
import { tempDir } from '../helpers/cli.js';
import { captureIO, thrown } from '../helpers/io.js';

const k8sArgs = ['--image', 'img:1', '--nodes', '2', '--accelerator', 'nvidia'];

describe('--clock-port', () => {
  it('shard refuses a port outside 0..65535 before it samples', async () => {
    const dir = await tempDir('wb-clockport-');
    for (const p of ['70000', '65536', '-1', '1.5', '', '0x10']) {
      const { io } = captureIO();
      const err = await thrown(shard.run(['--dir', dir, '--nodes', '1', '--duration', '0.1', '--quiet', `--clock-port=${p}`], io));
      expectBadInput(err, 'BAD_FLAG', /^--clock-port '.*' .*is not an integer from 0 to 65535/, /--clock-port 7379/);
    }
  });

  it('k8s refuses a port outside 1..65535 and writes the one it is given', async () => {
    for (const p of ['70000', '65536', '0', '-1', '']) {
      const { io, out } = captureIO();
      const err = await thrown(k8s.run([...k8sArgs, `--clock-port=${p}`, '--', 'python', 't.py'], io));
      expectBadInput(err, 'BAD_FLAG', /^--clock-port '.*' .*is not an integer from 1 to 65535/, /--clock-port 7379/);
      expect(out()).toBe('');
    }
    const { io, out } = captureIO();
    await k8s.run([...k8sArgs, '--clock-port', '65535', '--', 'python', 't.py'], io);
    expect(out()).toMatch(/port: 65535/);
  });
});
