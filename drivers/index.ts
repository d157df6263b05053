// The registry: one literal map from source id to driver. The CLI's --source choices, `wattbench devices` and
// the automatic choice of the best source all derive from this map. A new vendor is one file plus one line here.
import type { Driver } from './driver.js';
import { replay } from './replay.js';
import { rapl } from './rapl.js';
import { estimate } from './estimate.js';

export const DRIVERS = {
  replay,
  rapl,
  estimate,
  // vendor CLI drivers register below (one line each)
} as const satisfies Record<string, Driver>;

export type SourceId = keyof typeof DRIVERS;
export const SOURCE_IDS = Object.keys(DRIVERS) as SourceId[];

export function getDriver(id: string): Driver | undefined {
  return (DRIVERS as Record<string, Driver>)[id];
}
