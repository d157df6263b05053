// The Prometheus source's parsers over real captures (../shared, skipped where absent) and our own fixtures, and
// its direct-scrape mode end to end against a local exporter whose power follows a known trace.
import { describe, it, expect, afterAll } from 'vitest';
import { readFile, readdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  parseExposition, parseApiResponse, devicesFromSeries, measureUpdatePeriods, metricCandidates, normalizeSelector,
  parseSelectorEquals, EXPORTERS, isBlank, prometheus, seriesKey,
} from '../../drivers/prometheus.js';
import { createRunClock, sleepMs } from '../../lib/clock.js';
import type { Sample } from '../../results/samples.js';
import { integrateCounter, integratePower } from '../../harness/energy.js';
import { OWN, SHARED_DC, HAVE_SHARED_DC, startExporter, type Exporter } from '../helpers/datacenter.js';
import { waitFor } from '../helpers/wait.js';

const own = (f: string) => readFile(join(OWN, f), 'utf8');
const shared = (f: string) => readFile(join(SHARED_DC, f), 'utf8');
if (!HAVE_SHARED_DC) console.log(`note: ${SHARED_DC} is absent; the real-capture Prometheus tests are skipped`);

describe.skipIf(!HAVE_SHARED_DC)('prometheus parsers over the real captures', () => {
  it('parses the old dcgm-exporter capture (", " label separators) and finds power and the mJ energy counter', async () => {
    const e = parseExposition(await shared('dcgm-exporter__metrics__2.0.13-2.1.1__single-gpu-idle__blog-capture.prom'));
    expect(e.badLines).toBe(0);
    const power = e.samples.find((s) => s.name === 'DCGM_FI_DEV_POWER_USAGE')!;
    expect(power.labels).toEqual({ gpu: '0', UUID: 'GPU-8c16e996-bd76-aa91-17e7-b48bcd0208ba', device: 'nvidia0' });
    expect(power.value).toBeCloseTo(23.528, 6);
    expect(e.samples.find((s) => s.name === 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION')!.value).toBe(31035686671);
    expect(e.type.DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION).toBe('counter');
    expect(e.help.DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION).toMatch(/in mJ/);
    const { devices } = devicesFromSeries(EXPORTERS.dcgm, EXPORTERS.dcgm.metrics[0]!, [{ labels: power.labels, latest: 31035686671 }]);
    expect(devices.map((d) => d.device)).toEqual([expect.objectContaining({ id: 'prometheus:0', index: 0, uuid: 'GPU-8c16e996-bd76-aa91-17e7-b48bcd0208ba', vendor: 'NVIDIA' })]);
  });
  it('parses the npu-exporter test exposition with explicit timestamps: 8 chips, power 0 W (a reading, not missing)', async () => {
    const e = parseExposition(await shared('npu-exporter__ascend-npu-exporter__collector-testdata__prometheus_metrics.txt'));
    expect(e.badLines).toBe(0);
    const power = e.samples.filter((s) => s.name === 'npu_chip_info_power');
    expect(power).toHaveLength(8);
    expect(power.every((p) => p.value === 0 && p.timestampMs === 1606402000)).toBe(true);
    const { devices } = devicesFromSeries(EXPORTERS.npu, EXPORTERS.npu.metrics[0]!, power.map((p) => ({ labels: p.labels, latest: p.value })));
    expect(devices.map((d) => d.device.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => `prometheus:${i}`));
    expect(devices[0]!.device.name).toBe('910Awn-Ascend-V1');
  });
  it('parses the AMD exporter sample (older upper-case labels) and picks gpu_power_usage when no energy or package power exists', async () => {
    const text = await shared('amd-device-metrics-exporter__tools-metricutil__metrics_mini.txt');
    const e = parseExposition(text);
    expect(e.badLines).toBe(0);
    const names = new Set(e.samples.map((s) => s.name));
    const pick = metricCandidates({ exporter: 'amd' }).find((c) => names.has(c.metric.name))!;
    expect(pick.metric.name).toBe('gpu_power_usage');
    const s = e.samples.find((x) => x.name === 'gpu_power_usage')!;
    const { devices } = devicesFromSeries(EXPORTERS.amd, pick.metric, [{ labels: s.labels, latest: s.value }]);
    expect(devices[0]!.device).toMatchObject({ id: 'prometheus:6699c0a8-4200-4242-037f-f97e6cae0f09', uuid: '6699c0a8-4200-4242-037f-f97e6cae0f09' });
    expect(s.value).toBe(41);
  });
  it('keeps Kepler power-supply series and leaves out the PowerControl series that would count the node twice', async () => {
    const e = parseExposition(await shared('kepler__platform-watts__EP-001-design-doc-example.prom'));
    const series = e.samples.filter((s) => s.name === 'kepler_platform_watts').map((s) => ({ labels: s.labels, latest: s.value }));
    expect(series).toHaveLength(3);
    const { devices, dropped } = devicesFromSeries(EXPORTERS.kepler, EXPORTERS.kepler.metrics[1]!, series);
    expect(devices.map((d) => d.device.id)).toEqual(['prometheus:PS1', 'prometheus:PS2']);
    expect(dropped.join()).toMatch(/PowerControl/);
    expect(EXPORTERS.kepler.scope).toBe('node');
  });
  it('parses the query_range example response from the Prometheus docs', async () => {
    const r = parseApiResponse(JSON.parse(await shared('prometheus__api-v1-query_range__response__prometheus-docs-example.json')));
    expect(r.resultType).toBe('matrix');
    expect(r.series).toHaveLength(2);
    expect(r.series[1]!.labels).toEqual({ __name__: 'up', job: 'node', instance: 'localhost:9091' });
    expect(r.series[1]!.points).toEqual([{ tS: 1435781430.781, value: 0 }, { tS: 1435781445.781, value: 0 }, { tS: 1435781460.781, value: 1 }]);
    expect(measureUpdatePeriods(r.series[0]!.points).scrapeMs).toBeCloseTo(15000, 6);
  });
  it('the default counters file lists power (W) and the energy counter (mJ) the driver reads', async () => {
    const csv = await shared('dcgm-exporter__etc__default-counters.csv');
    const rows = csv.split('\n').filter((l) => l.trim() && !l.startsWith('#')).map((l) => l.split(',').map((c) => c.trim()));
    const byName = new Map(rows.map((r) => [r[0], r]));
    expect(byName.get('DCGM_FI_DEV_POWER_USAGE')?.[2]).toMatch(/\(in W\)/);
    expect(byName.get('DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION')?.[1]).toBe('counter');
    expect(byName.get('DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION')?.[2]).toMatch(/\(in mJ\)/);
    for (const m of EXPORTERS.dcgm.metrics) expect(byName.has(m.name)).toBe(true);
  });
  it('every exposition capture parses without a bad line', async () => {
    for (const f of (await readdir(SHARED_DC)).filter((n) => /\.(prom|txt)$/.test(n) && /exporter|kepler/.test(n))) {
      const e = parseExposition(await shared(f));
      expect(e.badLines, f).toBe(0);
      expect(e.samples.length, f).toBeGreaterThan(0);
    }
  });
});

describe('prometheus parsers over our own fixtures', () => {
  it('two H100s, one with DCGM blank sentinels: energy near 2^63 and power 2^47 are unsupported, not readings', async () => {
    const e = parseExposition(await own('dcgm-exporter-2gpu.prom'));
    expect(e.badLines).toBe(0);
    const energy = e.samples.filter((s) => s.name === 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION');
    const power = e.samples.filter((s) => s.name === 'DCGM_FI_DEV_POWER_USAGE');
    const [eSpec, pSpec] = EXPORTERS.dcgm.metrics as [any, any];
    expect(energy.map((s) => isBlank(eSpec, s.value))).toEqual([false, true]);
    expect(power.map((s) => isBlank(pSpec, s.value))).toEqual([false, true]);
    const { devices, dropped } = devicesFromSeries(EXPORTERS.dcgm, eSpec, energy.map((s) => ({ labels: s.labels, latest: s.value })));
    expect(devices.map((d) => d.device)).toEqual([expect.objectContaining({ id: 'prometheus:0', name: 'NVIDIA H100 80GB HBM3', uuid: 'GPU-00000000-1111-2222-3333-444444444444' })]);
    expect(dropped[0]).toMatch(/unsupported/);
  });
  it('current AMD exporter labels: energy counter in µJ preferred over package power', async () => {
    const e = parseExposition(await own('amd-device-metrics-exporter.prom'));
    const names = new Set(e.samples.map((s) => s.name));
    const pick = metricCandidates({ exporter: 'amd' }).find((c) => names.has(c.metric.name))!;
    expect(pick.metric).toMatchObject({ name: 'gpu_energy_consumed', quantity: 'energy', scale: 1e-6 });
    const s = e.samples.filter((x) => x.name === 'gpu_energy_consumed');
    expect(s[0]!.value * pick.metric.scale).toBeCloseTo(32196608, 3);
    const { devices } = devicesFromSeries(EXPORTERS.amd, pick.metric, s.map((x) => ({ labels: x.labels, latest: x.value })));
    expect(devices.map((d) => [d.device.id, d.device.name])).toEqual([['prometheus:0', 'AMD Instinct MI300X'], ['prometheus:1', 'AMD Instinct MI300X']]);
  });
  it('npu-exporter with explicit timestamps and Kepler power supplies', async () => {
    const n = parseExposition(await own('npu-exporter-2npu.prom'));
    expect(n.samples.filter((s) => s.name === 'npu_chip_info_power').map((s) => [s.value, s.timestampMs])).toEqual([[93.5, 1700000000000], [91.2, 1700000000000]]);
    const k = parseExposition(await own('kepler-platform.prom'));
    const { devices } = devicesFromSeries(EXPORTERS.kepler, EXPORTERS.kepler.metrics[1]!, k.samples.map((s) => ({ labels: s.labels, latest: s.value })));
    expect(devices).toHaveLength(2);
    expect(devices.map((d) => d.device.kind)).toEqual(['node', 'node']);
  });
  it('query_range JSON: NaN is not a number to integrate; errors carry the server message', async () => {
    const r = parseApiResponse(JSON.parse(await own('query-range-power.json')));
    expect(r.series[1]!.points[1]!.value).toBeNaN();
    expect(isBlank(EXPORTERS.dcgm.metrics[1]!, NaN)).toBe(true);
    expect(() => parseApiResponse(JSON.parse(readFileSync(join(OWN, 'query-error.json'), 'utf8')))).toThrow(/bad_data.*parse error/);
  });
  it('series from several hosts get host-qualified device ids', () => {
    const { devices } = devicesFromSeries(EXPORTERS.dcgm, EXPORTERS.dcgm.metrics[1]!, [
      { labels: { gpu: '0', Hostname: 'a' }, latest: 100 }, { labels: { gpu: '0', Hostname: 'b' }, latest: 100 },
    ]);
    expect(devices.map((d) => d.device.id)).toEqual(['prometheus:a/0', 'prometheus:b/0']);
    expect(new Set(devices.map((d) => d.device.index)).size).toBe(2);
  });
  it('update periods: scrape spacing and value-change spacing (an exporter collecting slower than it is scraped)', () => {
    const pts = Array.from({ length: 31 }, (_, i) => ({ tS: i, value: Math.floor(i / 5) }));
    expect(measureUpdatePeriods(pts)).toEqual({ scrapeMs: 1000, changeMs: 5000 });
  });
  it('options: selectors, {host}, units, and clear refusals', () => {
    expect(normalizeSelector('{Hostname="{host}",job="dcgm"}', 'node7.cluster')).toBe('Hostname="node7",job="dcgm"');
    expect(parseSelectorEquals('Hostname="n1", job="x\\"y"')).toEqual({ Hostname: 'n1', job: 'x"y' });
    expect(() => parseSelectorEquals('Hostname=~"n.*"')).toThrow(/Prometheus server/);
    expect(() => metricCandidates({ metric: 'my_watts' })).toThrow(/unit=W/);
    expect(metricCandidates({ metric: 'my_mw', unit: 'mW' })[0]!.metric).toMatchObject({ quantity: 'power', scale: 1e-3 });
    expect(() => metricCandidates({ exporter: 'nope' })).toThrow(/dcgm, npu, amd, kepler/);
    expect(seriesKey({ __name__: 'x', b: '2', a: '1' })).toBe('a=1,b=2');
  });
  it('probe without a URL says what to pass; credentials in the URL are refused', async () => {
    const none = await prometheus.probe({ env: {}, options: {} });
    expect(none).toMatchObject({ state: 'unavailable', code: 'not-configured' });
    expect((none as any).reason).toMatch(/url=/);
    const creds = await prometheus.probe({ env: {}, options: { url: 'http://admin:secret@127.0.0.1:9090' } });
    expect((creds as any).reason).toMatch(/WATTBENCH_PROMETHEUS_USER/);
    expect((creds as any).reason).not.toMatch(/secret/);
  });
});

describe('prometheus direct scrape of an exporter (no server)', () => {
  let ex: Exporter;
  afterAll(async () => { await ex?.close(); });
  it('reads the dcgm-shaped page on a loop and integrates the trace within 1% (power) and exactly-ish (counter)', async () => {
    ex = await startExporter({
      '/metrics': { template: await own('dcgm-exporter-2gpu.prom'), powerMetric: 'DCGM_FI_DEV_POWER_USAGE', energyMetric: { name: 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', scale: 1e-3, integer: true } },
    });
    for (const [metric, field] of [['DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', 'energyJ'], ['DCGM_FI_DEV_POWER_USAGE', 'powerW']] as const) {
      const options = { scrape: `${ex.url}/metrics`, metric, 'collect-interval-ms': '100' };
      const probe = await prometheus.probe({ env: {}, options });
      expect(probe.state, JSON.stringify(probe)).toBe('ok');
      if (probe.state !== 'ok') return;
      // gpu 1 serves only blank sentinels: it is not a device
      expect(probe.devices.map((d) => d.id)).toEqual(['prometheus:0']);
      const clock = createRunClock();
      const samples: Sample[] = [];
      const ctrl = new AbortController();
      const s = await prometheus.start({ devices: probe.devices, intervalMs: 100, clock, signal: ctrl.signal, options, env: {}, probe, sink: { sample: (x) => samples.push(x), gap: () => {}, restarted: () => {}, note: () => {} } });
      await sleepMs(3000);
      await waitFor(() => samples.length > 10, 20_000, 'more than 10 scrapes'); // a loaded machine scrapes slower
      ctrl.abort();
      await s.stop();
      expect(samples.length).toBeGreaterThan(10);
      expect(samples.every((x) => x[field] !== undefined)).toBe(true);
      const a = samples[1]!.tS, b = samples[samples.length - 2]!.tS;
      const wallA = clock.anchorWallMs / 1000 + a, wallB = clock.anchorWallMs / 1000 + b;
      const want = ex.trace.energyJ(wallA - ex.t0WallMs / 1000, wallB - ex.t0WallMs / 1000);
      const got = field === 'energyJ'
        ? integrateCounter(samples.map((x) => ({ tS: x.tS, energyJ: x.energyJ! })), a, b).energyJ
        : integratePower(samples.map((x) => ({ tS: x.tS, powerW: x.powerW! })), a, b).energyJ;
      expect(Math.abs(got - want) / want, `${metric}: ${got} J vs ${want} J`).toBeLessThan(0.01);
    }
  });
});
