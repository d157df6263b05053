// What devices and sample print: a period derived from a trace has float noise (100.00000000000142 ms) and is
// shown rounded; the estimate source is "estimated" in scope and kind, said once.
import { describe, it, expect } from 'vitest';
import { devices } from '../../harness/commands/devices.js';
import { sample } from '../../harness/commands/sample.js';
import { tempDir, writeConstantTrace } from '../helpers/cli.js';
import { captureIO } from '../helpers/io.js';

describe('devices and sample display', () => {
  it('devices rounds the update period of a replayed trace', async () => {
    const dir = await tempDir('wb-display-');
    const trace = await writeConstantTrace(dir, 150, 5, 0.1);
    const { io, out } = captureIO();
    await devices.run(['--source-opt', `replay.file=${trace}`], io);
    const line = out().split('\n').find((l) => /^\s+replay\s+\d/.test(l) && /works/.test(l))!;
    expect(line, out()).toMatch(/updates every 100 ms/);
    expect(out()).not.toMatch(/\d\.\d{4,} ms/);
  });

  it('devices gives the estimate its CPU-time tick, not an update period', async () => {
    const { io, out } = captureIO();
    await devices.run([], io);
    const line = out().split('\n').find((l) => /^\s+estimate\s/.test(l))!;
    expect(line, out()).toMatch(/CPU time in 10 ms ticks/);
    expect(line).not.toMatch(/updates every/);
  });

  it('sample says "estimated" once for the estimate source', async () => {
    const { io, out } = captureIO();
    await sample.run(['--source', 'estimate', '--duration', '0.3'], io);
    expect(out().split('\n')[0]).toMatch(/^estimate \(estimated\) for \d+\.\d\d s at \d+(\.\d+)? ms$/);
  });
});
