// devices checks --source-opt keys like every other command: a typo is exit 2, not a listing that looks as if the
// option had been tried.
import { describe, it, expect } from 'vitest';
import { devices } from '../../harness/commands/devices.js';
import { expectBadInput } from '../helpers/expect.js';
import { captureIO, thrown } from '../helpers/io.js';

describe('devices --source-opt', () => {
  it('refuses a bare key no source takes, and a scoped key its source does not take', async () => {
    expectBadInput(await thrown(devices.run(['--source-opt', 'bogus=1'], captureIO().io)), 'BAD_OPTION', /no power source has an option 'bogus'/, /SOURCE\.KEY=VALUE/);
    expectBadInput(await thrown(devices.run(['--source-opt', 'replay.bogus=1'], captureIO().io)), 'BAD_OPTION', /'replay' has no option 'bogus'/, /replay takes: file/);
  });

  it('takes a bare key some source declares (path=) and a scoped one (replay.file=)', async () => {
    const { io, out } = captureIO();
    await devices.run(['--source-opt', 'path=/nonexistent/tool', '--source-opt', 'replay.file=/nonexistent.csv'], io);
    expect(out()).toMatch(/Power sources \(best first\)/);
    expect(out()).toMatch(/replay\s+\d+\s+\S+\s+error|replay .*nonexistent\.csv/);
  });
});
