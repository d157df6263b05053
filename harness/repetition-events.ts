// Folds one repetition's workload events into what the analysis needs: its phases, the measured window, the tokens
// counted inside that window and the last value of each metric. One definition, used by a local run (events as
// they arrive) and by the multi-node merge (rank 0's recorded events).
import type { Metric } from '../results/types.gen.js';
import type { WorkloadEvent } from '../workloads/workload.js';
import type { RepetitionRaw } from './analyse.js';

export class RepetitionEvents {
  readonly phases: RepetitionRaw['phases'];
  windowStart: number | undefined;
  windowEnd: number | undefined;
  private total = 0;
  private input = 0;
  private output = 0;
  private sawInput = false;
  private sawOutput = false;
  private readonly metricsByName = new Map<string, Metric>();

  constructor(startS: number) {
    this.phases = [{ phase: 'start', startS }];
  }

  /** Apply one event stamped at tS; returns the phase it opened ('warmup' | 'window'), if any. */
  apply(tS: number, e: WorkloadEvent): 'warmup' | 'window' | undefined {
    switch (e.event) {
      case 'warmup_start':
        this.close(tS);
        this.phases.push({ phase: 'warmup', startS: tS });
        return 'warmup';
      case 'window_start':
        if (this.windowStart !== undefined) return undefined;
        this.close(tS);
        this.windowStart = tS;
        this.phases.push({ phase: 'window', startS: tS });
        return 'window';
      case 'window_end':
        if (this.windowStart !== undefined && this.windowEnd === undefined) {
          this.windowEnd = tS;
          this.close(tS);
          this.phases.push({ phase: 'done', startS: tS });
        }
        return undefined;
      case 'tokens':
        // only tokens completed inside the window count
        if (this.inWindow) {
          this.total += e.tokens;
          if (e.input !== undefined) { this.input += e.input; this.sawInput = true; }
          if (e.output !== undefined) { this.output += e.output; this.sawOutput = true; }
        }
        return undefined;
      case 'metric':
        this.metricsByName.set(e.name, { name: e.name, value: e.value, unit: e.unit });
        return undefined;
      case 'start': {
        const p = e.info?.parameters;
        if (typeof p === 'number' && Number.isFinite(p)) this.metricsByName.set('parameters', { name: 'parameters', value: p, unit: 'count' });
        return undefined;
      }
      default:
        return undefined;
    }
  }

  get inWindow(): boolean { return this.windowStart !== undefined && this.windowEnd === undefined; }
  get tokensSoFar(): number { return this.total; }

  /** End the open phase at tS (the repetition's end). */
  close(tS: number): void {
    const last = this.phases[this.phases.length - 1];
    if (last && last.endS === undefined) last.endS = tS;
  }

  metrics(): Metric[] { return [...this.metricsByName.values()]; }

  tokens(): { total: number; input?: number; output?: number } {
    return { total: Math.round(this.total), ...(this.sawInput ? { input: Math.round(this.input) } : {}), ...(this.sawOutput ? { output: Math.round(this.output) } : {}) };
  }
}
