// ipmi: node wall power from the BMC through `ipmitool dcmi power reading` (DCMI Get Power Reading). Scope = node:
// it covers everything behind the power supplies (CPUs, accelerators, fans, PSU losses). One-shot tool, polled.
//
// Output (ipmitool lib/ipmi_dcmi.c; real captures in ../shared/fixtures/datacenter): a blank line, then
//     Instantaneous power reading:                   374 Watts
//     Minimum during sampling period:                  8 Watts
//     ...
//     Sampling period:                          00000001 Seconds.
//     Power reading state is:                   activated
// "deactivated" means the BMC does not measure: its numbers are not readings, whatever they say.
//
// Remote BMCs: host=, user from WATTBENCH_IPMI_USER, password from IPMI_PASSWORD (ipmitool -E reads it itself), so
// no credential is ever on a command line, in a result, or in a log. The recorded command names the variables.
import type { Driver, ProbeResult } from './driver.js';
import { findOnPath, runCommand } from '../lib/process.js';
import { supervisePoll } from '../lib/supervise.js';

export interface DcmiReading {
  /** Instantaneous power, W; undefined when the reading state is deactivated or the value is missing. */
  powerW?: number;
  minW?: number;
  maxW?: number;
  averageW?: number;
  samplingPeriodS?: number;
  state?: 'activated' | 'deactivated' | string;
  bmcTime?: string;
}

const watts = (v: string | undefined) => {
  const m = v === undefined ? null : /^(-?\d+(?:\.\d+)?)\s*Watts?/i.exec(v.trim());
  return m ? Number(m[1]) : undefined;
};

/** Parse `ipmitool dcmi power reading` output. Pure; any indentation (spaces or tabs). */
export function parseDcmiPowerReading(text: string): DcmiReading {
  const r: DcmiReading = {};
  for (const raw of text.split(/\r?\n/)) {
    const i = raw.indexOf(':');
    if (i < 0) continue;
    const key = raw.slice(0, i).trim().toLowerCase();
    const val = raw.slice(i + 1).trim();
    if (key.startsWith('instantaneous power reading')) r.powerW = watts(val);
    else if (key.startsWith('minimum during sampling period')) r.minW = watts(val);
    else if (key.startsWith('maximum during sampling period')) r.maxW = watts(val);
    else if (key.startsWith('average power reading')) r.averageW = watts(val);
    else if (key.startsWith('ipmi timestamp')) r.bmcTime = val;
    else if (key.startsWith('sampling period')) { const m = /(\d+)/.exec(val); if (m) r.samplingPeriodS = Number(m[1]); }
    else if (key.startsWith('power reading state')) r.state = val.toLowerCase().replace(/\.$/, '');
  }
  if (r.state === 'deactivated') delete r.powerW;
  return r;
}

/** argv for ipmitool: local (in-band, /dev/ipmi0) or remote with -I lanplus -H host -U user -E. */
export function ipmitoolArgs(options: Record<string, string>, env: NodeJS.ProcessEnv): { args: string[]; shown: string[]; problem?: string } {
  const base = ['dcmi', 'power', 'reading'];
  const host = options.host;
  if (!host) return { args: base, shown: base };
  const user = env.WATTBENCH_IPMI_USER;
  if (!user) return { args: [], shown: [], problem: 'a remote BMC needs its user in WATTBENCH_IPMI_USER and its password in IPMI_PASSWORD (never on the command line)' };
  if (env.IPMI_PASSWORD === undefined) return { args: [], shown: [], problem: 'set the BMC password in IPMI_PASSWORD (ipmitool -E reads it from there)' };
  const iface = options.interface ?? 'lanplus';
  const pre = ['-I', iface, '-H', host];
  return { args: [...pre, '-U', user, '-E', ...base], shown: [...pre, '-U', '$WATTBENCH_IPMI_USER', '-E', ...base] };
}

export const ipmi: Driver = {
  meta: {
    id: 'ipmi', title: 'BMC node power (ipmitool dcmi power reading)', vendor: 'IPMI', scope: 'node', priority: 30,
    defaultIntervalMs: 1000, minIntervalMs: 250,
    options: {
      host: 'remote BMC address (default: the local BMC through /dev/ipmi0); user from WATTBENCH_IPMI_USER, password from IPMI_PASSWORD',
      interface: 'ipmitool interface for host= (default lanplus)',
      ipmitool: 'path of ipmitool (default: from PATH)',
    },
  },
  async probe(ctx): Promise<ProbeResult> {
    const tool = await findOnPath(ctx.options.ipmitool ?? 'ipmitool', ctx.env.PATH ?? '');
    if (!tool) return { state: 'unavailable', code: 'not-installed', reason: 'ipmitool is not on PATH — install it (apt-get install ipmitool) or pass --source ipmi --source-opt ipmitool=PATH' };
    const a = ipmitoolArgs(ctx.options, ctx.env);
    if (a.problem) return { state: 'unavailable', code: 'not-configured', reason: a.problem };
    const r = await runCommand(tool, a.args, { env: ctx.env as Record<string, string>, extendEnv: false, timeoutMs: 8000, signal: ctx.signal });
    if (r.spawnError) return { state: 'unavailable', code: 'error', reason: `ipmitool could not start (${r.spawnError.code})` };
    if (r.timedOut) return { state: 'unavailable', code: 'error', reason: `ipmitool ${a.shown.join(' ')} did not answer within 8 s (no BMC reachable?)` };
    if (r.exitCode !== 0) {
      const err = (r.stderr.trim() || r.stdout.trim()).split('\n').pop()?.slice(0, 300) ?? '';
      const denied = /permission denied/i.test(err);
      const noDevice = !denied && /could not open device|no such file/i.test(err);
      const hint = denied ? ' — run as root (or give this user access to /dev/ipmi0), or use host= for the BMC over the network'
        : noDevice ? ' — no local BMC interface: load the ipmi_si and ipmi_devintf modules, or use host= for the BMC over the network' : '';
      return { state: 'unavailable', code: denied ? 'permission-denied' : noDevice ? 'no-devices' : 'error', reason: `ipmitool ${a.shown.join(' ')} failed (code ${r.exitCode}): ${err}${hint}` };
    }
    const reading = parseDcmiPowerReading(r.stdout);
    if (reading.state === 'deactivated') return { state: 'unavailable', code: 'no-power-field', reason: 'the BMC says "Power reading state is: deactivated": it does not measure power (DCMI power reading is off or unsupported on this board)' };
    if (reading.powerW === undefined) return { state: 'unavailable', code: 'no-power-field', reason: `ipmitool printed no instantaneous power reading: ${JSON.stringify(r.stdout.trim().slice(0, 200))}` };
    return {
      state: 'ok',
      devices: [{ id: 'ipmi:node', index: 0, vendor: 'IPMI', name: ctx.options.host ? 'node (remote BMC)' : 'node (BMC)', kind: 'node' }],
      semantics: {
        kind: 'instantaneous',
        // BMCs refresh the DCMI reading about once per sampling period (1 s on the captured boards)
        updatePeriodMs: (reading.samplingPeriodS || 1) * 1000,
        field: 'dcmi power reading: Instantaneous power reading',
        note: `node wall power from the BMC, whole watts; sampling period ${reading.samplingPeriodS ?? 'unknown'} s`,
      },
      private: { tool, args: a.args, shown: a.shown },
    };
  },
  async start(opts) {
    const p = opts.probe.private as { tool: string; args: string[]; shown: string[] };
    const deviceId = 'ipmi:node';
    if (!opts.devices.some((d) => d.id === deviceId)) return { stop: async () => {} };
    const sup = supervisePoll({
      file: p.tool, args: p.args, env: opts.env, clock: opts.clock, signal: opts.signal, sink: opts.sink,
      intervalMs: opts.intervalMs, timeoutMs: Math.max(5000, 3 * opts.intervalMs),
      onOutput: (stdout, tS) => {
        const r = parseDcmiPowerReading(stdout);
        if (r.powerW === undefined) return 0; // deactivated or missing: a gap, never 0 W
        opts.sink.sample({ tS, sourceId: 'ipmi', deviceId, powerW: r.powerW });
        return 1;
      },
    });
    return { command: ['ipmitool', ...p.shown], stop: () => sup.stop() };
  },
};
