// npu-smi: Huawei Ascend NPUs (910B, Atlas A3 / 910C). npu-smi has no loop flag and no energy counter, so the
// driver polls `npu-smi info` (one call reads every card) and integrates the power readings.
//
// The table (FORMATS.md §3) has two rows per chip: `| NPU Name | Health | Power(W) Temp(C) Hugepages |` and
// `| Chip [Phy-ID] | Bus-Id | AICore(%) Memory-Usage(MB) HBM-Usage(MB) |`. A 910B card is one chip. An Atlas A3
// card has two dies, and prints the card's power on chip 0 only; chip 1 shows `-`. The card's power is the chip-0
// number — never the sum of the two, and `-` is no reading, not 0 W. A workload on either die (or both) is charged
// the card once, recorded under the first of its dies that the workload uses.
import type { Driver, ProbeResult } from './driver.js';
import { isMissing, parseNumber } from './driver.js';
import type { Device, Semantics } from '../results/types.gen.js';
import type { Sample } from '../results/samples.js';
import { findOnPath, runCommand, type ProcessResult } from '../lib/process.js';
import { supervisePoll, type Supervised } from '../lib/supervise.js';

export interface NpuChip {
  npuId: number;
  name: string;
  health: string;
  chipId: number;
  /** Atlas A3 tables print the physical id beside the chip id. */
  phyId?: number;
  busId?: string;
  powerW?: number;
  temperatureC?: number;
  aicorePct?: number;
  memoryUsedMiB?: number;
  memoryTotalMiB?: number;
  hbmUsedMiB?: number;
  hbmTotalMiB?: number;
}

export interface NpuInfo { version?: string; chips: NpuChip[] }

/** A table cell's number; `-`, `NA`, `N/A` and friends are no reading (undefined), never 0. */
const num = (t: string | undefined) => (t === undefined || isMissing(t) ? undefined : parseNumber(t));

function splitUsage(cell: string): { prefix: string[]; pairs: Array<[number, number]> } {
  // 5-digit numbers eat the space before the slash ("60478/ 65536"): split on the slash, spaces optional
  const pairs: Array<[number, number]> = [];
  const re = /(\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)/g;
  let first = -1;
  for (let m = re.exec(cell); m; m = re.exec(cell)) { if (first < 0) first = m.index; pairs.push([Number(m[1]), Number(m[2])]); }
  const prefix = (first < 0 ? cell : cell.slice(0, first)).trim().split(/\s+/).filter(Boolean);
  return { prefix, pairs };
}

/** `npu-smi info`: the chip table (both the 98-column and the wider 26.x layout); the process table is skipped. */
export function parseNpuSmiInfo(text: string): NpuInfo {
  const info: NpuInfo = { chips: [] };
  let pending: { npuId: number; name: string; health: string; powerW?: number; temperatureC?: number } | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '').trimEnd();
    if (!line.startsWith('|')) { pending = line.startsWith('+') ? pending : undefined; continue; }
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (cells.length === 1) {
      const v = /npu-smi\s+(\S+)/.exec(cells[0]!);
      if (v) info.version = v[1];
      continue;
    }
    if (cells.length !== 3) { pending = undefined; continue; } // process-table rows have 4 cells
    const [c1, c2, c3] = cells as [string, string, string];
    const first = /^(\d+)(?:\s+(.*))?$/.exec(c1);
    if (!first) continue; // header rows
    const rest = (first[2] ?? '').trim();
    const isChipRow = rest === '' || /^(\d+|NA|-)$/.test(rest);
    if (!isChipRow) {
      const { prefix } = splitUsage(c3);
      pending = { npuId: Number(first[1]), name: rest, health: c2, powerW: num(prefix[0]), temperatureC: num(prefix[1]) };
      continue;
    }
    if (!pending) continue;
    const { prefix, pairs } = splitUsage(c3);
    const chip: NpuChip = { npuId: pending.npuId, name: pending.name, health: pending.health, chipId: Number(first[1]) };
    const phy = rest === '' ? undefined : num(rest);
    if (phy !== undefined) chip.phyId = phy;
    if (!isMissing(c2)) chip.busId = c2;
    if (pending.powerW !== undefined) chip.powerW = pending.powerW;
    if (pending.temperatureC !== undefined) chip.temperatureC = pending.temperatureC;
    const ai = num(prefix[0]); if (ai !== undefined) chip.aicorePct = ai;
    if (pairs[0]) { chip.memoryUsedMiB = pairs[0][0]; chip.memoryTotalMiB = pairs[0][1]; }
    if (pairs[1]) { chip.hbmUsedMiB = pairs[1][0]; chip.hbmTotalMiB = pairs[1][1]; }
    info.chips.push(chip);
    pending = undefined;
  }
  return info;
}

/** `npu-smi info -t power|usages|… -i N [-c C]`: `Label   : value` lines in order (labels repeat across chips). */
export function parseNpuSmiKeyValues(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const raw of text.split('\n')) {
    const m = /^\s*([^:]*\S)\s+:\s*(.*?)\s*$/.exec(raw.replace(/\r$/, ''));
    if (m) out.push([m[1]!, m[2]!]);
  }
  return out;
}

/**
 * The power in a `-t power` answer: the chip's `NPU Real-time Power(W)`, else the card's `Power Dissipation(W)`.
 * `NA` is no reading.
 */
export function powerFromKeyValues(pairs: Array<[string, string]>): { powerW?: number; label?: string } {
  for (const label of ['NPU Real-time Power(W)', 'Power Dissipation(W)']) {
    const hit = pairs.find(([k]) => k === label);
    if (hit) { const v = num(hit[1]); return v === undefined ? { label } : { powerW: v, label }; }
  }
  return {};
}

export interface NpuMapRow { npuId: number; chipId: number; logicId?: number; phyId?: number; name: string }

/** `npu-smi info -m`: NPU ID, Chip ID, Chip Logic ID, [Chip Phy-ID,] Chip Name (names may hold spaces; `-` for the MCU). */
export function parseNpuSmiMap(text: string): NpuMapRow[] {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, '').trim()).filter(Boolean);
  const hi = lines.findIndex((l) => /NPU ID\s+Chip ID\s+Chip Logic ID/.test(l));
  if (hi < 0) return [];
  const hasPhy = /Chip Phy-ID/.test(lines[hi]!);
  const out: NpuMapRow[] = [];
  for (const l of lines.slice(hi + 1)) {
    const t = l.split(/\s+/);
    if (t.length < (hasPhy ? 5 : 4) || !/^\d+$/.test(t[0]!) || !/^\d+$/.test(t[1]!)) continue;
    const row: NpuMapRow = { npuId: Number(t[0]), chipId: Number(t[1]), name: t.slice(hasPhy ? 4 : 3).join(' ') };
    const logic = num(t[2]); if (logic !== undefined) row.logicId = logic;
    if (hasPhy) { const phy = num(t[3]); if (phy !== undefined) row.phyId = phy; }
    out.push(row);
  }
  return out;
}

// ───────────────────────────── probe ─────────────────────────────

export interface NpuCardPlan { npuId: number; chipId: number; members: number[] }
export interface NpuPrivate { exe: string; cards: NpuCardPlan[]; query: 'table' | 'power' }

const PROBE_TIMEOUT_MS = 20_000;

function failure(r: ProcessResult): Extract<ProbeResult, { state: 'unavailable' }> {
  const out = `${r.stdout}\n${r.stderr}`;
  const tail = out.trim().split('\n').filter((l) => l.trim()).pop()?.trim().slice(0, 200) ?? '';
  if (r.spawnError?.code === 'EACCES' || /permission denied|not permitted|authority/i.test(out)) return { state: 'unavailable', code: 'permission-denied', reason: `npu-smi: permission denied (${tail}) — run as root or as a user in the HwHiAiUser group` };
  if (r.spawnError) return { state: 'unavailable', code: 'not-installed', reason: `npu-smi could not start (${r.spawnError.code})` };
  if (/dcmi model initialized failed|device not found|no npu/i.test(out)) return { state: 'unavailable', code: 'no-devices', reason: `npu-smi found no NPU (${tail}) — is the Ascend driver loaded?` };
  return { state: 'unavailable', code: 'error', reason: `npu-smi info failed${r.timedOut ? ' (timed out)' : ` (exit ${r.exitCode})`}: ${tail || 'no output'}` };
}

/** Device index = the chip logic id (what ASCEND_RT_VISIBLE_DEVICES takes), else the A3 Phy-ID, else table order. */
export function npuDevices(info: NpuInfo, map: NpuMapRow[]): Array<{ chip: NpuChip; index: number }> {
  return info.chips.map((chip, i) => {
    const m = map.find((r) => r.npuId === chip.npuId && r.chipId === chip.chipId);
    return { chip, index: m?.logicId ?? chip.phyId ?? i };
  });
}

/** One plan per card: which chip carries the card's power (the first with a reading), and the card's devices. */
export function npuCards(devs: Array<{ chip: NpuChip; index: number }>): Array<NpuCardPlan & { measured: boolean }> {
  const byCard = new Map<number, Array<{ chip: NpuChip; index: number }>>();
  for (const d of devs) (byCard.get(d.chip.npuId) ?? byCard.set(d.chip.npuId, []).get(d.chip.npuId)!).push(d);
  return [...byCard.entries()].map(([npuId, ds]) => {
    const withPower = ds.find((d) => d.chip.powerW !== undefined);
    return { npuId, chipId: (withPower ?? ds[0]!).chip.chipId, members: ds.map((d) => d.index).sort((a, b) => a - b), measured: !!withPower };
  });
}

export async function probeNpu(env: NodeJS.ProcessEnv, options: Record<string, string>, signal?: AbortSignal): Promise<ProbeResult> {
  const exe = options.path ?? (await findOnPath('npu-smi', env.PATH ?? ''));
  if (!exe) return { state: 'unavailable', code: 'not-installed', reason: 'npu-smi is not on PATH — install the Ascend driver (npu-smi lives in /usr/local/sbin), or point at it: --source npu-smi --source-opt path=/usr/local/sbin/npu-smi' };
  const query = (options.query ?? 'table') as NpuPrivate['query'];
  if (query !== 'table' && query !== 'power') return { state: 'unavailable', code: 'not-configured', reason: `query must be table or power, got '${options.query}'` };
  const r = await runCommand(exe, ['info'], { env: env as Record<string, string>, extendEnv: false, timeoutMs: PROBE_TIMEOUT_MS, signal });
  if (r.exitCode !== 0) return failure(r);
  const info = parseNpuSmiInfo(r.stdout);
  if (!info.chips.length) return { ...failure(r), code: 'no-devices', reason: `npu-smi info listed no NPU${r.stdout.trim() ? ` (${r.stdout.trim().split('\n')[0]!.slice(0, 120)})` : ''}` };
  const m = await runCommand(exe, ['info', '-m'], { env: env as Record<string, string>, extendEnv: false, timeoutMs: PROBE_TIMEOUT_MS, signal });
  const map = m.exitCode === 0 ? parseNpuSmiMap(m.stdout) : [];
  const devs = npuDevices(info, map);
  const cards = npuCards(devs);
  const measured = cards.filter((c) => c.measured);
  if (!measured.length) return { state: 'unavailable', code: 'no-power-field', reason: 'no power sensor through this CLI: npu-smi info printed no power for any NPU' };
  const devices: Device[] = devs.filter((d) => measured.some((c) => c.members.includes(d.index))).map(({ chip, index }) => {
    const card = cards.find((c) => c.npuId === chip.npuId)!;
    const shared = card.members.length > 1;
    return {
      id: `npu-smi:${index}`, index, vendor: 'Huawei', name: /^ascend/i.test(chip.name) ? chip.name : `Ascend ${chip.name}`, kind: 'accelerator',
      ...(chip.busId ? { busId: chip.busId } : {}),
      ...((chip.hbmTotalMiB ?? chip.memoryTotalMiB) ? { memoryMiB: (chip.hbmTotalMiB ?? chip.memoryTotalMiB)! } : {}),
      ...(info.version ? { driverVersion: `npu-smi ${info.version}` } : {}),
      ...(shared ? { partition: `NPU ${chip.npuId} chip ${chip.chipId}${chip.chipId === card.chipId ? ' (card power read here)' : ` (card power read on chip ${card.chipId})`}` } : {}),
    };
  });
  const unmeasured = cards.filter((c) => !c.measured).map((c) => `NPU ${c.npuId}`);
  const notes = [
    cards.some((c) => c.members.length > 1) ? 'multi-die cards print the card\'s power on one die; it is recorded once per card' : '',
    unmeasured.length ? `no power reading for ${unmeasured.join(', ')}` : '',
  ].filter(Boolean);
  const semantics: Semantics = {
    kind: 'instantaneous', field: query === 'table' ? 'npu-smi info Power(W)' : 'NPU Real-time Power(W)',
    note: 'npu-smi documents no averaging window; each poll is one spot reading stamped at the middle of the call; no energy counter',
  };
  const priv: NpuPrivate = { exe, query, cards: measured.map(({ npuId, chipId, members }) => ({ npuId, chipId, members })) };
  return {
    state: 'ok', devices, semantics,
    software: { ...(info.version ? { 'npu-smi': info.version } : {}) },
    ...(notes.length ? { note: notes.join('. ') } : {}),
    private: priv,
  };
}

// ───────────────────────────── sampling ─────────────────────────────

export const npuSmi: Driver = {
  meta: {
    id: 'npu-smi', title: 'Huawei Ascend NPUs through npu-smi', vendor: 'Huawei', scope: 'device', priority: 50,
    // each call is a new process that opens every device: hundreds of ms on real machines
    defaultIntervalMs: 1000, minIntervalMs: 200,
    visibilityEnv: ['ASCEND_RT_VISIBLE_DEVICES'],
    options: {
      path: 'path of npu-smi (default: found on PATH)',
      'poll-timeout-ms': 'a call that takes longer is killed and recorded as a gap (default max(5000, 5 × interval))',
      query: 'table (default: one `npu-smi info` call reads every card) or power (`npu-smi info -t power -i N -c C`, one call per card)',
    },
  },
  probe(ctx) {
    return probeNpu(ctx.env, ctx.options, ctx.signal);
  },
  async start(opts) {
    const p = opts.probe.private as NpuPrivate;
    const used = opts.devices.map((d) => d.index ?? -1);
    // each used card once, under the first of its dies the workload uses
    const plan = p.cards.map((c) => ({ card: c, recordAs: c.members.filter((m) => used.includes(m)).sort((a, b) => a - b)[0] })).filter((x) => x.recordAs !== undefined);
    const t = Number(opts.options['poll-timeout-ms']);
    const timeoutMs = Number.isFinite(t) && t > 0 ? t : Math.max(5000, 5 * opts.intervalMs);
    const common = { env: opts.env, clock: opts.clock, signal: opts.signal, sink: opts.sink, intervalMs: opts.intervalMs, timeoutMs };
    const emit = (tS: number, recordAs: number, powerW: number, extra: Partial<Sample> = {}) => {
      opts.sink.sample({ tS, sourceId: 'npu-smi', deviceId: `npu-smi:${recordAs}`, powerW, ...extra });
    };
    let sups: Supervised[];
    if (p.query === 'table') {
      sups = [supervisePoll({
        ...common, file: p.exe, args: ['info'],
        onOutput: (stdout, tS) => {
          const chips = parseNpuSmiInfo(stdout).chips;
          let n = 0;
          for (const { card, recordAs } of plan) {
            const chip = chips.find((c) => c.npuId === card.npuId && c.chipId === card.chipId);
            if (chip?.powerW === undefined) continue; // `-` is no reading, never 0 W
            const extra: Partial<Sample> = {};
            if (chip.temperatureC !== undefined) extra.temperatureC = chip.temperatureC;
            if (chip.aicorePct !== undefined) extra.utilizationPct = chip.aicorePct;
            const hbm = chip.hbmUsedMiB ?? chip.memoryUsedMiB;
            if (hbm !== undefined) extra.memoryUsedMiB = hbm;
            emit(tS, recordAs!, chip.powerW, extra);
            n++;
          }
          return n;
        },
      })];
    } else {
      sups = plan.map(({ card, recordAs }) => supervisePoll({
        ...common, file: p.exe, args: ['info', '-t', 'power', '-i', String(card.npuId), '-c', String(card.chipId)],
        onOutput: (stdout, tS) => {
          const { powerW } = powerFromKeyValues(parseNpuSmiKeyValues(stdout));
          if (powerW === undefined) return 0;
          emit(tS, recordAs!, powerW);
          return 1;
        },
      }));
    }
    return {
      command: sups[0]?.command,
      stop: async () => { await Promise.all(sups.map((s) => s.stop())); },
    };
  },
};
