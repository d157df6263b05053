// redfish: parsers over the DMTF mockups (../shared) and our own resources, and the driver against a local HTTP
// Redfish service that serves those JSON files at their own @odata.id.
import { describe, it, expect, afterEach } from 'vitest';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseRedfishPower, isoDurationMs, resourceKind, chassisPowerLinks, collectionMembers, redfish } from '../../drivers/redfish.js';
import { createRunClock, sleepMs } from '../../lib/clock.js';
import type { Sample } from '../../results/samples.js';
import { integrateCounter } from '../../harness/energy.js';
import { OWN, SHARED_DC, HAVE_SHARED_DC, startRedfish, TEST_TRACE } from '../helpers/datacenter.js';
import { runCli, tempDir, resultFiles, readJson } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

const OWN_RF = join(OWN, 'redfish');
const json = async (p: string) => JSON.parse(await readFile(p, 'utf8'));
if (!HAVE_SHARED_DC) console.log(`note: ${SHARED_DC} is absent; the DMTF Redfish mockups are skipped`);

let servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => { await Promise.all(servers.map((s) => s.close())); servers = []; });

describe.skipIf(!HAVE_SHARED_DC)('redfish parsers over the DMTF mockups', () => {
  const f = (n: string) => json(join(SHARED_DC, n));
  it('EnvironmentMetrics: PowerWatts.Reading and its Sensor', async () => {
    const r = parseRedfishPower(await f('redfish__dmtf-mockup__public-rackmount1__Chassis-1U-EnvironmentMetrics.json'));
    expect(r).toMatchObject({ kind: 'EnvironmentMetrics', powerW: 374, dataSourceUri: '/redfish/v1/Chassis/1U/Sensors/TotalPower', field: 'PowerWatts.Reading' });
    expect(r.energyJ).toBeUndefined();
  });
  it('the older Power resource: PowerControl[0].PowerConsumedWatts', async () => {
    expect(parseRedfishPower(await f('redfish__dmtf-mockup__public-rackmount1__Chassis-1U-Power.json'))).toMatchObject({ kind: 'Power', powerW: 344, field: 'PowerControl[0].PowerConsumedWatts' });
  });
  it('Sensor: Reading in W, SensingInterval PT0.25S', async () => {
    const doc = await f('redfish__dmtf-mockup__public-rackmount1__Chassis-1U-Sensors-TotalPower.json');
    expect(parseRedfishPower(doc)).toMatchObject({ kind: 'Sensor', powerW: 374 });
    expect(isoDurationMs(doc.SensingInterval)).toBe(250);
  });
  it('power supply metrics, PDU outlet and PDU totals: power read, kWh counters reported but not used as energy', async () => {
    expect(parseRedfishPower(await f('redfish__dmtf-mockup__public-rackmount1__PowerSupplies-Bay1-Metrics.json'))).toMatchObject({ kind: 'PowerSupplyMetrics', powerW: 937.4, energyKWh: 325675 });
    const outlet = parseRedfishPower(await f('pdu__redfish-dmtf-mockup__public-pdu__RackPDUs-1-Outlets-A1.json'));
    expect(outlet).toMatchObject({ kind: 'Outlet', powerW: 197.4, energyKWh: 36166 });
    expect(outlet.energyJ).toBeUndefined();
    expect(parseRedfishPower(await f('pdu__redfish-dmtf-mockup__public-pdu__RackPDUs-1-Metrics.json'))).toMatchObject({ kind: 'PowerDistributionMetrics', powerW: 6438 });
  });
  it('the driver finds the mockup chassis 1U through its links and reads EnvironmentMetrics, with the sensor refresh period', async () => {
    // our own service root + a chassis resource linking to the DMTF mockups' resources
    const rf = await startRedfish([SHARED_DC, OWN_RF]);
    servers.push(rf);
    const probe = await redfish.probe({ env: {}, options: { url: rf.url, path: '/redfish/v1/Chassis/1U/EnvironmentMetrics' } });
    expect(probe).toMatchObject({ state: 'ok', devices: [{ id: 'redfish:node', kind: 'node' }], semantics: { kind: 'instantaneous', updatePeriodMs: 250 } });
    const old = await redfish.probe({ env: {}, options: { url: rf.url, path: '/redfish/v1/Chassis/1U/Power' } });
    expect(old).toMatchObject({ state: 'ok', semantics: { kind: 'instantaneous', field: 'Power PowerControl[0].PowerConsumedWatts' } });
  });
});

describe('redfish parsers over our own resources', () => {
  it('EnergyJoules makes it an energy counter; several PowerControl entries are named', async () => {
    expect(parseRedfishPower(await json(join(OWN_RF, 'Node0-EnvironmentMetrics.json')))).toMatchObject({ powerW: 1840.5, energyJ: 912345678, field: 'EnergyJoules.Reading' });
    const p = parseRedfishPower(await json(join(OWN_RF, 'Node0-Power.json')));
    expect(p).toMatchObject({ powerW: 1838 });
    expect(p.note).toMatch(/2 PowerControl entries/);
    expect(parseRedfishPower(await json(join(OWN_RF, 'Node0-Power.json')), 1).powerW).toBe(402);
  });
  it('links, members, kinds, durations', async () => {
    expect(chassisPowerLinks(await json(join(OWN_RF, 'Chassis-Node0.json')))).toEqual(['/redfish/v1/Chassis/Node0/EnvironmentMetrics', '/redfish/v1/Chassis/Node0/Power']);
    expect(collectionMembers(await json(join(OWN_RF, 'ChassisCollection.json')))).toEqual(['/redfish/v1/Chassis/Backplane', '/redfish/v1/Chassis/Node0']);
    expect(resourceKind(await json(join(OWN_RF, 'ChassisCollection.json')))).toBe('Collection');
    expect(isoDurationMs('PT1M')).toBe(60000);
    expect(isoDurationMs('PT0.5S')).toBe(500);
    expect(isoDurationMs('P1D')).toBe(86400000);
    expect(isoDurationMs('soon')).toBeUndefined();
  });
});

describe('redfish driver against a local service', () => {
  it('discovers the chassis with a reading (skipping one without), prefers the energy counter, and integrates it', async () => {
    const t0 = Date.now();
    const rf = await startRedfish([OWN_RF], {
      live: (path, doc) => {
        if (path.endsWith('/EnvironmentMetrics')) {
          const tS = (Date.now() - t0) / 1000;
          doc.PowerWatts.Reading = TEST_TRACE.powerAt(tS);
          doc.EnergyJoules.Reading = 1e6 + TEST_TRACE.energyJ(0, tS);
        }
        return doc;
      },
      requireAuth: { user: 'svc', password: 'hunter2' },
    });
    servers.push(rf);
    const env = { WATTBENCH_REDFISH_USER: 'svc', WATTBENCH_REDFISH_PASSWORD: 'hunter2' };
    const noAuth = await redfish.probe({ env: {}, options: { url: rf.url } });
    expect(noAuth).toMatchObject({ state: 'unavailable', code: 'permission-denied' });
    expect((noAuth as any).reason).toMatch(/WATTBENCH_REDFISH_USER/);
    const probe = await redfish.probe({ env, options: { url: rf.url } });
    expect(probe).toMatchObject({ state: 'ok', semantics: { kind: 'energy-counter', updatePeriodMs: 1000, field: 'EnvironmentMetrics EnergyJoules.Reading' } });
    if (probe.state !== 'ok') return;
    const samples: Sample[] = [];
    const ctrl = new AbortController();
    const clock = createRunClock();
    const s = await redfish.start({ devices: probe.devices, intervalMs: 200, clock, signal: ctrl.signal, options: { url: rf.url }, env, probe, sink: { sample: (x) => samples.push(x), gap: () => {}, restarted: () => {}, note: () => {} } });
    await sleepMs(2500);
    await waitFor(() => samples.length > 5, 20_000, 'more than 5 readings'); // a loaded machine polls slower
    ctrl.abort();
    await s.stop();
    expect(samples.length).toBeGreaterThan(5);
    const a = samples[0]!.tS, b = samples[samples.length - 1]!.tS;
    const got = integrateCounter(samples.map((x) => ({ tS: x.tS, energyJ: x.energyJ! })), a, b).energyJ;
    const want = TEST_TRACE.energyJ((clock.anchorWallMs - t0) / 1000 + a, (clock.anchorWallMs - t0) / 1000 + b);
    expect(Math.abs(got - want) / want).toBeLessThan(0.02);
  });

  it('a URL with credentials is refused without echoing them; a run records no credential anywhere', async () => {
    const bad = await redfish.probe({ env: {}, options: { url: 'https://root:calvin@bmc.example' } });
    expect(bad).toMatchObject({ state: 'unavailable', code: 'not-configured' });
    expect((bad as any).reason).not.toMatch(/calvin/);
    const rf = await startRedfish([OWN_RF], { requireAuth: { user: 'svc', password: 'hunter2' } });
    servers.push(rf);
    const out = await tempDir('wb-rf-');
    const r = await runCli(['run', '--source', 'redfish', '--source-opt', `url=${rf.url}`, '--source-opt', 'path=/redfish/v1/Chassis/Node0/Power', '--idle', '0', '--cooldown', '0', '--repetitions', '1', '--set', 'durationS=1.5', '--set', 'warmupS=0', '--quiet', '--out', out],
      { env: { WATTBENCH_REDFISH_USER: 'svc', WATTBENCH_REDFISH_PASSWORD: 'hunter2' } });
    expect(r.exitCode, r.stderr).toBe(0);
    for (const f of await readdir(out)) expect(await readFile(join(out, f), 'utf8')).not.toMatch(/hunter2|svc:|c3ZjOmh1bnRlcjI/);
    const result = await readJson((await resultFiles(out))[0]!);
    expect(result.sources[0]).toMatchObject({ id: 'redfish', scope: 'node', semantics: { kind: 'instantaneous' } });
    expect(result.repetitions[0].devices[0].meanPowerW).toBeCloseTo(1838, 6);
  });
});
