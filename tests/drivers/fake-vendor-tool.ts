// A fake vendor CLI for process-level tests: an executable named like the real tool, put first on PATH,
// that replays a capture. Routes pick the capture by the arguments the driver passed; a plan per invocation
// makes a given run exit early, print garbage, print a truncated line or hang, so the real
// spawn → parse → stop path and its restart/gap handling are exercised.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../helpers/cli.js';
import type { Sample } from '../../results/samples.js';
import type { GapReport, SamplerSink } from '../../drivers/driver.js';

export interface FakeRoute {
  /** Capture file to replay. */
  file: string;
  /** once: print it all and exit 0; loop: print a line per interval, cycling; stream: print once a line per interval, then stay alive. */
  mode: 'once' | 'loop' | 'stream';
  /** Lines printed before the first interval wait (a CSV header, say). */
  headerLines?: number;
}

export interface FakeRunPlan {
  /** Print this many lines, then exit with exitCode (default 3). */
  exitAfter?: number;
  exitCode?: number;
  /** Print this many lines, then stop printing but stay alive (hung). */
  hangAfter?: number;
  /** Print these lines first. */
  garbage?: string[];
  /** End with this text and no newline (a line cut by the tool dying). */
  truncated?: string;
  /** Print this to stderr and exit with exitCode (default 1) without any stdout. */
  fail?: string;
}

export interface FakeTool {
  dir: string;
  /** PATH with the fake first. */
  env: NodeJS.ProcessEnv;
  /** One JSON array of argv per invocation, in order. */
  argsLog: string;
}

/**
 * Create `name` in a fresh directory. routes: "exact args" or "prefix*" → route; the key "" is the
 * no-argument call. plans[i] applies to the i-th invocation (0-based, counting every call, probes included).
 */
export async function makeFakeTool(name: string, routes: Record<string, FakeRoute>, plans: Record<number, FakeRunPlan> = {}, intervalOverrideMs?: number): Promise<FakeTool> {
  const dir = await tempDir(`wb-fake-${name}-`);
  const bin = join(dir, 'bin');
  await mkdir(bin, { recursive: true });
  const state = join(dir, 'count');
  const argsLog = join(dir, 'args.log');
  const script = `#!${process.execPath}
// fake ${name} for wattbench tests (CommonJS: no package.json beside it)
const fs = require('fs');
const routes = ${JSON.stringify(routes)};
const plans = ${JSON.stringify(plans)};
const override = ${JSON.stringify(intervalOverrideMs ?? null)};
let run = 0;
try { run = Number(fs.readFileSync(${JSON.stringify(state)}, 'utf8')) || 0; } catch {}
fs.writeFileSync(${JSON.stringify(state)}, String(run + 1));
const argv = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(argsLog)}, JSON.stringify(argv) + '\\n');
const key = argv.join(' ');
let route = routes[key];
if (!route) for (const [k, r] of Object.entries(routes)) if (k.endsWith('*') && key.startsWith(k.slice(0, -1))) { route = r; break; }
if (!route) { process.stderr.write('fake ${name}: unknown arguments: ' + key + '\\n'); process.exit(2); }
const plan = plans[run] || {};
if (plan.fail) { process.stderr.write(plan.fail + '\\n'); process.exit(plan.exitCode ?? 1); }
const text = fs.readFileSync(route.file, 'utf8');
function argInterval() {
  if (override) return override;
  const i = argv.indexOf('--interval'); if (i >= 0) return Number(argv[i + 1]);
  const l = argv.indexOf('-l'); if (l >= 0) return Number(argv[l + 1]) * 1000;
  const s = argv.indexOf('-i'); if (s >= 0) return Number(argv[s + 1]) * 1000;
  return 100;
}
const out = (s) => process.stdout.write(s);
for (const g of plan.garbage || []) out(g + '\\n');
if (route.mode === 'once') {
  out(text);
  if (plan.truncated) out(plan.truncated);
  process.exit(plan.exitCode ?? 0);
}
const all = text.split('\\n').filter((l) => l.length > 0);
const header = all.slice(0, route.headerLines || 0);
const body = all.slice(route.headerLines || 0);
for (const h of header) out(h + '\\n');
let printed = 0, i = 0;
const ms = argInterval();
const tick = () => {
  if (plan.exitAfter !== undefined && printed >= plan.exitAfter) {
    if (plan.truncated) out(plan.truncated);
    process.exit(plan.exitCode ?? 3);
  }
  if (plan.hangAfter !== undefined && printed >= plan.hangAfter) return; // alive, silent
  if (i >= body.length) { if (route.mode === 'stream') return; i = 0; }
  out(body[i++] + '\\n');
  printed++;
};
tick();
setInterval(tick, ms);
`;
  const file = join(bin, name);
  await writeFile(file, script);
  await chmod(file, 0o755);
  return { dir, env: { PATH: `${bin}:${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? '/tmp' }, argsLog };
}

/** Collects everything a sampler reports. */
export function recordingSink(): SamplerSink & { samples: Sample[]; gaps: GapReport[]; restarts: string[]; notes: string[] } {
  const rec = { samples: [] as Sample[], gaps: [] as GapReport[], restarts: [] as string[], notes: [] as string[] };
  return {
    ...rec,
    sample: (s) => { rec.samples.push(s); },
    gap: (g) => { rec.gaps.push(g); },
    restarted: (why) => { rec.restarts.push(why); },
    note: (m) => { rec.notes.push(m); },
  };
}

/** Wait until cond() holds or the time runs out (generous: CI machines are slow and shared). */
export async function waitFor(cond: () => boolean, timeoutMs: number, stepMs = 25): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return cond();
}
