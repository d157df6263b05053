// ipmi: the DCMI power reading parser over real captures and our own, and the spawn → parse → stop path through a
// fake ipmitool on PATH that replays a capture (and reports "deactivated" when told to).
import { describe, it, expect } from 'vitest';
import { readFile, writeFile, chmod, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDcmiPowerReading, ipmitoolArgs, ipmi } from '../../drivers/ipmi.js';
import { createRunClock } from '../../lib/clock.js';
import type { Sample } from '../../results/samples.js';
import { OWN, SHARED_DC, HAVE_SHARED_DC } from '../helpers/datacenter.js';
import { tempDir, runCli, resultFiles, readJson } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

if (!HAVE_SHARED_DC) console.log(`note: ${SHARED_DC} is absent; the real ipmitool captures are skipped`);

describe.skipIf(!HAVE_SHARED_DC)('dcmi power reading: real captures', () => {
  it('lanplus capture (4-space indent, leading blank line)', async () => {
    const r = parseDcmiPowerReading(await readFile(join(SHARED_DC, 'ipmitool__dcmi-power-reading__lanplus__2017-capture.txt'), 'utf8'));
    expect(r).toEqual({ powerW: 8, minW: 8, maxW: 188, averageW: 8, bmcTime: 'Tue Nov 14 16:49:58 2017', samplingPeriodS: 1, state: 'activated' });
  });
  it('OpenIPMI capture (tab-indented as found)', async () => {
    const r = parseDcmiPowerReading(await readFile(join(SHARED_DC, 'ipmitool__dcmi-power-reading__openipmi__2024-capture__tab-indented-in-source-doc.txt'), 'utf8'));
    expect(r).toMatchObject({ powerW: 50, minW: 6, maxW: 304, averageW: 49, samplingPeriodS: 1, state: 'activated' });
  });
  it('every ipmitool capture has an instantaneous reading', async () => {
    for (const f of (await readdir(SHARED_DC)).filter((n) => n.startsWith('ipmitool__'))) {
      expect(parseDcmiPowerReading(await readFile(join(SHARED_DC, f), 'utf8')).powerW, f).toBeGreaterThan(0);
    }
  });
});

describe('dcmi power reading: our fixtures', () => {
  it('activated reading', async () => {
    expect(parseDcmiPowerReading(await readFile(join(OWN, 'ipmitool-dcmi-activated.txt'), 'utf8'))).toMatchObject({ powerW: 412, averageW: 395, state: 'activated' });
  });
  it('"deactivated" means no reading, even though it prints 0 Watts', async () => {
    const r = parseDcmiPowerReading(await readFile(join(OWN, 'ipmitool-dcmi-deactivated.txt'), 'utf8'));
    expect(r.state).toBe('deactivated');
    expect(r.powerW).toBeUndefined();
  });
  it('remote BMC: user and password only from the environment, never shown', () => {
    expect(ipmitoolArgs({ host: 'bmc1' }, {}).problem).toMatch(/WATTBENCH_IPMI_USER/);
    expect(ipmitoolArgs({ host: 'bmc1' }, { WATTBENCH_IPMI_USER: 'admin' }).problem).toMatch(/IPMI_PASSWORD/);
    const a = ipmitoolArgs({ host: 'bmc1' }, { WATTBENCH_IPMI_USER: 'admin', IPMI_PASSWORD: 'pw' });
    expect(a.args).toEqual(['-I', 'lanplus', '-H', 'bmc1', '-U', 'admin', '-E', 'dcmi', 'power', 'reading']);
    expect(a.shown.join(' ')).not.toMatch(/admin|pw/);
  });
});

/** A fake ipmitool that replays a capture; its power follows the FAKE_POWER file when present. */
async function fakeIpmitool(dir: string, capture: string): Promise<string> {
  const bin = join(dir, 'bin');
  await (await import('node:fs/promises')).mkdir(bin, { recursive: true });
  await writeFile(join(dir, 'capture.txt'), capture);
  await writeFile(join(bin, 'ipmitool'), `#!/bin/sh
# replays a captured 'ipmitool dcmi power reading'; records its argv so the test can check no secret was passed
echo "$@" >> "${dir}/argv.log"
case "$*" in *"dcmi power reading"*) ;; *) echo "unexpected arguments: $*" >&2; exit 1 ;; esac
if [ -f "${dir}/power" ]; then sed "s/Instantaneous power reading: *[0-9]* Watts/Instantaneous power reading:                   $(cat "${dir}/power") Watts/" "${dir}/capture.txt"; else cat "${dir}/capture.txt"; fi
`);
  await chmod(join(bin, 'ipmitool'), 0o755);
  return bin;
}

describe('ipmi through a fake ipmitool on PATH', () => {
  it('probe → start → samples → stop, with node scope and a 1 s update period', async () => {
    const dir = await tempDir('wb-ipmi-');
    const bin = await fakeIpmitool(dir, await readFile(join(OWN, 'ipmitool-dcmi-activated.txt'), 'utf8'));
    const env = { PATH: `${bin}:${process.env.PATH}` };
    const probe = await ipmi.probe({ env, options: {} });
    expect(probe).toMatchObject({ state: 'ok', devices: [{ id: 'ipmi:node', kind: 'node' }], semantics: { kind: 'instantaneous', updatePeriodMs: 1000 } });
    if (probe.state !== 'ok') return;
    const samples: Sample[] = [];
    const ctrl = new AbortController();
    const s = await ipmi.start({ devices: probe.devices, intervalMs: 250, clock: createRunClock(), signal: ctrl.signal, options: {}, env, probe, sink: { sample: (x) => samples.push(x), gap: () => {}, restarted: () => {}, note: () => {} } });
    // readings before and after the BMC's value changes, however slow the fake tool is to answer
    await waitFor(() => samples.length >= 2, 30_000, 'two readings of 412 W');
    await writeFile(join(dir, 'power'), '777');
    await waitFor(() => samples.filter((x) => x.powerW === 777).length >= 2, 30_000, 'two readings of 777 W');
    ctrl.abort();
    await s.stop();
    expect(s.command).toEqual(['ipmitool', 'dcmi', 'power', 'reading']);
    const values = new Set(samples.map((x) => x.powerW));
    expect(values).toEqual(new Set([412, 777]));
    expect(samples.length).toBeGreaterThanOrEqual(4);
  });

  it('a BMC whose reading is deactivated is unavailable with a reason, and a run on it fails with exit 2', async () => {
    const dir = await tempDir('wb-ipmi-');
    const bin = await fakeIpmitool(dir, await readFile(join(OWN, 'ipmitool-dcmi-deactivated.txt'), 'utf8'));
    const probe = await ipmi.probe({ env: { PATH: `${bin}:${process.env.PATH}` }, options: {} });
    expect(probe).toMatchObject({ state: 'unavailable', code: 'no-power-field' });
    expect((probe as any).reason).toMatch(/deactivated/);
    const r = await runCli(['sample', '--source', 'ipmi', '--duration', '1'], { env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/SOURCE_UNAVAILABLE.*deactivated/);
  });

  it('no local BMC interface: unavailable with what to load, not a permission problem', async () => {
    const dir = await tempDir('wb-ipmi-');
    await (await import('node:fs/promises')).mkdir(join(dir, 'bin'));
    // ipmitool's own words on a machine without /dev/ipmi0
    await writeFile(join(dir, 'bin', 'ipmitool'), '#!/bin/sh\necho "Could not open device at /dev/ipmi0 or /dev/ipmi/0 or /dev/ipmidev/0: No such file or directory" >&2\nexit 1\n');
    await chmod(join(dir, 'bin', 'ipmitool'), 0o755);
    const probe = await ipmi.probe({ env: { PATH: `${join(dir, 'bin')}:${process.env.PATH}` }, options: {} });
    expect(probe).toMatchObject({ state: 'unavailable', code: 'no-devices' });
    expect((probe as any).reason).toMatch(/ipmi_si and ipmi_devintf.*host=/);
  });

  it('remote BMC: the password reaches ipmitool only through IPMI_PASSWORD (-E), and the result never holds it', async () => {
    const dir = await tempDir('wb-ipmi-');
    const bin = await fakeIpmitool(dir, await readFile(join(OWN, 'ipmitool-dcmi-activated.txt'), 'utf8'));
    const out = join(dir, 'out');
    const r = await runCli(['run', '--source', 'ipmi', '--source-opt', 'host=10.0.0.9', '--idle', '0', '--cooldown', '0', '--repetitions', '1', '--set', 'durationS=1.5', '--set', 'warmupS=0', '--quiet', '--out', out],
      { env: { PATH: `${bin}:${process.env.PATH}`, WATTBENCH_IPMI_USER: 'opsuser', IPMI_PASSWORD: 's3cr3t-pw' } });
    expect(r.exitCode, r.stderr).toBe(0);
    const argv = await readFile(join(dir, 'argv.log'), 'utf8');
    expect(argv).toContain('-U opsuser -E dcmi power reading');
    expect(argv).not.toContain('s3cr3t-pw');
    const files = await readdir(out);
    for (const f of files) expect(await readFile(join(out, f), 'utf8'), f).not.toMatch(/s3cr3t-pw|opsuser/);
    const result = await readJson((await resultFiles(out))[0]!);
    expect(result.sources[0]).toMatchObject({ id: 'ipmi', scope: 'node', command: ['ipmitool', '-I', 'lanplus', '-H', '10.0.0.9', '-U', '$WATTBENCH_IPMI_USER', '-E', 'dcmi', 'power', 'reading'] });
    expect(result.warnings.map((w: any) => w.code)).toContain('HOST_SCOPE');
  });
});
