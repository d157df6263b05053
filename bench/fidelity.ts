// The fidelity simulation as tables: ground-truth power traces through each sensor model, integrated by the
// harness's own analysis (analyse.ts: methodFor's choice and correction) and naively (polled once a second,
// trapezoid, no correction), against the exact energy. The cases are tests/fidelity/cases.ts; the tests hold the
// targets. Run: node --import tsx bench/fidelity.ts [--full]
import { existsSync } from 'node:fs';
import { NVIDIA_FIXTURES, SENSORS, realTraces, runCase, syntheticTraces, type CaseSummary, type TraceCase } from '../tests/fidelity/cases.js';

const full = process.argv.includes('--full');
const t0 = performance.now();
const traces: TraceCase[] = [...syntheticTraces(), ...realTraces()];
const windowsFor = (tc: TraceCase) => (tc.source ? [10, 30, 60] : [10, 30]);
const cases: CaseSummary[] = [];
for (const tc of traces) for (const w of windowsFor(tc)) for (const s of SENSORS) { const c = runCase(s, tc, w); if (c) cases.push(c); }

// traces grouped as in the issue: constant, steps, bursts 10–500 ms (irregular; strictly periodic), the real logs
const groupOf = (tc: TraceCase) => (tc.id.endsWith('-irregular') ? 'bursts 10–500 ms, irregular' : tc.id.endsWith('-periodic') ? 'bursts 10–500 ms, strictly periodic' : tc.id === 'bursts-100ms-jitter10' ? 'bursts 100 ms ± 10% (nearly locked)' : tc.source ? `H100 log: ${tc.id}` : tc.id);
const pct = (x: number) => (x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));

console.log(`Sensors (harness poll interval):`);
for (const s of SENSORS) console.log(`- ${s.id}: ${s.title} (${s.harnessIntervalMs} ms)`);
console.log(`\nEach cell: the largest |energy error| % over ${cases[0]!.trials.length} trials (window starts × sensor and poll phases) — harness method / naive (1 s polls, no correction).\n`);
const groups = [...new Set(cases.map((c) => `${groupOf(c.trace)}|${c.windowS}`))];
console.log(`| trace | window | ${SENSORS.map((s) => s.id).join(' | ')} |`);
console.log(`|---|---|${SENSORS.map(() => '---').join('|')}|`);
for (const g of groups) {
  const [name, w] = g.split('|');
  const cells = SENSORS.map((s) => {
    const mine = cases.filter((c) => c.sensor.id === s.id && `${groupOf(c.trace)}|${c.windowS}` === g);
    if (!mine.length) return '–';
    return `${pct(Math.max(...mine.map((c) => c.maxHarnessPct)))} / ${pct(Math.max(...mine.map((c) => c.maxNaivePct)))}`;
  });
  console.log(`| ${name} | ${w} s | ${cells.join(' | ')} |`);
}

console.log(`\nStated bound (result.fidelity.energyErrorBoundPct) against the error it bounds, per sensor:\n`);
console.log('| sensor | trials | within bound (loads not locked to the sensor) | within the stated worst case (locked loads) | bound at 10 s (median) | bound at 30 s (median) | grades |');
console.log('|---|---|---|---|---|---|---|');
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1] ?? NaN; };
for (const s of SENSORS) {
  const mine = cases.filter((c) => c.sensor.id === s.id);
  const free = mine.filter((c) => !c.trace.locked), locked = mine.filter((c) => c.trace.locked);
  const n = (cs: CaseSummary[]) => cs.reduce((a, c) => a + c.trials.length, 0);
  const inside = (cs: CaseSummary[], k: 'outside' | 'outsideWorst') => n(cs) - cs.reduce((a, c) => a + c[k], 0);
  const bounds = (w: number) => mine.filter((c) => c.windowS === w).flatMap((c) => c.trials.map((t) => t.boundPct ?? Infinity));
  const grades = [...new Set(mine.flatMap((c) => c.trials.map((t) => t.fidelity.grade)))].sort().join(', ');
  console.log(`| ${s.id} | ${n(mine)} | ${inside(free, 'outside')}/${n(free)} | ${inside(locked, 'outsideWorst')}/${n(locked)} | ${pct(median(bounds(10)))}% | ${pct(median(bounds(30)))}% | ${grades} |`);
}

if (full) {
  console.log('\nEvery case:\n');
  console.log('| trace | window | sensor | method | harness max |err| % | naive max |err| % | bound % (min–max) | outside bound | outside worst case |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const c of cases) console.log(`| ${c.trace.id} | ${c.windowS} s | ${c.sensor.id} | ${c.trials[0]!.method} | ${pct(c.maxHarnessPct)} | ${pct(c.maxNaivePct)} | ${pct(c.minBoundPct)}–${pct(c.maxBoundPct)} | ${c.outside} | ${c.outsideWorst} |`);
}
if (!existsSync(NVIDIA_FIXTURES)) console.log(`\nnote: ${NVIDIA_FIXTURES} is absent; the real H100 traces were skipped.`);
console.log(`\n${cases.length} cases, ${cases.reduce((a, c) => a + c.trials.length, 0)} simulated measurements in ${((performance.now() - t0) / 1000).toFixed(1)} s.`);
