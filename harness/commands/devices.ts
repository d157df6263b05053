// `wattbench devices`: what this machine has, and which power source works here. Every registered driver is
// probed (the list comes from drivers/index.ts, so a new vendor shows up by itself); a source that does not work
// says why — not installed, permission denied, no power field ("no power sensor through this CLI"), never 0 W.
import type { Command } from './command.js';
import { parseFlags } from './command.js';
import { probeAll, splitSourceOptions, checkSourceOptions } from '../sources.js';
import { DRIVERS } from '../../drivers/index.js';
import type { ProbeResult, UnavailableCode } from '../../drivers/driver.js';
import type { Device } from '../../results/types.gen.js';
import { EXIT, badInput } from '../../lib/errors.js';

export const options = {
  json: { type: 'boolean' }, 'source-opt': { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' },
} as const;

const usage = `wattbench devices [--json] [--source-opt K=V | --source-opt SOURCE.K=V ...]

List the accelerators found and every power source wattbench knows, best first: whether it works here and, if
not, why. --source-opt K=V is given to every source (e.g. path=...); SOURCE.K=V only to that one
(e.g. nvidia-smi.path=/opt/nvidia/bin/nvidia-smi, replay.file=trace.csv). --json prints one JSON document.`;

export const STATE_LABEL: Record<UnavailableCode | 'ok', string> = {
  ok: 'works',
  'not-installed': 'not installed',
  'permission-denied': 'permission denied',
  'no-power-field': 'no power field',
  'no-devices': 'no devices',
  'not-configured': 'not configured',
  error: 'error',
};

/**
 * --source-opt values as options per source: K=V for every source, SOURCE.K=V for that one (sources.ts parses).
 * A key no source takes (K=V) or that source does not take (SOURCE.K=V) is refused, as in every other command: a
 * typo would otherwise list the sources as if the option had been tried.
 */
export function sourceOptions(items: string[] | undefined): (id: string) => Record<string, string> {
  const { common, scoped } = splitSourceOptions(items);
  for (const [id, o] of scoped) checkSourceOptions(id, o, (k) => `--source-opt ${id}.${k}`);
  const declared = new Set(Object.values(DRIVERS).flatMap((d) => Object.keys(d.meta.options ?? {})));
  const unknown = Object.keys(common).find((k) => !declared.has(k));
  if (unknown !== undefined) throw badInput('BAD_OPTION', `--source-opt ${unknown}=…: no power source has an option '${unknown}'`, 'check the spelling; the README\'s source tables list each source\'s options, and SOURCE.KEY=VALUE for one source is answered with the keys it takes');
  return (id) => ({ ...common, ...(scoped.get(id) ?? {}) });
}

export interface SourceReport {
  id: string;
  title: string;
  vendor: string;
  scope: string;
  priority: number;
  state: 'ok' | 'unavailable';
  label: string;
  code?: UnavailableCode;
  reason?: string;
  devices?: Device[];
  semantics?: Extract<ProbeResult, { state: 'ok' }>['semantics'];
  note?: string;
  chosen?: boolean;
}

function describeOk(r: Extract<ProbeResult, { state: 'ok' }>): string {
  const s = r.semantics;
  const parts = [`${r.devices.length} device${r.devices.length === 1 ? '' : 's'}`, `${s.kind}${s.field ? ` (${s.field})` : ''}`];
  // periods derived from a trace's time steps carry float noise (100.00000000000142): one decimal is enough
  if (s.averagingWindowMs) parts.push(`${+s.averagingWindowMs.toFixed(1)} ms average`);
  // an estimate is computed at each reading from CPU time the kernel counts in ticks: the tick is its resolution,
  // not a sensor that refreshes on its own
  if (s.updatePeriodMs) parts.push(s.kind === 'estimated' ? `CPU time in ${+s.updatePeriodMs.toFixed(1)} ms ticks` : `updates every ${+s.updatePeriodMs.toFixed(1)} ms`);
  return parts.join(', ');
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `  ${r.map((c, i) => (i === r.length - 1 ? c : pad(c, w[i]!))).join('  ')}`.trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

export const devices: Command = {
  name: 'devices', summary: 'list accelerators and whether each power source works here', usage,
  async run(argv, io) {
    const { values: f, positionals } = parseFlags(argv, options, 'devices');
    if (f.help) { io.stdout.write(usage + '\n'); return EXIT.OK; }
    if (positionals.length) throw badInput('BAD_FLAG', `devices takes no arguments, got '${positionals[0]}'`, 'run `wattbench devices` (options: --json, --source-opt K=V)');
    const optionsFor = sourceOptions(f['source-opt']);
    const probed = await probeAll(io.env, optionsFor);
    const reports: SourceReport[] = probed.map(({ driver, result }) => {
      const m = driver.meta;
      const base = { id: m.id, title: m.title, vendor: m.vendor, scope: m.scope, priority: m.priority };
      return result.state === 'ok'
        ? { ...base, state: 'ok' as const, label: STATE_LABEL.ok, devices: result.devices, semantics: result.semantics, ...(result.note ? { note: result.note } : {}) }
        : { ...base, state: 'unavailable' as const, label: STATE_LABEL[result.code] ?? result.code, code: result.code, reason: result.reason };
    }).sort((a, b) => b.priority - a.priority || a.id.localeCompare(b.id));
    const best = reports.find((r) => r.state === 'ok');
    if (best) best.chosen = true;
    const accelerators = reports.flatMap((r) => (r.devices ?? []).filter((d) => d.kind === 'accelerator').map((d) => ({ source: r.id, ...d })));

    if (f.json) {
      io.stdout.write(JSON.stringify({ accelerators, sources: reports, chosen: best?.id ?? null }, null, 2) + '\n');
      return EXIT.OK;
    }
    const out: string[] = [];
    out.push(accelerators.length ? 'Accelerators' : 'Accelerators: none found through any power source');
    if (accelerators.length) {
      out.push(table(['SOURCE', 'INDEX', 'NAME', 'MEMORY', 'POWER LIMIT', 'BUS ID', 'PARTITION'], accelerators.map((d) => [
        d.source, String(d.index ?? ''), d.name, d.memoryMiB !== undefined ? `${Math.round(d.memoryMiB)} MiB` : '-',
        d.powerLimitW !== undefined ? `${d.powerLimitW} W` : '-', d.busId ?? '-', d.partition ?? '-',
      ])));
    }
    out.push('', 'Power sources (best first)');
    out.push(table(['SOURCE', 'PRIORITY', 'SCOPE', 'STATE', 'DETAILS'], reports.map((r) => [
      r.id, String(r.priority), r.scope, r.label,
      r.state === 'ok' ? `${describeOk(probed.find((p) => p.driver.meta.id === r.id)!.result as Extract<ProbeResult, { state: 'ok' }>)}${r.chosen ? '  ← used by default' : ''}${r.note ? ` — ${r.note}` : ''}` : r.reason ?? '',
    ])));
    if (!best) out.push('', 'No power source works here: `wattbench run --source replay --source-opt file=TRACE.csv` measures a recorded trace.');
    io.stdout.write(out.join('\n') + '\n');
    return EXIT.OK;
  },
};
