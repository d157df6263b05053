// The closed set of warning codes (mirrors the enum in schema.json) and the sentence a report shows for each,
// with the flag or action that fixes it where there is one.
import type { Warning } from './types.gen.js';

export type WarningCode = Warning['code'];

/**
 * A repetition as people count it: from 1, as the progress lines do ([2/3]). The result's `index` (and a warning's
 * `repetition`) counts from 0; every number a person reads goes through here, so the two never mix.
 */
export function repetitionNumber(index: number): number {
  return index + 1;
}

/** "repetition 2 of 3" (or "repetition 2"), for messages. */
export function repetitionName(index: number, total?: number): string {
  return `repetition ${repetitionNumber(index)}${total !== undefined ? ` of ${total}` : ''}`;
}

export const WARNING_TEXT: Record<WarningCode, string> = {
  HIGH_CV: 'Tokens per joule varied by more than 5% (coefficient of variation) across repetitions; raise --repetitions or lengthen the window.',
  SHORT_WINDOW: 'The measured window covered fewer than 10 sensor updates; the energy is unreliable. Lengthen the workload (more steps or tokens).',
  SAMPLING_GAP: 'The power samples had a gap longer than twice the sampling interval.',
  ESTIMATED_POWER: 'Power was estimated (CPU utilization × TDP), not measured. Do not compare it with measured figures.',
  HIGH_IDLE: 'Idle power was above 50% of loaded power: the workload barely loads this device, or the device never idles.',
  THROTTLED: 'The device throttled (power, thermal or clock limits) during the window.',
  SOURCE_RESTARTED: 'The power sensor tool stopped and was restarted during the run.',
  WINDOW_NOT_COVERED: 'Power samples did not cover the whole measured window; the edges were held at the nearest power reading, or an energy counter carried on at the rate it showed.',
  REPETITION_FAILED: 'A repetition failed; it is excluded from the statistics.',
  INTERRUPTED: 'The run was interrupted; the figures cover the repetitions that finished.',
  NO_IDLE_BASELINE: 'No idle baseline was measured (--idle 0), so idle-subtracted figures are absent.',
  FEW_REPETITIONS: 'Fewer than 3 repetitions succeeded; the confidence interval is wide or absent.',
  AVERAGED_SENSOR: 'The sensor reports a moving average; readings were shifted back by its lag before integration.',
  COUNTER_RESET: 'The energy counter went backwards (driver reload or reset) in this window; the stretch across it was integrated from power readings, or, where there were none, only the energy since the reset was counted (a lower bound).',
  TARGET_CI_NOT_REACHED: 'The target confidence interval was not reached within the maximum number of repetitions.',
  CLIENT_BEHIND_SCHEDULE: 'The load generator sent requests late against its schedule; the client, not the server, may have limited throughput.',
  USAGE_FROM_CLIENT: 'The server sent no token usage; output tokens were counted by the client.',
  REQUESTS_FAILED: 'Some requests failed; they are counted and reported, not dropped.',
  REQUESTS_RESENT: 'Some requests were sent twice: the server closed a kept-alive connection before answering; work it had begun used energy and delivered no counted tokens.',
  // only written when --allow-unmeasured-clock took an unmeasured node as in sync; a measured skew over the limit
  // is refused by the merge (exit 2), never a warning
  CLOCK_SKEW: 'A node\'s clock offset could not be measured and was taken as in sync with the reference node (--allow-unmeasured-clock); if it was not, that node\'s samples are misplaced against the window by the difference.',
  PARTIAL_DEVICE_POWER: 'Some devices had no power reading (e.g. secondary dies reported on the primary).',
  HOST_SCOPE: 'Power covers the whole CPU package or node, not only the workload.',
  PROTOCOL_ERRORS: 'The workload printed malformed protocol lines; they were ignored.',
  OUTPUT_TRUNCATED: 'The workload printed lines longer than the limit; they were cut.',
};
