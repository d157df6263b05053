// A repetition's device telemetry (the result's Diagnostics): one fold, used by the analysis that writes results
// and by the report that recomputes it per device from the raw samples, so both give the same figures.
import type { Diagnostics } from './types.gen.js';

/** The schema's bound on throttleReasons. */
const MAX_REASONS = 64;

export interface TelemetryReading { temperatureC?: number; smClockMHz?: number; memoryUsedMiB?: number; utilizationPct?: number; throttleReasons?: string[] }

/** Add readings taken inside a window; diagnostics() gives what they add up to (fields with no reading left out). */
export class DiagnosticsFold {
  private maxTemp = -Infinity; private minClk = Infinity; private maxClk = -Infinity; private maxMem = -Infinity;
  private utilSum = 0; private utilN = 0;
  private readonly reasons = new Set<string>();

  add(o: TelemetryReading): void {
    if (o.temperatureC !== undefined) this.maxTemp = Math.max(this.maxTemp, o.temperatureC);
    if (o.smClockMHz !== undefined) { this.minClk = Math.min(this.minClk, o.smClockMHz); this.maxClk = Math.max(this.maxClk, o.smClockMHz); }
    if (o.memoryUsedMiB !== undefined) this.maxMem = Math.max(this.maxMem, o.memoryUsedMiB);
    if (o.utilizationPct !== undefined) { this.utilSum += o.utilizationPct; this.utilN++; }
    for (const r of o.throttleReasons ?? []) if (this.reasons.size < MAX_REASONS) this.reasons.add(r);
  }

  /** The throttle reasons seen so far. */
  get throttleReasons(): string[] { return [...this.reasons]; }

  diagnostics(): Diagnostics {
    const d: Diagnostics = {};
    if (this.maxTemp > -Infinity) d.maxTemperatureC = this.maxTemp;
    if (this.minClk < Infinity) { d.minSmClockMHz = this.minClk; d.maxSmClockMHz = this.maxClk; }
    if (this.utilN) d.meanUtilizationPct = this.utilSum / this.utilN;
    if (this.maxMem > -Infinity) d.maxMemoryUsedMiB = this.maxMem;
    if (this.reasons.size) d.throttleReasons = [...this.reasons];
    return d;
  }
}
