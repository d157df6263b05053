// The short table at the end of `wattbench run`, in the spirit of hyperfine's summary.
import { relative } from 'node:path';
import type { RunOutcome } from './run.js';
import type { Stats } from '../results/types.gen.js';

export function fmtStat(s: Stats | undefined, digits = 3): string {
  if (!s || s.n === 0) return '–';
  const sig = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(1) : Math.abs(x) >= 1 ? x.toFixed(Math.max(0, digits - 1)) : x.toPrecision(digits));
  return s.ci95HalfWidth !== null ? `${sig(s.mean)} ± ${sig(s.ci95HalfWidth)}` : sig(s.mean);
}

/**
 * What fmtStat showed, in words: "mean ± 95% CI" only when there is an interval. One headline repetition gives a
 * single figure, which is neither a mean of several nor an interval.
 */
export function statLegend(s: Stats | undefined): string {
  if (!s || s.n === 0) return '';
  if (s.ci95HalfWidth !== null) return `(mean ± 95% CI of ${s.n} repetitions)`;
  return s.n === 1 ? '(1 repetition: no CI)' : `(mean of ${s.n} repetitions: no CI)`;
}

export function printSummary(outcomes: RunOutcome[], out: NodeJS.WritableStream): void {
  for (const { result: r, resultPath } of outcomes) {
    const used = r.sources.find((s) => s.state === 'used');
    const scope = used && used.state === 'used' ? used.scope : '?';
    const s = r.summary;
    // completed repetitions, and of those the ones long enough to count (SHORT_WINDOW ones are kept, not counted)
    const ok = r.repetitions.filter((x) => x.status === 'ok').length;
    const headline = r.repetitions.filter((x) => x.status === 'ok' && x.headline !== false).length;
    const reps = `${ok}/${r.repetitions.length} repetitions ok${headline < ok ? `, ${headline} counted` : ''}`;
    out.write(`\n${r.workload.name}  ·  ${used?.id ?? '?'} (${scope})  ·  ${reps}  ·  ${r.status}\n`);
    if (s) {
      out.write(`  tokens/J      ${fmtStat(s.tokensPerJ).padEnd(22)} ${statLegend(s.tokensPerJ)}${s.tokensPerJ.cvPct !== null ? `   CV ${s.tokensPerJ.cvPct.toFixed(1)}%` : ''}\n`);
      out.write(`  tokens/s      ${fmtStat(s.tokensPerS)}\n`);
      out.write(`  mean power    ${fmtStat(s.meanPowerW)} W${r.idle ? `   (idle ${r.idle.powerW.toFixed(1)} W)` : ''}\n`);
      out.write(`  J/token       ${fmtStat(s.joulesPerToken)}\n`);
    }
    if (r.fidelity) out.write(`  fidelity      ${r.fidelity.grade}${r.fidelity.energyErrorBoundPct !== null ? ` (energy within ±${r.fidelity.energyErrorBoundPct.toFixed(r.fidelity.energyErrorBoundPct < 10 ? 2 : 1)}%)` : ''}  ${r.fidelity.method}\n`);
    if (r.settings.targetCiPct !== undefined && !r.warnings.some((w) => w.code === 'TARGET_CI_NOT_REACHED')) {
      out.write(`  target CI     ±${r.settings.targetCiPct}% reached after ${r.repetitions.length} repetitions\n`);
    }
    for (const w of r.warnings) out.write(`  ! ${w.code}: ${w.message}\n`);
    out.write(`  result: ${relative(process.cwd(), resultPath) || resultPath}\n`);
  }
}
