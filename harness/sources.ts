// Step 2 of a run: probe every power source (or the one forced with --source), pick the best for the devices,
// and record why each other source was not used.
import { DRIVERS, getDriver, SOURCE_IDS } from '../drivers/index.js';
import type { Driver, ProbeResult } from '../drivers/driver.js';
import type { Source } from '../results/types.gen.js';
import { badInput } from '../lib/errors.js';

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

export async function chooseSource(env: NodeJS.ProcessEnv, forced: string | undefined, optionsFor: (id: string) => Record<string, string>): Promise<SourceChoice> {
  if (forced) checkSourceId(forced);
  const probed = await probeAll(env, optionsFor);
  let pick: ProbedSource | undefined;
  if (forced) {
    pick = probed.find((p) => p.driver.meta.id === forced)!;
    if (pick.result.state !== 'ok') {
      throw badInput('SOURCE_UNAVAILABLE', `power source '${forced}' does not work here: ${pick.result.reason}`, 'fix that, or leave out --source to let wattbench choose');
    }
  } else {
    const ok = probed.filter((p) => p.result.state === 'ok').sort((a, b) => b.driver.meta.priority - a.driver.meta.priority);
    pick = ok[0];
    if (!pick) throw badInput('NO_POWER_SOURCE', 'no power source works on this machine', 'run `wattbench devices` to see why each failed, or pass --source replay --source-opt file=TRACE');
  }
  const others: Source[] = probed.filter((p) => p !== pick).map((p) => p.result.state === 'ok'
    ? { id: p.driver.meta.id, state: 'available' as const, reason: forced ? `not chosen: --source ${forced} was given` : `works, but ${pick!.driver.meta.id} ranks higher (priority ${pick!.driver.meta.priority} > ${p.driver.meta.priority})` }
    : { id: p.driver.meta.id, state: 'unavailable' as const, code: p.result.code, reason: p.result.reason });
  return { chosen: { driver: pick.driver, probe: pick.result as Extract<ProbeResult, { state: 'ok' }> }, others };
}

/** Parse repeated KEY=VALUE options. */
export function parseKeyValues(items: string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const it of items ?? []) {
    const i = it.indexOf('=');
    if (i <= 0) throw badInput('BAD_OPTION', `${flag} '${it}' is not KEY=VALUE`, `write it as ${flag} key=value`);
    out[it.slice(0, i)] = it.slice(i + 1);
  }
  return out;
}
