// `wattbench sample`: only sample a power source for a while, and say what it saw.
import type { Command } from './command.js';
import { parseFlags, num } from './command.js';
import { chooseSource, checkSourceOptFlags } from '../sources.js';
import { createRunClock, sleepMs } from '../../lib/clock.js';
import { EXIT, badInput } from '../../lib/errors.js';
import type { Sample } from '../../results/samples.js';
import { windowEnergy } from '../analyse.js';

export const options = {
  source: { type: 'string' }, duration: { type: 'string' }, interval: { type: 'string' }, json: { type: 'boolean' },
  'source-opt': { type: 'string', multiple: true }, devices: { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

const usage = `wattbench sample --duration S [--source NAME] [--interval MS] [--json] [--source-opt K=V] [--devices 0,1]

Sample a power source without running a workload (without --source, the best one that works here, as in
\`wattbench devices\`). Prints each device's mean power and energy; with --json,
every sample and the summary as one JSON document.`;

export const sample: Command = {
  name: 'sample', summary: 'only sample a power source for a while', usage,
  async run(argv, io) {
    const { values: f, positionals } = parseFlags(argv, options, 'sample');
    if (f.help) { io.stdout.write(usage + '\n'); return EXIT.OK; }
    if (positionals.length) throw badInput('BAD_FLAG', `sample takes no arguments, got '${positionals[0]}'`, 'give everything as flags, e.g. wattbench sample --duration 5');
    const duration = num(f.duration, '--duration', { min: 0, exclusiveMin: true });
    if (duration === undefined) throw badInput('BAD_FLAG', 'sample needs --duration S', 'e.g. wattbench sample --source rapl --duration 5');
    const { common, scoped } = checkSourceOptFlags(f.source, f['source-opt']);
    const optionsFor = (id: string) => ({ ...(id === f.source ? common : {}), ...(scoped.get(id) ?? {}) });
    const choice = await chooseSource(io.env, f.source, optionsFor);
    const { driver, probe } = choice.chosen;
    let devices = probe.devices;
    if (f.devices) {
      const want = f.devices.split(',').map((s) => num(s.trim(), '--devices', { integer: true, min: 0 })!);
      devices = devices.filter((d) => want.includes(d.index ?? -1));
      if (!devices.length) throw badInput('NO_SUCH_DEVICE', `${driver.meta.id} has none of devices ${f.devices}`, 'see `wattbench devices`');
    }
    const intervalMs = Math.max(num(f.interval, '--interval', { min: 0, exclusiveMin: true }) ?? driver.meta.defaultIntervalMs, driver.meta.minIntervalMs);
    const clock = createRunClock();
    const samples: Sample[] = [];
    const gaps: Array<{ startS: number; endS: number; reason: string }> = [];
    let restarts = 0;
    const ctrl = new AbortController();
    const onAbort = () => ctrl.abort();
    io.signal.addEventListener('abort', onAbort, { once: true });
    const t0 = clock.nowS();
    const sampler = await driver.start({
      devices, intervalMs, clock, signal: ctrl.signal, options: optionsFor(driver.meta.id), env: io.env, probe,
      sink: { sample: (s) => samples.push(s), gap: (g) => gaps.push(g), restarted: (why) => { restarts++; io.stderr.write(`warning: ${why}\n`); }, note: (m) => io.stderr.write(`${m}\n`) },
    });
    await sleepMs(duration * 1000, io.signal);
    const t1 = clock.nowS();
    ctrl.abort();
    await sampler.stop();
    io.signal.removeEventListener('abort', onAbort);
    const perDevice = devices.map((d) => {
      const mine = samples.filter((s) => s.deviceId === d.id);
      // the same integration and sensor correction as a run (analyse.ts methodFor)
      const e = windowEnergy(probe.semantics, mine, t0, t1);
      return { deviceId: d.id, name: d.name, samples: mine.length, meanPowerW: mine.length ? e.meanPowerW : null, energyJ: mine.length ? e.energyJ : null, method: e.method };
    });
    const summary = {
      source: driver.meta.id, scope: probe.scope ?? driver.meta.scope, semantics: probe.semantics, durationS: t1 - t0, intervalMs,
      meanPowerW: perDevice.every((d) => d.meanPowerW === null) ? null : perDevice.reduce((s, d) => s + (d.meanPowerW ?? 0), 0),
      energyJ: perDevice.every((d) => d.energyJ === null) ? null : perDevice.reduce((s, d) => s + (d.energyJ ?? 0), 0),
      devices: perDevice, gaps, restarts,
    };
    if (f.json) {
      io.stdout.write(JSON.stringify({ samples: samples.map((s) => ({ ...s, tS: +(s.tS - t0).toFixed(6) })), summary }, null, 2) + '\n');
    } else {
      // the estimate source's scope and reading kind are both 'estimated': say it once
      const what = [...new Set([summary.scope, probe.semantics.kind])].join(', ');
      io.stdout.write(`${driver.meta.id} (${what}) for ${summary.durationS.toFixed(2)} s at ${+intervalMs.toFixed(3)} ms\n`);
      for (const d of perDevice) io.stdout.write(`  ${d.deviceId.padEnd(24)} ${String(d.samples).padStart(6)} samples  ${d.meanPowerW === null ? 'no reading' : `${d.meanPowerW.toFixed(2)} W  ${d.energyJ!.toFixed(2)} J`}\n`);
      if (gaps.length) io.stdout.write(`  ${gaps.length} gap(s); ${restarts} restart(s)\n`);
    }
    return io.signal.aborted ? EXIT.INTERRUPTED : EXIT.OK;
  },
};
