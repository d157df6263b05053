// `wattbench serve`: tokens per joule of a live OpenAI-compatible server under load. The flags build a serve
// workload config (the same keys a suite file takes under `workload: serve`), a list of concurrencies or rates
// becomes a sweep (one run and one result per value, like a suite matrix), and each run goes through executeRun
// exactly as `wattbench run` does.
import { resolve } from 'node:path';
import type { Command } from './command.js';
import { parseFlags, num } from './command.js';
import { planFromDoc, type Plan } from '../suite.js';
import { suiteSettingName, type SettingName } from '../../workloads/workload.js';
import { executeRun, type RunOutcome } from '../run.js';
import { createProgress, progressMode } from '../progress.js';
import { EXIT, badInput, WattbenchError } from '../../lib/errors.js';
import { printSummary } from '../summary.js';
import { DEFAULTS, checkRunId, outDirOf, measurementFlags, checkRepetitionBounds, planSources, preflightSources } from './run.js';
import { parseSweepList } from '../../workloads/serve/load.js';

const options = {
  url: { type: 'string' }, model: { type: 'string' }, chat: { type: 'boolean' },
  concurrency: { type: 'string' }, rate: { type: 'string' }, burstiness: { type: 'string' }, 'max-concurrency': { type: 'string' },
  requests: { type: 'string' }, duration: { type: 'string' }, warmup: { type: 'string' },
  'input-tokens': { type: 'string' }, 'output-tokens': { type: 'string' }, dataset: { type: 'string' }, shuffle: { type: 'boolean' },
  'prompt-mode': { type: 'string' }, 'no-ignore-eos': { type: 'boolean' }, 'no-min-tokens': { type: 'boolean' }, 'extra-body': { type: 'string' },
  'api-key-env': { type: 'string' }, 'api-key-header': { type: 'string' },
  'slo-ttft-ms': { type: 'string' }, 'slo-tpot-ms': { type: 'string' }, 'slo-e2e-ms': { type: 'string' },
  'request-timeout': { type: 'string' }, 'first-token-timeout': { type: 'string' }, seed: { type: 'string' },
  'chunk-times': { type: 'string' }, 'late-threshold-ms': { type: 'string' },
  out: { type: 'string' }, repetitions: { type: 'string' }, 'max-repetitions': { type: 'string' }, 'target-ci': { type: 'string' },
  idle: { type: 'string' }, cooldown: { type: 'string' }, interval: { type: 'string' }, timeout: { type: 'string' },
  source: { type: 'string' }, 'source-opt': { type: 'string', multiple: true }, devices: { type: 'string' },
  'run-id': { type: 'string' }, 'record-hostname': { type: 'boolean' }, quiet: { type: 'boolean' }, progress: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const usage = `wattbench serve --url URL --model NAME [--chat] (--concurrency N | --rate R) (--requests N | --duration S)
                (--input-tokens N --output-tokens N | --dataset FILE.jsonl) [options]

Drive a live OpenAI-compatible server (vLLM, SGLang, TGI, llama.cpp, MindIE, …) with streaming requests and
measure output tokens per joule of the devices it runs on, over the steady state (from the target concurrency
reached to the drain), with TTFT, TPOT, inter-chunk latency, E2E, throughput and goodput from every request.

Server and requests
  --url URL              base URL (http://127.0.0.1:8000 or …/v1) or the full endpoint URL
  --model NAME           model name the server serves
  --chat                 /v1/chat/completions (default /v1/completions)
  --input-tokens N       prompt length: token ids where the server takes them, else text calibrated by its usage
  --output-tokens N      output length, forced with max_tokens + min_tokens + ignore_eos
  --dataset FILE         prompts from a JSONL file ({"prompt": …} or {"messages": […]}, optional "output_tokens")
  --shuffle              shuffle the dataset (by --seed)
  --prompt-mode M        auto | token-ids | text (default auto)
  --no-ignore-eos        do not send ignore_eos (servers that reject it)
  --no-min-tokens        do not send min_tokens
  --extra-body JSON      extra fields for every request body, e.g. '{"temperature": 0}'
  --api-key-env NAME     environment variable holding the API key (default OPENAI_API_KEY; the key is never
                         written anywhere)
  --api-key-header H     authorization (Bearer KEY, default) or a header that takes the bare key (api-key)

Load
  --concurrency N[,N…]   closed loop at N requests in flight; a list sweeps (one result per value)
  --rate R[,R…]          open loop: Poisson arrivals at R requests/s; a list sweeps
  --burstiness K         gamma-distributed arrival gaps of shape K (1 = Poisson; < 1 burstier)
  --max-concurrency N    open loop: hold arrivals while N are in flight
  --requests N           number of requests (closed loop: more than the concurrency)
  --duration S           or: send for S seconds
  --warmup S             open the energy window no earlier than S after the first request
  --slo-ttft-ms X        goodput objectives (default TTFT ≤ 500 ms and TPOT ≤ 50 ms)
  --slo-tpot-ms X
  --slo-e2e-ms X
  --request-timeout S    a request still running after S fails (default 600)
  --first-token-timeout S  a request without a token after S fails (default: the request timeout)
  --seed N               prompts and arrivals (default 1)
  --chunk-times M        keep every chunk's arrival in the result: auto | all | none (auto: up to 200k chunks)
  --late-threshold-ms X  a request sent later than this against its schedule counts as late (default 10)

Measurement (as for \`wattbench run\`)
  --out DIR  --repetitions N (default ${DEFAULTS.repetitions})  --target-ci PCT  --max-repetitions N  --idle S (default ${DEFAULTS.idleS})
  --cooldown S (default ${DEFAULTS.cooldownS})  --interval MS  --timeout S  --source NAME  --source-opt K=V  --devices 0,1
  --run-id ID  --record-hostname  --quiet (no progress output, warnings still print)  --progress MODE

The same settings go in a suite file: workload: serve, config: {url, model, endpoint: chat, concurrency, requests,
inputTokens, outputTokens, …}, with matrix: {concurrency: [1, 8, 64]} for a sweep.`;

/** serve's flag for each config key it sets (slo's keys by their pointer under the config). */
const FLAG_OF: Record<string, string> = {
  url: '--url', model: '--model', endpoint: '--chat', concurrency: '--concurrency', rateRps: '--rate', burstiness: '--burstiness',
  maxConcurrency: '--max-concurrency', requests: '--requests', durationS: '--duration', warmupS: '--warmup',
  inputTokens: '--input-tokens', outputTokens: '--output-tokens', dataset: '--dataset', datasetShuffle: '--shuffle',
  promptMode: '--prompt-mode', ignoreEos: '--no-ignore-eos', minTokens: '--no-min-tokens', extraBody: '--extra-body',
  apiKeyEnv: '--api-key-env', apiKeyHeader: '--api-key-header', 'slo/ttftMs': '--slo-ttft-ms', 'slo/tpotMs': '--slo-tpot-ms', 'slo/e2eMs': '--slo-e2e-ms',
  requestTimeoutS: '--request-timeout', firstTokenTimeoutS: '--first-token-timeout', seed: '--seed',
  chunkTimes: '--chunk-times', lateThresholdMs: '--late-threshold-ms',
};

/** Switches: the flag given stands for this value of its key (--chat is endpoint chat); the other is the flag left out. */
const SWITCH_ON: Record<string, string | boolean> = { endpoint: 'chat', ignoreEos: false, minTokens: false, datasetShuffle: true };

/** The serve workload's messages in serve's words: `--input-tokens N`, not `inputTokens: N` (a suite's key). */
export const serveFlagName: SettingName = (key, value) => {
  const flag = FLAG_OF[key];
  if (!flag) return suiteSettingName(key, value); // tokenIdRange: only a suite sets it
  if (value === undefined) return flag;
  if (key in SWITCH_ON) return value === SWITCH_ON[key] ? flag : `without ${flag}`;
  return `${flag} ${value}`;
};

/**
 * A config error from the flags: its location is a suite pointer (command line: serve config: at
 * /runs/0/config/inputTokens), which serve's user never wrote. Say the flag instead, unless the message already
 * names it; the message and remedy name flags already (serveFlagName).
 */
export function inFlagTerms(err: WattbenchError): WattbenchError {
  const m = /^command line: (?:serve config: )?(?:at \/runs\/0\/config\/?(\S*): )?(.*)$/s.exec(err.message);
  if (!m) return err;
  const path = m[1] ?? '';
  const flag = FLAG_OF[path] ?? FLAG_OF[path.split('/')[0]!];
  const message = !flag || m[2]!.includes(flag) ? m[2]! : `${flag}: ${m[2]}`;
  // a schema error's remedy points at the suite section of the README; here --help lists the flags
  const remedy = err.remedy.replace(/\(see README "Suite files"\)$/, '(see `wattbench serve --help`)');
  return badInput(err.code === 'BAD_CONFIG' ? 'BAD_FLAG' : err.code, message, remedy);
}

function sweepList(v: string, flag: string, integer: boolean): number[] {
  try { return parseSweepList(v, flag, integer); } catch (err) {
    throw badInput('BAD_FLAG', (err as Error).message, `e.g. ${flag} ${integer ? '8 or 1,8,64' : '2.5 or 1,2,4'}`);
  }
}

export const serve: Command = {
  name: 'serve',
  summary: 'measure tokens per joule of a live OpenAI-compatible server under load',
  usage,
  async run(argv, io) {
    const { values: f, positionals } = parseFlags(argv, options, 'serve');
    if (f.help) { io.stdout.write(usage + '\n'); return EXIT.OK; }
    if (positionals.length) throw badInput('BAD_FLAG', `serve takes no positional arguments, got '${positionals[0]}'`, 'see `wattbench serve --help`');
    if (!f.url) throw badInput('BAD_FLAG', 'serve needs --url', 'e.g. --url http://127.0.0.1:8000');
    if (!f.model) throw badInput('BAD_FLAG', 'serve needs --model', 'the name the server serves (GET /v1/models)');
    if (f.concurrency !== undefined && f.rate !== undefined) throw badInput('BAD_FLAG', '--concurrency and --rate exclude each other', 'a closed loop (--concurrency) or an open loop (--rate)');
    if (f.concurrency === undefined && f.rate === undefined) throw badInput('BAD_FLAG', 'serve needs --concurrency N or --rate R', 'e.g. --concurrency 32');
    if (f.requests === undefined && f.duration === undefined) throw badInput('BAD_FLAG', 'serve needs --requests N or --duration S', 'e.g. --requests 1000');

    const n = (v: string | undefined, flag: string, o: Parameters<typeof num>[2] = {}) => num(v, flag, o);
    const config: Record<string, unknown> = { url: f.url, model: f.model };
    if (f.chat) config.endpoint = 'chat';
    const sweep: Record<string, number[]> = {};
    if (f.concurrency !== undefined) {
      const xs = sweepList(f.concurrency, '--concurrency', true);
      if (xs.length > 1) sweep.concurrency = xs; else config.concurrency = xs[0];
    } else {
      const xs = sweepList(f.rate!, '--rate', false);
      if (xs.length > 1) sweep.rateRps = xs; else config.rateRps = xs[0];
    }
    const set = (key: string, value: unknown) => { if (value !== undefined) config[key] = value; };
    set('burstiness', n(f.burstiness, '--burstiness', { min: 0, exclusiveMin: true }));
    set('maxConcurrency', n(f['max-concurrency'], '--max-concurrency', { integer: true, min: 1 }));
    set('requests', n(f.requests, '--requests', { integer: true, min: 1 }));
    set('durationS', n(f.duration, '--duration', { min: 0, exclusiveMin: true }));
    set('warmupS', n(f.warmup, '--warmup', { min: 0 }));
    set('inputTokens', n(f['input-tokens'], '--input-tokens', { integer: true, min: 1 }));
    set('outputTokens', n(f['output-tokens'], '--output-tokens', { integer: true, min: 1 }));
    set('dataset', f.dataset !== undefined ? resolve(f.dataset) : undefined);
    if (f.shuffle) config.datasetShuffle = true;
    set('promptMode', f['prompt-mode']);
    if (f['no-ignore-eos']) config.ignoreEos = false;
    if (f['no-min-tokens']) config.minTokens = false;
    if (f['extra-body'] !== undefined) {
      let eb: unknown;
      try { eb = JSON.parse(f['extra-body']); } catch { eb = undefined; }
      if (!eb || typeof eb !== 'object' || Array.isArray(eb)) throw badInput('BAD_FLAG', `--extra-body '${f['extra-body']}' is not a JSON object`, `e.g. --extra-body '{"temperature": 0}'`);
      config.extraBody = eb;
    }
    set('apiKeyEnv', f['api-key-env']);
    set('apiKeyHeader', f['api-key-header']);
    const slo: Record<string, number> = {};
    for (const [flag, key] of [['slo-ttft-ms', 'ttftMs'], ['slo-tpot-ms', 'tpotMs'], ['slo-e2e-ms', 'e2eMs']] as const) {
      const v = n(f[flag], `--${flag}`, { min: 0, exclusiveMin: true });
      if (v !== undefined) slo[key] = v;
    }
    if (Object.keys(slo).length) config.slo = slo;
    set('requestTimeoutS', n(f['request-timeout'], '--request-timeout', { min: 0, exclusiveMin: true }));
    set('firstTokenTimeoutS', n(f['first-token-timeout'], '--first-token-timeout', { min: 0, exclusiveMin: true }));
    set('seed', n(f.seed, '--seed', { integer: true, min: 0 }));
    set('chunkTimes', f['chunk-times']);
    set('lateThresholdMs', n(f['late-threshold-ms'], '--late-threshold-ms', { min: 0, exclusiveMin: true }));

    const resolveOpts = { env: io.env, settingName: serveFlagName };
    let plan: Plan;
    try {
      plan = planFromDoc({ runs: [{ workload: 'serve', config, ...(Object.keys(sweep).length ? { matrix: sweep } : {}) }] }, 'command line', resolveOpts);
    } catch (err) {
      throw err instanceof WattbenchError ? inFlagTerms(err) : err;
    }
    checkRunId(f['run-id'], plan.runs.length);
    const sources = planSources(plan.runs, f.source, f['source-opt']);
    const deviceIndices = f.devices?.split(',').map((s) => num(s.trim(), '--devices', { integer: true, min: 0 })!);
    const flags = measurementFlags(f);
    const settings = { ...flags, repetitions: flags.repetitions ?? DEFAULTS.repetitions, idleS: flags.idleS ?? DEFAULTS.idleS, cooldownS: flags.cooldownS ?? DEFAULTS.cooldownS };
    checkRepetitionBounds(settings, '--max-repetitions');
    const progress = createProgress(progressMode(f.progress, f.quiet), io.stderr);
    const outDir = outDirOf(f.out);

    // the server is probed once (URL, model, key, prompt calibration), and the power source, before anything is measured
    for (const r of plan.runs) await r.workload.preflight?.(r.config, resolveOpts);
    await preflightSources(sources, plan.runs.map(() => deviceIndices), io.env);

    const outcomes: RunOutcome[] = [];
    let exit: number = EXIT.OK;
    for (const [i, r] of plan.runs.entries()) {
      if (io.signal.aborted) break;
      try {
        const o = await executeRun({
          label: plan.runs.length > 1 ? `[${i + 1}/${plan.runs.length}] ${r.label}` : r.label,
          workload: r.workload, config: r.config, description: r.description,
          sourceId: sources[i]!.id, sourceOptions: sources[i]!.options, ...(sources[i]!.leaveOut ? { sourceRemedy: sources[i]!.leaveOut } : {}),
          deviceIndices, ...settings,
          outDir, runId: plan.runs.length > 1 && f['run-id'] ? `${f['run-id']}-${i}` : f['run-id'],
          recordHostname: Boolean(f['record-hostname']),
        }, progress, io.signal, io.env);
        outcomes.push(o);
        if ((o.result.status === 'failed' || o.rescued) && exit === EXIT.OK) exit = EXIT.RUN_FAILED;
      } catch (err) {
        if (err instanceof WattbenchError) { progress.end(); printSummary(outcomes, io.stdout); throw err; }
        throw err;
      }
    }
    progress.end();
    printSummary(outcomes, io.stdout);
    printServing(outcomes, io.stdout);
    if (io.signal.aborted) return EXIT.INTERRUPTED;
    return exit;
  },
};

/** The serving figures beside the energy summary: means over the repetitions of each repetition's figure. */
function printServing(outcomes: RunOutcome[], out: NodeJS.WritableStream): void {
  for (const { result } of outcomes) {
    const reps = result.serving?.repetitions ?? [];
    if (!reps.length) continue;
    const m = (name: string) => result.summary?.metrics?.find((x) => x.name === name)?.stats.mean;
    const fmt = (v: number | undefined, d = 1) => (v === undefined ? '–' : v.toFixed(d));
    const total = reps.reduce((s, r) => s + r.requests.total, 0), failed = reps.reduce((s, r) => s + r.requests.failed, 0);
    out.write(`\n${result.workload.name}  ·  serving (mean over ${reps.length} repetition(s); percentiles: ${reps[0]!.percentileMethod})\n`);
    out.write(`  TTFT ms       p50 ${fmt(m('ttft_p50_ms'))}   p99 ${fmt(m('ttft_p99_ms'))}\n`);
    out.write(`  TPOT ms       p50 ${fmt(m('tpot_p50_ms'), 2)}   p99 ${fmt(m('tpot_p99_ms'), 2)}\n`);
    out.write(`  ITL ms        p50 ${fmt(m('itl_p50_ms'), 2)}   p99 ${fmt(m('itl_p99_ms'), 2)}\n`);
    out.write(`  E2E ms        p50 ${fmt(m('e2e_p50_ms'))}   p99 ${fmt(m('e2e_p99_ms'))}\n`);
    out.write(`  throughput    ${fmt(m('requests_per_s'), 2)} req/s   ${fmt(m('output_tokens_per_s_run'))} output tokens/s (whole run)\n`);
    out.write(`  goodput       ${fmt(m('goodput_requests_per_s'), 2)} req/s (${fmt(m('goodput_pct'))}% of requests met the SLO)\n`);
    out.write(`  requests      ${total - failed}/${total} ok${failed ? `, ${failed} failed` : ''}\n`);
  }
}
