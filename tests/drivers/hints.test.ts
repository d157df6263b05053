// A source that is not there says how to point at it. That hint, typed as it stands into run, sample or serve,
// must be accepted: it names the source (`--source ID --source-opt K=V`) and a key the source declares.
import { describe, it, expect } from 'vitest';
import { DRIVERS } from '../../drivers/index.js';
import { checkSourceOptFlags } from '../../harness/sources.js';

describe('probe hints', () => {
  it('every not-installed / not-configured hint that names --source-opt is a working flag pair', async () => {
    const checked: string[] = [];
    for (const [id, driver] of Object.entries(DRIVERS)) {
      const p = await driver.probe({ env: { PATH: '/nonexistent' }, options: {} });
      if (p.state !== 'unavailable' || !/--source-opt/.test(p.reason)) continue;
      const hint = p.reason.match(/(--source \S+ )?--source-opt (\S+?=\S*)/)!;
      expect(hint[1], `${id}: ${p.reason}`).toBe(`--source ${id} `);
      expect(() => checkSourceOptFlags(id, [hint[2]!]), `${id}: ${p.reason}`).not.toThrow();
      checked.push(id);
    }
    // the tools found on PATH and the services given by option, at least
    expect(checked).toEqual(expect.arrayContaining(['nvidia-smi', 'nvml', 'amd-smi', 'npu-smi', 'prometheus', 'ipmi', 'redfish', 'hl-smi', 'cnmon', 'tt-smi', 'replay']));
  });
});
