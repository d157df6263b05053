// Micro-benchmarks of the harness's own arithmetic (tinybench): energy integration and the whole analysis of an
// hour-long, 8-device run sampled at 100 ms. Prints a table; run with `node --import tsx bench/energy.ts`.
import { Bench } from 'tinybench';
import { integratePower, integrateCounter } from '../harness/energy.js';
import { analyse } from '../harness/analyse.js';
import type { Sample } from '../results/samples.js';

const HOUR_S = 3600, DT = 0.1, DEVICES = 8;
const power = Array.from({ length: HOUR_S / DT }, (_, i) => ({ tS: i * DT, powerW: 300 + 100 * Math.sin(i / 50) }));
let acc = 0;
const counter = power.map((p) => ({ tS: p.tS, energyJ: (acc += p.powerW * DT) }));
const samples: Sample[] = [];
for (let d = 0; d < DEVICES; d++) for (const p of power) samples.push({ tS: p.tS, sourceId: 'bench', deviceId: `bench:${d}`, powerW: p.powerW });
const devices = Array.from({ length: DEVICES }, (_, d) => ({ id: `bench:${d}`, index: d, vendor: 'bench', name: 'bench' }));
const reps = Array.from({ length: 10 }, (_, i) => ({
  index: i, status: 'ok' as const, phases: [{ phase: 'window' as const, startS: 60 + i * 340, endS: 360 + i * 340 }],
  window: { startS: 60 + i * 340, endS: 360 + i * 340 }, tokens: { total: 1_000_000 }, metrics: [], protocolErrors: 0, truncatedLines: 0,
}));

const bench = new Bench({ time: 500, iterations: 5, warmupIterations: 1 });
bench
  .add('integratePower, 36k samples, 1 h window', () => { integratePower(power, 10.05, 3590.05); })
  .add('integrateCounter, 36k samples, 1 h window', () => { integrateCounter(counter, 10.05, 3590.05); })
  .add(`analyse, ${DEVICES} devices × 36k samples, 10 repetitions`, () => {
    analyse({ source: { id: 'bench', scope: 'device', semantics: { kind: 'instantaneous', updatePeriodMs: 100 }, deviceIds: devices.map((d) => d.id), requestedIntervalMs: 100, restarts: 0, gaps: [] },
      devices, samples, idle: { startS: 0, endS: 50 }, repetitions: reps, interrupted: false, repetitionsRequested: 10 });
  });
await bench.run();
console.log('| task | mean (ms) | ± rme | samples |\n|---|---|---|---|');
for (const t of bench.tasks) {
  const r = t.result as unknown as { latency?: { mean: number; rme: number; samples?: number[] }; mean?: number; rme?: number; samples?: number[] } | undefined;
  const mean = r?.latency?.mean ?? r?.mean ?? NaN;
  const rme = r?.latency?.rme ?? r?.rme ?? NaN;
  const n = (r?.latency as { samplesCount?: number } | undefined)?.samplesCount ?? r?.latency?.samples?.length ?? r?.samples?.length ?? 0;
  console.log(`| ${t.name} | ${mean.toFixed(3)} | ${rme.toFixed(1)}% | ${n} |`);
}
