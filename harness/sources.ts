// Step 2 of a run: probe every power source (or the one forced with --source), pick the best for the devices,
// and record why each other source was not used.
import { DRIVERS, getDriver, SOURCE_IDS } from '../drivers/index.js';
import type { Driver, ProbeResult } from '../drivers/driver.js';
import type { Source } from '../results/types.gen.js';
import { badInput, type WattbenchError } from '../lib/errors.js';

export interface ProbedSource { driver: Driver; result: ProbeResult }

export interface SourceChoice {
  chosen: { driver: Driver; probe: Extract<ProbeResult, { state: 'ok' }> };
  /** Every other source as it goes into the result (available or unavailable, with the reason). */
  others: Source[];
}

export async function probeAll(env: NodeJS.ProcessEnv, optionsFor: (id: string) => Record<string, string>, only?: string[]): Promise<ProbedSource[]> {
  const ids = only ?? SOURCE_IDS;
  return Promise.all(ids.map(async (id) => {
    const driver = getDriver(id)!;
    let result: ProbeResult;
    try { result = await driver.probe({ env, options: optionsFor(id) }); } catch (err) {
      // a crashing probe is a source that does not work here, not a crashed run
      result = { state: 'unavailable', code: 'error', reason: `probe failed: ${(err as Error).message}` };
    }
    return { driver, result };
  }));
}

export function checkSourceId(id: string): void {
  if (!getDriver(id)) throw badInput('UNKNOWN_SOURCE', `no power source named '${id}'`, `choose one of: ${Object.keys(DRIVERS).join(', ')}`);
}

/**
 * Where a forced source came from decides the remedy when it does not work: `--source` can be left out, a suite's
 * `source:` is changed in the suite. `leaveOut` completes "fix that, or …".
 */
export function sourceUnavailable(id: string, reason: string, leaveOut = 'leave out --source to let wattbench choose'): WattbenchError {
  return badInput('SOURCE_UNAVAILABLE', `power source '${id}' does not work here: ${reason}`, `fix that, or ${leaveOut}`);
}

/**
 * Probe one forced source with its options, the probe a run does, without probing the others: a plan checks every
 * source it will force before the first measurement. Throws SOURCE_UNAVAILABLE; returns the probe otherwise.
 */
export async function probeForced(env: NodeJS.ProcessEnv, id: string, options: Record<string, string>, leaveOut?: string): Promise<Extract<ProbeResult, { state: 'ok' }>> {
  checkSourceId(id);
  const [p] = await probeAll(env, () => options, [id]);
  if (p!.result.state !== 'ok') throw sourceUnavailable(id, p!.result.reason, leaveOut);
  return p!.result;
}

export async function chooseSource(env: NodeJS.ProcessEnv, forced: string | undefined, optionsFor: (id: string) => Record<string, string>, leaveOut?: string): Promise<SourceChoice> {
  if (forced) checkSourceId(forced);
  const probed = await probeAll(env, optionsFor);
  let pick: ProbedSource | undefined;
  if (forced) {
    pick = probed.find((p) => p.driver.meta.id === forced)!;
    if (pick.result.state !== 'ok') throw sourceUnavailable(forced, pick.result.reason, leaveOut);
  } else {
    const ok = probed.filter((p) => p.result.state === 'ok').sort((a, b) => b.driver.meta.priority - a.driver.meta.priority);
    pick = ok[0];
    if (!pick) throw badInput('NO_POWER_SOURCE', 'no power source works on this machine', 'run `wattbench devices` to see why each failed, or pass --source replay --source-opt file=TRACE');
  }
  const others: Source[] = probed.filter((p) => p !== pick).map((p) => p.result.state === 'ok'
    ? { id: p.driver.meta.id, state: 'available' as const, reason: forced ? `not chosen: the run asked for ${forced}` : `works, but ${pick!.driver.meta.id} ranks higher (priority ${pick!.driver.meta.priority} > ${p.driver.meta.priority})` }
    : { id: p.driver.meta.id, state: 'unavailable' as const, code: p.result.code, reason: p.result.reason });
  return { chosen: { driver: pick.driver, probe: pick.result as Extract<ProbeResult, { state: 'ok' }> }, others };
}

/** Parse repeated KEY=VALUE options (--set); --source-opt goes through splitSourceOptions, which knows SOURCE.K=V. */
export function parseKeyValues(items: string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const it of items ?? []) {
    const i = it.indexOf('=');
    if (i <= 0) throw badInput('BAD_OPTION', `${flag} '${it}' is not KEY=VALUE`, `write it as ${flag} key=value`);
    out[it.slice(0, i)] = it.slice(i + 1);
  }
  return out;
}

export interface SplitSourceOptions {
  /** K=V: for the source named with --source. */
  common: Record<string, string>;
  /** SOURCE.K=V: for that source only, whichever way it is chosen. */
  scoped: Map<string, Record<string, string>>;
}

/** Split --source-opt values into K=V and SOURCE.K=V (SOURCE a registered source id; the longest id wins). */
export function splitSourceOptions(items: string[] | undefined): SplitSourceOptions {
  const common: Record<string, string> = {};
  const scoped = new Map<string, Record<string, string>>();
  for (const it of items ?? []) {
    const eq = it.indexOf('=');
    if (eq <= 0) throw badInput('BAD_OPTION', `--source-opt '${it}' is not KEY=VALUE`, 'write it as --source-opt key=value or --source-opt source.key=value');
    const key = it.slice(0, eq), value = it.slice(eq + 1);
    const owner = SOURCE_IDS.filter((id) => key.startsWith(`${id}.`)).sort((a, b) => b.length - a.length)[0];
    if (owner) {
      const o = scoped.get(owner) ?? {};
      o[key.slice(owner.length + 1)] = value;
      scoped.set(owner, o);
    } else common[key] = value;
  }
  return { common, scoped };
}

/**
 * --source and --source-opt as given on a command line, checked: K=V options without --source, SOURCE.K=V for a
 * source other than --source and keys the driver does not declare are refused (exit 2), never silently dropped.
 */
export function checkSourceOptFlags(flag: string | undefined, items: string[] | undefined): SplitSourceOptions {
  if (flag) checkSourceId(flag);
  const { common, scoped } = splitSourceOptions(items);
  const commonKeys = Object.keys(common);
  if (!flag && commonKeys.length) {
    throw badInput('BAD_FLAG', `--source-opt ${commonKeys[0]}=… is given without --source, so no source would get it`, `name the source with --source NAME, or write it as --source-opt SOURCE.${commonKeys[0]}=VALUE`);
  }
  for (const [id, o] of scoped) {
    if (flag && id !== flag) throw badInput('BAD_FLAG', `--source-opt ${id}.${Object.keys(o)[0]}=… is for ${id}, but --source ${flag} is measured`, `leave it out, or write it for ${flag}`);
    checkSourceOptions(id, o, (k) => `--source-opt ${id}.${k}`);
  }
  if (flag) checkSourceOptions(flag, common, (k) => `--source-opt ${k}`);
  return { common, scoped };
}

/**
 * Refuse an option the source does not declare in its meta.options: a typo (tdpw=300) would otherwise be ignored
 * and the run measured with the default. `where` names what gave the key (`--source-opt`, a suite's pointer).
 */
export function checkSourceOptions(id: string, options: Record<string, unknown>, where: (key: string) => string, code = 'BAD_OPTION'): void {
  const driver = getDriver(id);
  if (!driver) return; // unknown ids are refused by checkSourceId with the list of sources
  const accepted = Object.keys(driver.meta.options ?? {});
  const unknown = Object.keys(options).find((k) => !accepted.includes(k));
  if (unknown === undefined) return;
  throw badInput(code, `${where(unknown)}: power source '${id}' has no option '${unknown}'`,
    accepted.length ? `${id} takes: ${accepted.join(', ')}` : `${id} takes no options`);
}
