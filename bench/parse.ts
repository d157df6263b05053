// Parse throughput of each vendor format, in lines per second (tinybench). Each entry names the driver file that
// owns the parser, the parser, and the inputs to feed it (the real-capture corpus in ../shared/fixtures where it is
// present, else the repo's own fixtures in the same format): a new format is one entry. An entry whose driver
// file, export or input is missing is listed as skipped, so the bench runs on any checkout.
//   node --import tsx bench/parse.ts [--time 500]
import { Bench } from 'tinybench';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SHARED = join(ROOT, '..', 'shared', 'fixtures');
const OWN = join(ROOT, 'tests', 'fixtures');
const timeArg = process.argv.indexOf('--time');
const TIME_MS = timeArg > 0 ? Number(process.argv[timeArg + 1]) : 500;

type Mod = Record<string, any>;
interface Format {
  /** drivers/<file> */
  file: string;
  format: string;
  /** Candidates, best first: 'shared:<path under ../shared/fixtures>' or 'own:<path under tests/fixtures>' or 'gen:<name>'. */
  inputs: string[];
  /** Parse the whole text (one call), or each line (loop parsers fed line by line). */
  run: (mod: Mod, text: string) => unknown;
  perLine?: (mod: Mod, line: string) => unknown;
  /** Turn the stored capture into what the parser sees at run time (e.g. the units nounits strips). */
  prepare?: (text: string) => string;
}

const NV_LOOP_FIELDS = ['timestamp', 'index', 'power.draw', 'power.draw.instant', 'temperature.gpu', 'clocks.sm', 'clocks.mem', 'utilization.gpu', 'memory.used', 'clocks_event_reasons.active'];
const HL_LOOP_FIELDS = ['module_id', 'power.draw', 'temperature.aip', 'utilization.aip', 'memory.used'];

const FORMATS: Format[] = [
  { file: 'nvidia-smi.ts', format: 'nvidia-smi --query-gpu --format=csv (with header, units)', inputs: ['shared:nvidia/yqg9651-cuda_test__h100-pcie__lms1-loop__util_dvfs_random.csv', 'own:nvidia/lms-loop__2gpu__csv.csv'], run: (m, t) => m.parseQueryCsv(t) },
  {
    file: 'nvidia-smi.ts', format: 'nvidia-smi -lms loop row (csv,noheader,nounits)', inputs: ['own:nvidia/lms-loop__2gpu__csv.csv'],
    prepare: (t) => t.split('\n').slice(1).map((l) => l.replace(/ (W|MHz|%|MiB)(?=,|$)/g, '')).join('\n'),
    run: () => undefined, perLine: (m, l) => m.parseLoopRow(l, NV_LOOP_FIELDS, () => 'power.draw.instant'),
  },
  { file: 'nvidia-smi.ts', format: 'nvidia-smi -q -x (XML)', inputs: ['own:nvidia/query-x__2gpu.xml'], run: (m, t) => m.parseQueryXml(t) },
  { file: 'nvidia-smi.ts', format: 'nvidia-smi -q (text)', inputs: ['own:nvidia/query__1gpu.txt'], run: (m, t) => m.parseQueryText(t) },
  { file: 'amd-smi.ts', format: 'amd-smi metric --json', inputs: ['own:amd/amd-smi_metric-p-E-t-u-m--json__MI300X-2x-CPX__mirrored__frame1.json'], run: (m, t) => m.parseAmdSmiJson(t) },
  { file: 'amd-smi.ts', format: 'amd-smi monitor (table)', inputs: ['shared:amd/amdsmi-CHANGELOG-example__amd-smi_monitor-p-t-v__MI300X-CPX-32part.txt', 'own:amd/amd-smi_monitor-ptv__4gpu.txt'], run: (m, t) => m.parseAmdMonitor(t) },
  { file: 'amd-smi.ts', format: 'rocm-smi --json', inputs: ['own:amd/rocm-smi_showpower-showenergycounter--json__MI250X-1card__frame1.json'], run: (m, t) => m.parseRocmSmiJson(t) },
  { file: 'npu-smi.ts', format: 'npu-smi info (table)', inputs: ['shared:ascend/npu-smi-info__910B3x8__npu-smi-23.0.7__idle__vllm-ascend-issue-198.txt', 'own:ascend/npu-smi-info__AtlasA3-2cards__frame1.txt'], run: (m, t) => m.parseNpuSmiInfo(t) },
  { file: 'npu-smi.ts', format: 'npu-smi info -t power (key : value)', inputs: ['own:ascend/npu-smi-info-t-power-i-3__910B3.txt'], run: (m, t) => m.parseNpuSmiKeyValues(t) },
  { file: 'hl-smi.ts', format: 'hl-smi -Q … -f csv,noheader (loop)', inputs: ['own:hl-smi/loop__module_id-power-temp-util-mem.txt'], run: (m, t) => m.parseHlSmiCsv(t, HL_LOOP_FIELDS) },
  { file: 'xpu-smi.ts', format: 'xpu-smi dump (CSV)', inputs: ['shared:intel/alcf-aurora__xpu-smi_dump-d-0..5-m-0-1-2-5__DataCenterGPUMax1550.txt', 'own:xpu-smi/dump-d-0,1-m-0,1,2,3,8,18__cumulative-energy.txt'], run: (m, t) => m.parseXpuDump(t) },
  { file: 'cnmon.ts', format: 'cnmon (table)', inputs: ['shared:others/cnmon__MLU370-X8x2__CNMON-v5.10.13__paddle-docs.txt', 'own:cnmon/cnmon-v4__2x-MLU370-X4.txt'], run: (m, t) => m.parseCnmon(t) },
  { file: 'efsmi.ts', format: 'efsmi (table)', inputs: ['shared:others/efsmi__Enflame-S60x2__EFSMI-V1.2.0.301__paddle-docs.txt', 'own:efsmi/efsmi-1.7__2x-L300.txt'], run: (m, t) => m.parseEfsmi(t) },
  { file: 'hy-smi.ts', format: 'hy-smi (table)', inputs: ['shared:others/hy-smi__Hygon-BW1000x2__DTK-26.04__real-output-test-fixture.txt', 'own:hy-smi/hy-smi__4x-K100-AI__one-NA.txt'], run: (m, t) => m.parseHySmi(t) },
  { file: 'mx-smi.ts', format: 'mx-smi (table)', inputs: ['shared:others/mx-smi__MetaX-MXC550x8__mx-smi-2.1.6__PaddleNLP-docs.txt', 'own:mx-smi/mx-smi-2.2__2x-C500.txt'], run: (m, t) => m.parseMxSmi(t) },
  { file: 'ixsmi.ts', format: 'ixsmi (table)', inputs: ['shared:others/ixsmi__Iluvatar-BI-V150x16__IX-ML-4.1.0__PaddleNLP-docs.txt', 'own:ixsmi/ixsmi__4x-BI-V150__dual-die.txt'], run: (m, t) => m.parseIxsmi(t) },
  { file: 'mthreads-gmi.ts', format: 'mthreads-gmi (table)', inputs: ['shared:others/mthreads-gmi__MTT-S80__mthreads-gmi-1.14.0__Driver-2.7.0.txt', 'own:mthreads-gmi/mthreads-gmi__3x-S4000.txt'], run: (m, t) => m.parseMthreadsGmi(t) },
  { file: 'mthreads-gmi.ts', format: 'mthreads-gmi -q --json', inputs: ['own:mthreads-gmi/mthreads-gmi-q-json__3x-S4000.json'], run: (m, t) => m.parseMthreadsQuery(t) },
  { file: 'kunlun-xpu-smi.ts', format: 'xpu_smi (table)', inputs: ['shared:others/xpu_smi__Kunlunxin-R300x2__paddle-docs.txt', 'own:kunlun-xpu-smi/xpu_smi__K200-1card-2die.txt'], run: (m, t) => m.parseXpuSmiTable(t) },
  { file: 'kunlun-xpu-smi.ts', format: 'xpu_smi -m (machine lines)', inputs: ['own:kunlun-xpu-smi/xpu_smi-m__2x-P800__W.txt'], run: (m, t) => m.parseXpuSmiM(t) },
  { file: 'tt-smi.ts', format: 'tt-smi -s (JSON snapshot)', inputs: ['shared:others/tt-smi-s__p300c-Blackhole__compact-real-world-snapshot__tt-toplike-test.json', 'own:tt-smi/tt-smi-s__n300-plus-p150a-no-TDP.json'], run: (m, t) => m.parseTtSmiSnapshot(t) },
  { file: 'tegrastats.ts', format: 'tegrastats line', inputs: ['shared:others/tegrastats__AGX-Orin-devkit__JetPack7.2-L4T-R39.2__jetson_stats-test.txt', 'own:tegrastats/orin-nx__jetpack6__interval-100.txt'], run: () => undefined, perLine: (m, l) => m.parseTegrastatsLine(l) },
  { file: 'prometheus.ts', format: 'Prometheus exposition (scrape)', inputs: ['own:datacenter/dcgm-exporter-2gpu.prom'], run: (m, t) => m.parseExposition(t) },
  { file: 'prometheus.ts', format: 'Prometheus API query_range (JSON)', inputs: ['own:datacenter/query-range-power.json'], run: (m, t) => m.parseApiResponse(JSON.parse(t)) },
  { file: 'ipmi.ts', format: 'ipmitool dcmi power reading', inputs: ['own:datacenter/ipmitool-dcmi-activated.txt'], run: (m, t) => m.parseDcmiPowerReading(t) },
  { file: 'redfish.ts', format: 'Redfish Power (JSON)', inputs: ['own:datacenter/redfish/Node0-Power.json'], run: (m, t) => m.parseRedfishPower(JSON.parse(t)) },
  { file: 'replay.ts', format: 'replay trace (CSV, 8 devices)', inputs: ['gen:replay-8'], run: (m, t) => m.parseTrace(t) },
  { file: 'estimate.ts', format: '/proc/stat', inputs: ['gen:proc-stat'], run: (m, t) => m.parseProcStat(t) },
];

function generated(name: string): string | undefined {
  if (name === 'replay-8') {
    const rows = ['t_s,power_w,device'];
    for (let i = 0; i < 300; i++) for (let d = 0; d < 8; d++) rows.push(`${(i / 10).toFixed(3)},${(300 + 100 * Math.sin(i / 7 + d)).toFixed(2)},${d}`);
    return rows.join('\n') + '\n';
  }
  if (name === 'proc-stat') return existsSync('/proc/stat') ? readFileSync('/proc/stat', 'utf8') : undefined;
  return undefined;
}

function load(spec: string): { text: string; from: string } | undefined {
  const [kind, rest] = [spec.slice(0, spec.indexOf(':')), spec.slice(spec.indexOf(':') + 1)];
  if (kind === 'gen') { const t = generated(rest); return t === undefined ? undefined : { text: t, from: `generated ${rest}` }; }
  const p = join(kind === 'shared' ? SHARED : OWN, rest);
  return existsSync(p) ? { text: readFileSync(p, 'utf8'), from: `${kind === 'shared' ? '../shared/fixtures' : 'tests/fixtures'}/${rest}` } : undefined;
}

const lineCount = (t: string) => t.split('\n').filter((l) => l.trim()).length;
interface Row { file: string; format: string; from: string; lines: number; meanUs: number; rme: number; linesPerS: number }
const rows: Row[] = [], skipped: string[] = [];
const bench = new Bench({ time: TIME_MS });
const pending: Array<{ name: string; file: string; format: string; from: string; lines: number }> = [];

for (const f of FORMATS) {
  const path = join(ROOT, 'drivers', f.file);
  if (!existsSync(path)) { skipped.push(`${f.format}: drivers/${f.file} does not exist yet`); continue; }
  let mod: Mod;
  try { mod = await import(`../drivers/${f.file.replace(/\.ts$/, '.js')}`); } catch (err) { skipped.push(`${f.format}: cannot import drivers/${f.file} (${(err as Error).message.split('\n')[0]})`); continue; }
  const input = f.inputs.map(load).find(Boolean);
  if (!input) { skipped.push(`${f.format}: none of its inputs is here (${f.inputs.join(', ')})`); continue; }
  const text = f.prepare ? f.prepare(input.text) : input.text;
  const lines = text.split('\n').filter((l) => l.trim());
  const fn = f.perLine ? () => { for (const l of lines) f.perLine!(mod, l); } : () => f.run(mod, text);
  try { fn(); } catch (err) { skipped.push(`${f.format}: the parser threw on ${input.from} (${(err as Error).message.split('\n')[0]})`); continue; }
  const name = `${f.file} ${f.format}`;
  bench.add(name, fn);
  pending.push({ name, file: f.file, format: f.format, from: input.from, lines: lineCount(text) });
}

await bench.run();
for (const p of pending) {
  const task = bench.tasks.find((t) => t.name === p.name);
  const r = task?.result as unknown as { latency?: { mean: number; rme: number }; mean?: number; rme?: number; error?: unknown } | undefined;
  const meanMs = r?.latency?.mean ?? r?.mean ?? NaN;
  if (!Number.isFinite(meanMs)) { skipped.push(`${p.format}: no timing (${String(r?.error ?? 'errored')})`); continue; }
  rows.push({ file: p.file, format: p.format, from: p.from, lines: p.lines, meanUs: meanMs * 1000, rme: r?.latency?.rme ?? r?.rme ?? NaN, linesPerS: p.lines / (meanMs / 1000) });
}

const fmt = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)} k` : x.toFixed(0));
console.log(`node ${process.versions.node}, tinybench, ${TIME_MS} ms per task\n`);
console.log('| driver | format | input | lines | time per input (µs) | ± rme | lines/s |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.file} | ${r.format} | ${r.from} | ${r.lines} | ${r.meanUs.toFixed(1)} | ${r.rme.toFixed(1)}% | ${fmt(r.linesPerS)} |`);
if (skipped.length) { console.log('\nskipped:'); for (const s of skipped) console.log(`- ${s}`); }
