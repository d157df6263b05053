// Upgrades result files written by older schema versions to the current one, one step at a time.
// Version 1 is the first published format, so the chain is empty today; each future version adds one step here
// and a fixture test, and `report`/`validate` keep reading every file ever written.
import { SCHEMA_VERSION } from './validate.js';

type Step = (old: Record<string, unknown>) => Record<string, unknown>;
/** steps[v] turns a version-v document into version v + 1. */
const steps: Record<number, Step> = {};

export type UpgradeOutcome =
  | { state: 'current'; data: Record<string, unknown> }
  | { state: 'upgraded'; from: number; data: Record<string, unknown> }
  | { state: 'unsupported'; reason: string };

export function upgradeResult(data: unknown): UpgradeOutcome {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { state: 'unsupported', reason: 'not a JSON object' };
  const doc = data as Record<string, unknown>;
  const v = doc.schemaVersion;
  if (typeof v !== 'number' || !Number.isInteger(v)) return { state: 'unsupported', reason: 'no integer schemaVersion field: not a wattbench result' };
  if (v === SCHEMA_VERSION) return { state: 'current', data: doc };
  if (v > SCHEMA_VERSION) return { state: 'unsupported', reason: `schemaVersion ${v} is newer than this wattbench understands (${SCHEMA_VERSION}) — upgrade wattbench` };
  let cur = doc;
  for (let at = v; at < SCHEMA_VERSION; at++) {
    const step = steps[at];
    if (!step) return { state: 'unsupported', reason: `no upgrade from schemaVersion ${at}` };
    cur = { ...step(cur), schemaVersion: at + 1 };
  }
  return { state: 'upgraded', from: v, data: cur };
}
