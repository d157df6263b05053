// How fast is the serving load generator, so it is never the bottleneck? Runs workloads/serve's client and load
// loop (this process) against the fake streaming server (tests/serve/fake-server.ts) in ANOTHER process, so the
// CPU time measured here is the client's alone, and prints two tables:
//   1. streamed chunks per second: closed loop at several concurrencies, the server streaming as fast as it can
//      (one chunk per write per stream); chunks/s over wall time, this process's CPU share, and chunks per
//      CPU-second of this process — the most one core sustains (the client's JavaScript runs on one thread).
//   2. client-side TTFT overhead at 256 concurrent streams: the server paces tokens like an engine and stamps its
//      own receive and first-write times (CLOCK_MONOTONIC, the same clock as process.hrtime here) into the chunk
//      id; overhead = TTFT measured by the client − (first write − receive) on the server. That still holds
//      loopback, the kernel's wake-ups and the server's own HTTP stack, so a minimal raw-socket client
//      (bench/ttft-probe.ts, in its own process) measures the same at the same moment, and the table gives the
//      difference: what the load generator itself adds.
// Targets: ≥ 50,000 chunks/s on one core; TTFT overhead < 1 ms.
//
//   node --import tsx bench/serve-client.ts [--duration S] [--concurrency 16,64,256] [--output-tokens N]
//                                           [--streams 1,256] [--ttft-ms 20] [--tpot-ms 20] [--only chunks|ttft]
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { spawnStreaming, type StreamingHandle } from '../lib/process.js';
import { StreamClient } from '../workloads/serve/client.js';
import { runLoad } from '../workloads/serve/load.js';
import { requestBody, tokenIdPrompt } from '../workloads/serve/prompts.js';
import { distribution } from '../workloads/serve/metrics.js';
import { ok, type RequestRecord } from '../workloads/serve/records.js';

const arg = (name: string, def: string) => { const i = process.argv.indexOf(name); return i >= 0 ? process.argv[i + 1]! : def; };
const durationS = Number(arg('--duration', '5'));
const concurrencies = arg('--concurrency', '16,64,256').split(',').map(Number);
const outputTokens = Number(arg('--output-tokens', '2000'));
const streamCounts = arg('--streams', '1,256').split(',').map(Number);
const ttftMs = Number(arg('--ttft-ms', '20'));
const tpotMs = Number(arg('--tpot-ms', '20'));
const only = arg('--only', 'all'); // chunks | ttft | all

const serverScript = fileURLToPath(new URL('../tests/serve/fake-server.ts', import.meta.url));
const probeScript = fileURLToPath(new URL('./ttft-probe.ts', import.meta.url));
const tsx = import.meta.resolve('tsx');

async function startServer(args: string[]): Promise<{ url: string; handle: StreamingHandle; pid: number }> {
  let resolvePort!: (p: number) => void;
  const port = new Promise<number>((r) => { resolvePort = r; });
  const handle = spawnStreaming(process.execPath, ['--import', tsx, serverScript, ...args], {
    onStdoutLine: (line) => { try { resolvePort(JSON.parse(line).port); } catch { /* not the port line */ } },
  });
  const p = await Promise.race([port, handle.done.then((r) => { throw new Error(`fake server exited: ${r.stderr}`); })]);
  return { url: `http://127.0.0.1:${p}/v1/completions`, handle, pid: handle.pid! };
}

/** CPU seconds a process has used (utime + stime from /proc), for the server's share. */
function procCpuS(pid: number): number | null {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / 100; // clock ticks; USER_HZ is 100 on Linux
  } catch { return null; }
}

// the server's own node process (the group leader runs node --import tsx … directly)
const monotonicS = () => Number(process.hrtime.bigint()) / 1e9;

async function load(url: string, concurrency: number, out: number, bound: { durationS?: number; requests?: number }) {
  const client = new StreamClient({ url, maxSockets: concurrency, firstTokenTimeoutMs: 60_000, requestTimeoutMs: 600_000, now: monotonicS });
  const opts = { model: 'bench', endpoint: 'completions', ignoreEos: true, minTokens: true } as const;
  const bodies = Array.from({ length: 64 }, (_, i) => requestBody(opts, { kind: 'ids', ids: tokenIdPrompt(1, i, 64, [1000, 9999]) }, out));
  const cpu0 = process.cpuUsage();
  const t0 = monotonicS();
  const run = await runLoad({
    shape: { kind: 'closed', concurrency }, bound, seed: 1, now: monotonicS, signal: new AbortController().signal,
    send: (i, scheduledS) => client.send({ index: i, scheduledS, body: bodies[i % bodies.length]!, targetOutputTokens: out }),
  });
  const wallS = monotonicS() - t0;
  const cpu = process.cpuUsage(cpu0);
  client.close();
  return { run, wallS, cpuS: (cpu.user + cpu.system) / 1e6 };
}

const pad = (s: string | number, n: number) => String(s).padStart(n);

// ---- 1. chunks per second
async function chunksTable(): Promise<void> {
  const fast = await startServer([]);
  console.log(`\nstreamed chunks/s — server: separate process, no pacing; ${outputTokens}-token streams; ${durationS} s per row`);
  console.log(`${'concurrency'.padEnd(12)}${pad('chunks', 10)}${pad('chunks/s', 11)}${pad('client CPU', 12)}${pad('chunks/CPU-s', 14)}${pad('µs/chunk', 10)}${pad('server CPU', 12)}${pad('failed', 8)}`);
  let best = 0;
  await load(fast.url, 8, 200, { requests: 64 }); // warm up the JIT and the sockets
  for (const c of concurrencies) {
    const s0 = procCpuS(fast.pid);
    const { run, wallS, cpuS } = await load(fast.url, c, outputTokens, { durationS });
    const s1 = procCpuS(fast.pid);
    const chunks = run.records.reduce((s, r) => s + r.chunkTimes.n, 0);
    const failed = run.records.filter((r) => !ok(r)).length;
    const perCpu = chunks / cpuS;
    best = Math.max(best, perCpu);
    const serverCpu = s0 !== null && s1 !== null ? `${((100 * (s1 - s0)) / wallS).toFixed(0)}%` : '?';
    console.log(`${String(c).padEnd(12)}${pad(chunks, 10)}${pad((chunks / wallS).toFixed(0), 11)}${pad(`${((100 * cpuS) / wallS).toFixed(0)}%`, 12)}${pad(perCpu.toFixed(0), 14)}${pad(((1e6 * cpuS) / chunks).toFixed(2), 10)}${pad(serverCpu, 12)}${pad(failed, 8)}`);
  }
  await fast.handle.stop();
  console.log(`most chunks per client CPU-second: ${best.toFixed(0)} (target ≥ 50000) ${best >= 50000 ? 'OK' : 'BELOW TARGET'}`);
}

// ---- 2. TTFT overhead at N concurrent streams (1 stream: this machine's floor)
/** Run bench/ttft-probe.ts beside the load: the TTFT overheads (ms) of a minimal raw-socket client at the same moment. */
function startProbe(url: string, seconds: number): Promise<number[]> {
  const overheads: number[] = [];
  const handle = spawnStreaming(process.execPath, ['--import', tsx, probeScript, url, String(seconds)], {
    onStdoutLine: (line) => {
      try {
        const p = JSON.parse(line);
        overheads.push(((p.firstS - p.sentS) - (p.firstWriteS - p.recvS)) * 1000);
      } catch { /* not a probe line */ }
    },
  });
  return handle.done.then(() => overheads);
}

async function ttftTable(): Promise<void> {
  const paced = await startServer(['--ttft-ms', String(ttftMs), '--tpot-ms', String(tpotMs), '--stamp-ids']);
  const ttftOut = 50;
  await load(paced.url, 8, 4, { requests: 32 }); // warm-up
  console.log(`\nTTFT overhead, ms. client = the load generator's TTFT − the server's own (first write − receive): it includes loopback,`);
  console.log(`the kernel's wake-ups and the server's HTTP stack. probe = the same for a minimal raw-socket client (bench/ttft-probe.ts, its`);
  console.log(`own process) sending short requests at the same time. added = client − probe: what the load generator itself adds.`);
  console.log(`server: ttft ${ttftMs} ms, tpot ${tpotMs} ms, ${ttftOut}-token streams; ${durationS * 2} s per row; requests of the first wave (connection set-up) left out`);
  console.log(`${'streams'.padEnd(9)}${pad('chunks/s', 9)}${pad('cli CPU', 9)}${pad('loop p99', 10)}${pad('n', 7)}${pad('client p50', 12)}${pad('mean', 8)}${pad('p90', 8)}${pad('p99', 8)}${pad('probe n', 9)}${pad('p50', 8)}${pad('mean', 8)}${pad('added p50', 11)}${pad('mean', 8)}`);
  const summary: string[] = [];
  for (const streams of streamCounts) {
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const probe = startProbe(paced.url, durationS * 2 - 1);
    const { run, wallS, cpuS } = await load(paced.url, streams, ttftOut, { durationS: durationS * 2 });
    loop.disable();
    const pd = distribution(await probe);
    const steady: number[] = [];
    [...run.records].sort((a, b) => a.sentS - b.sentS).forEach((r: RequestRecord, k) => {
      const m = r.responseId?.match(/^cmpl-\d+-(\d+)-(\d+)$/);
      if (!ok(r) || !m || r.firstTokenS === null || k < streams) return;
      const recvS = Number(BigInt(m[1]!)) / 1e9, firstS = Number(BigInt(m[2]!)) / 1e9;
      steady.push(((r.firstTokenS - r.sentS) - (firstS - recvS)) * 1000);
    });
    const chunks = run.records.reduce((s, r) => s + r.chunkTimes.n, 0);
    const d = distribution(steady);
    const f = (x: number | null | undefined, w: number) => pad(x === null || x === undefined ? '–' : x.toFixed(3), w);
    const addedP50 = d.p50 !== null && pd.p50 !== null ? d.p50 - pd.p50 : null;
    const addedMean = d.mean !== null && pd.mean !== null ? d.mean - pd.mean : null;
    console.log(`${String(streams).padEnd(9)}${pad((chunks / wallS).toFixed(0), 9)}${pad(`${((100 * cpuS) / wallS).toFixed(0)}%`, 9)}${pad((loop.percentile(99) / 1e6).toFixed(2), 10)}${pad(d.n, 7)}${f(d.p50, 12)}${f(d.mean, 8)}${f(d.p90, 8)}${f(d.p99, 8)}${pad(pd.n, 9)}${f(pd.p50, 8)}${f(pd.mean, 8)}${f(addedP50, 11)}${f(addedMean, 8)}`);
    summary.push(`${streams} streams: added p50 ${addedP50?.toFixed(3)} ms, mean ${addedMean?.toFixed(3)} ms (end to end p50 ${d.p50?.toFixed(3)}, mean ${d.mean?.toFixed(3)})`);
  }
  await paced.handle.stop();
  console.log(`TTFT overhead the load generator adds (target < 1 ms at 256 streams): ${summary.join('; ')}`);
}

if (only !== 'ttft') await chunksTable();
if (only !== 'chunks') await ttftTable();
