// The report's pure parts: Pareto front, series reduction for drawing, escaping for Markdown and CSV, number
// formatting, baseline matching, and reading raw samples (power and energy-counter logs, missing files).
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { paretoFront, reduceSeries } from '../../reports/charts.js';
import { csvCell, fmtNum, fmtRatio, mdEscape, mdFence } from '../../reports/format.js';
import { readPowerTrace } from '../../reports/trace.js';
import { matchBaseline, type RunView } from '../../reports/model.js';
import { tempDir } from '../helpers/cli.js';

describe('paretoFront', () => {
  it('keeps exactly the points no other point dominates (brute force agrees)', () => {
    const pt = fc.record({ powerW: fc.integer({ min: 0, max: 50 }), tokensPerS: fc.integer({ min: 0, max: 50 }) });
    fc.assert(fc.property(fc.array(pt, { maxLength: 40 }), (pts) => {
      const front = paretoFront(pts);
      const dominated = (p: { powerW: number; tokensPerS: number }) => pts.some((q) => q.powerW <= p.powerW && q.tokensPerS >= p.tokensPerS && (q.powerW < p.powerW || q.tokensPerS > p.tokensPerS));
      // every front point is undominated; every undominated point has its (power, throughput) on the front
      for (const p of front) expect(dominated(p)).toBe(false);
      const key = (p: { powerW: number; tokensPerS: number }) => `${p.powerW}/${p.tokensPerS}`;
      const onFront = new Set(front.map(key));
      for (const p of pts) if (!dominated(p)) expect(onFront.has(key(p))).toBe(true);
      // sorted by power, throughput rising along it
      for (let i = 1; i < front.length; i++) {
        expect(front[i]!.powerW).toBeGreaterThan(front[i - 1]!.powerW);
        expect(front[i]!.tokensPerS).toBeGreaterThan(front[i - 1]!.tokensPerS);
      }
    }));
  });
});

describe('reduceSeries', () => {
  it('bounds the point count and keeps first, last, minimum and maximum, in time order', () => {
    fc.assert(fc.property(fc.array(fc.double({ min: 0, max: 1000, noNaN: true }), { minLength: 1, maxLength: 5000 }), fc.integer({ min: 8, max: 400 }), (power, max) => {
      const t = power.map((_, i) => i * 0.01);
      const r = reduceSeries(t, power, max);
      expect(r.tS.length).toBe(r.powerW.length);
      expect(r.tS.length).toBeLessThanOrEqual(Math.max(max, power.length <= max ? power.length : 0) + 3);
      expect(r.tS[0]).toBe(t[0]);
      expect(r.tS[r.tS.length - 1]).toBe(t[t.length - 1]);
      expect(Math.max(...r.powerW)).toBe(Math.max(...power));
      expect(Math.min(...r.powerW)).toBe(Math.min(...power));
      for (let i = 1; i < r.tS.length; i++) expect(r.tS[i]!).toBeGreaterThan(r.tS[i - 1]!);
    }), { numRuns: 60 });
  });
});

describe('escaping', () => {
  it('mdEscape leaves no markup, no table break and no line break in a name', () => {
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom('<', '>', '|', '\n', '\r', '`', '*', '_', '[', ']', '#', '~', '\\', '&', 'a', ' ', '"', "'") }), (s) => {
      const e = mdEscape(s);
      expect(e).not.toMatch(/[<>\n\r]/);
      // every pipe, backtick and bracket is preceded by an odd run of backslashes (escaped)
      for (const m of e.matchAll(/(\\*)([|`*_[\]#~])/g)) expect(m[1]!.length % 2).toBe(1);
    }));
    expect(mdEscape('Chip <script>alert(1)</script> | x')).toBe('Chip &lt;script&gt;alert(1)&lt;/script&gt; \\| x');
  });

  it('mdFence is longer than any backtick run in the text', () => {
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom('`', 'a', '\n') }), (s) => {
      const f = mdFence(s);
      expect(f.length).toBeGreaterThanOrEqual(3);
      expect(s.includes(f)).toBe(false);
    }));
  });

  it('csvCell round-trips through RFC 4180 quoting and defuses formula starts', () => {
    const unquote = (c: string) => (c.startsWith('"') ? c.slice(1, -1).replace(/""/g, '"') : c);
    fc.assert(fc.property(fc.string(), (s) => {
      const c = csvCell(s);
      const back = unquote(c);
      expect(back).toBe(/^[=+\-@\t\r]/.test(s) ? `'${s}` : s);
      if (/[",\n\r]/.test(back)) expect(c.startsWith('"')).toBe(true);
    }));
    expect(csvCell(-1.5)).toBe('-1.5');
    expect(csvCell(Number.NaN)).toBe('');
    expect(csvCell(null)).toBe('');
    expect(csvCell('-1+1')).toBe("'-1+1");
  });
});

describe('formatting', () => {
  it('three significant figures, grouping for large values, a dash for no number', () => {
    expect(fmtNum(0.0012345)).toBe('0.00123');
    expect(fmtNum(12.345)).toBe('12.3');
    expect(fmtNum(123456.7)).toBe('123,457');
    expect(fmtNum(null)).toBe('–');
    expect(fmtNum(Number.POSITIVE_INFINITY)).toBe('–');
    expect(fmtRatio(1.234)).toBe('×1.23');
    expect(fmtRatio(12.34)).toBe('×12.3');
    expect(fmtRatio(null)).toBe('–');
  });
});

describe('matchBaseline', () => {
  const B = { key: 'device|B|meas', scope: 'device', grade: 'B', estimated: false };
  const A = { key: 'device|A|meas', scope: 'device', grade: 'A', estimated: false };
  const run = (label: string, name: string, key: string, basis = B) => ({ chipLabel: label, deviceName: name, chipKey: key, basis, rowKey: `${key}|${basis.key}` }) as unknown as RunView;
  const runs = [run('H100 ×8 · 700 W', 'H100', 'a'), run('H100 ×8 · 400 W', 'H100', 'b'), run('MI300X ×8 · 750 W', 'MI300X', 'c')];
  it('takes an exact row name, chip label or device name first, then a unique part of a row name', () => {
    expect(matchBaseline(runs, 'h100 ×8 · 400 w')).toEqual({ ok: true, rowKey: 'b|device|B|meas' });
    expect(matchBaseline(runs, 'MI300X')).toEqual({ ok: true, rowKey: 'c|device|B|meas' });
    expect(matchBaseline(runs, '700')).toEqual({ ok: true, rowKey: 'a|device|B|meas' });
    expect(matchBaseline(runs, 'H100 ×8 · 700 W (device scope, grade B)')).toEqual({ ok: true, rowKey: 'a|device|B|meas' });
  });
  it('refuses a name that fits several rows, whatever the input order, listing their full names', () => {
    const dev = matchBaseline(runs, 'H100'); // one device at two power limits
    expect(dev).toMatchObject({ ok: false, reason: "'H100' is the device of 2 rows", chips: ['H100 ×8 · 700 W (device scope, grade B)', 'H100 ×8 · 400 W (device scope, grade B)'] });
    const amb = matchBaseline(runs, '×8');
    expect(amb.ok).toBe(false);
    if (!amb.ok) expect(amb.chips).toHaveLength(3);
    // one chip on two bases: the chip label is ambiguous in either order; the full row name picks each
    const two = [run('Beta ×1 · 400 W', 'Beta', 'x', A), run('Beta ×1 · 400 W', 'Beta', 'x', B)];
    for (const order of [two, [...two].reverse()]) {
      expect(matchBaseline(order, 'Beta ×1 · 400 W')).toMatchObject({ ok: false, reason: "'Beta ×1 · 400 W' is the chip of 2 rows" });
      expect(matchBaseline(order, 'Beta ×1 · 400 W (device scope, grade A)')).toEqual({ ok: true, rowKey: 'x|device|A|meas' });
      expect(matchBaseline(order, 'grade b')).toEqual({ ok: true, rowKey: 'x|device|B|meas' });
    }
    const none = matchBaseline(runs, 'Gaudi');
    expect(none).toMatchObject({ ok: false, reason: "no chip matches 'Gaudi'" });
  });
});

describe('readPowerTrace', () => {
  it('reads power samples per device and skips events, phases and a line cut by a crash', async () => {
    const dir = await tempDir('wb-trace-');
    const lines = [
      { type: 'phase', tS: 0, phase: 'idle' },
      { type: 'sample', tS: 0.1, sourceId: 's', deviceId: 'd:1', powerW: 50 },
      { type: 'sample', tS: 0.1, sourceId: 's', deviceId: 'd:0', powerW: 100 },
      { type: 'event', tS: 0.15, repetition: 0, event: 'window_start' },
      { type: 'sample', tS: 0.2, sourceId: 's', deviceId: 'd:0', powerW: 120 },
    ].map((x) => JSON.stringify(x));
    await writeFile(join(dir, 'r.samples.jsonl'), lines.join('\n') + '\n{"type":"sample","tS":0.3,"dev');
    const t = await readPowerTrace(join(dir, 'r.json'), 'r.samples.jsonl');
    expect(t.state).toBe('ok');
    if (t.state !== 'ok') return;
    expect(t.trace.sampleCount).toBe(3);
    expect(t.trace.devices.map((d) => [d.deviceId, d.tS, d.powerW])).toEqual([['d:0', [0.1, 0.2], [100, 120]], ['d:1', [0.1], [50]]]);
  });

  it('derives power from an energy-counter log (ΔE/Δt), skipping a counter reset', async () => {
    const dir = await tempDir('wb-trace-');
    const pts = [[0, 1000], [1, 1300], [2, 1500], [3, 10], [4, 260]];
    await writeFile(join(dir, 'e.samples.jsonl'), pts.map(([t, e]) => JSON.stringify({ type: 'sample', tS: t, sourceId: 'c', deviceId: 'c:0', energyJ: e })).join('\n'));
    const t = await readPowerTrace(join(dir, 'e.json'), 'e.samples.jsonl');
    if (t.state !== 'ok') throw new Error(t.reason);
    expect(t.trace.devices[0]!.powerW).toEqual([300, 200, 250]);
    expect(t.trace.devices[0]!.tS).toEqual([0.5, 1.5, 3.5]);
  });

  it('says why when there is nothing to draw', async () => {
    const dir = await tempDir('wb-trace-');
    await mkdir(join(dir, 'adir.jsonl'));
    await writeFile(join(dir, 'empty.jsonl'), '{"type":"phase","tS":0,"phase":"idle"}\n');
    expect(await readPowerTrace(join(dir, 'r.json'), 'missing.jsonl')).toMatchObject({ state: 'missing', reason: expect.stringMatching(/was not found next to the result/) });
    expect(await readPowerTrace(join(dir, 'r.json'), 'adir.jsonl')).toMatchObject({ state: 'missing', reason: expect.stringMatching(/not a regular file/) });
    expect(await readPowerTrace(join(dir, 'r.json'), 'empty.jsonl')).toMatchObject({ state: 'missing', reason: expect.stringMatching(/holds no power readings/) });
    expect(await readPowerTrace(join(dir, 'r.json'), '/etc/passwd')).toMatchObject({ state: 'missing', reason: expect.stringMatching(/absolute path/) });
  });
});
