// `wattbench serve` end to end: the real CLI as a child process against the fake server in this process, power
// from a replayed trace, a validated result; sweeps and suite files; the API key never written anywhere.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readdir, readFile, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startFakeServer, type FakeServer } from './fake-server.js';
import { runCli, tempDir, resultFiles, readJson, writeConstantTrace } from '../helpers/cli.js';
import { validateResult } from '../../results/validate.js';
import type { WattbenchResult } from '../../results/types.gen.js';

let server: FakeServer;
let trace: string;
beforeAll(async () => {
  server = await startFakeServer({ ttftMs: 20, tpotMs: 4 });
  trace = await writeConstantTrace(await tempDir(), 200, 4, 0.05);
});
afterAll(async () => { await server.close(); });

const measure = ['--source', 'replay', '--idle', '0.3', '--cooldown', '0', '--quiet'];

async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await allFiles(p))); else out.push(p);
  }
  return out;
}

describe('wattbench serve', () => {
  it('writes a validated result whose tokens per joule is window output tokens over window energy', async () => {
    const out = await tempDir();
    const r = await runCli(['serve', '--url', server.url, '--model', 'fake', '--concurrency', '4', '--requests', '48', '--input-tokens', '16', '--output-tokens', '12', ...measure, '--source-opt', `file=${trace}`, '--repetitions', '2', '--out', out]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/TTFT ms\s+p50/);
    const files = await resultFiles(out);
    expect(files).toHaveLength(1);
    const result = await readJson<WattbenchResult>(files[0]!);
    const v = validateResult(result);
    expect(v.ok, JSON.stringify(!v.ok && v.problems)).toBe(true);
    expect(result.workload).toMatchObject({ id: 'serve', kind: 'serve' });
    expect(result.serving!.repetitions).toHaveLength(2);
    for (const [i, rep] of result.repetitions.entries()) {
      const s = result.serving!.repetitions[i]!;
      expect(s.index).toBe(rep.index);
      expect(rep.status).toBe('ok');
      expect(rep.window!.startS).toBeCloseTo(s.window.startS, 5);
      expect(rep.window!.endS).toBeCloseTo(s.window.endS, 5);
      expect(rep.tokens!.total).toBe(Math.round(s.tokens.window.output));
      expect(rep.tokens!.output).toBe(rep.tokens!.total);
      expect(rep.figures!.tokensPerJ!).toBeCloseTo(rep.tokens!.total / rep.figures!.energyJ, 9);
      expect(rep.figures!.joulesPerToken!).toBeCloseTo(rep.figures!.energyJ / rep.tokens!.total, 9);
      // the whole run's energy beside the window's; the constant 200 W trace makes both checkable
      const whole = rep.metrics.find((m) => m.name === 'repetition_energy_J')!.value!;
      expect(whole).toBeGreaterThan(rep.figures!.energyJ);
      expect(rep.figures!.energyJ).toBeCloseTo(200 * rep.window!.durationS, 0);
      expect(s.records).toHaveLength(48);
      expect(s.requests).toMatchObject({ total: 48, ok: 48 });
    }
    expect(result.summary!.metrics!.map((m) => m.name)).toEqual(expect.arrayContaining(['ttft_p50_ms', 'tpot_p50_ms', 'repetition_energy_J']));
  });

  it('sweeps a list of concurrencies: one validated result each', async () => {
    const out = await tempDir();
    const r = await runCli(['serve', '--url', server.url, '--model', 'fake', '--concurrency', '1,3', '--requests', '8', '--input-tokens', '8', '--output-tokens', '4', ...measure, '--source-opt', `file=${trace}`, '--repetitions', '1', '--out', out]);
    expect(r.exitCode, r.stderr).toBe(0);
    const results = await Promise.all((await resultFiles(out)).map((f) => readJson<WattbenchResult>(f)));
    expect(results.map((x) => x.serving!.repetitions[0]!.load.concurrency).sort()).toEqual([1, 3]);
    for (const x of results) expect(validateResult(x).ok).toBe(true);
  });

  it('takes the same settings from a suite file (workload: serve, with a matrix)', async () => {
    const dir = await tempDir();
    const suite = join(dir, 'serve.yaml');
    await writeFile(suite, [
      'name: serve sweep',
      'defaults: { repetitions: 1, idleS: 0.3, cooldownS: 0 }',
      'runs:',
      '  - workload: serve',
      `    source: { id: replay, options: { file: ${JSON.stringify(trace)} } }`,
      `    config: { url: ${JSON.stringify(server.url)}, model: fake, endpoint: chat, requests: 10, inputTokens: 12, outputTokens: 4 }`,
      '    matrix: { concurrency: [2, 4] }',
    ].join('\n'));
    const out = join(dir, 'out');
    const r = await runCli(['run', suite, '--out', out, '--quiet']);
    expect(r.exitCode, r.stderr).toBe(0);
    const results = await Promise.all((await resultFiles(out)).map((f) => readJson<WattbenchResult>(f)));
    expect(results).toHaveLength(2);
    for (const x of results) {
      expect(validateResult(x).ok).toBe(true);
      expect(x.serving!.repetitions[0]!.endpoint).toBe('chat');
      expect(x.settings.suite?.entry).toBe('/runs/0');
    }
  });

  it('never writes the API key: not in results, raw samples, reports, stdout or stderr', async () => {
    const secret = 'sk-wattbench-test-4f9a2c7e1b3d5a6f8e0c';
    const keyed = await startFakeServer({ apiKey: secret, ttftMs: 5, tpotMs: 2, fault: (n, b) => (b.max_tokens !== 2 && n % 4 === 3 ? 'http-500-echo' : 'none') });
    try {
      const dir = await tempDir();
      const env = { SERVE_TEST_KEY: secret };
      const r = await runCli(['serve', '--url', keyed.url, '--model', 'fake', '--api-key-env', 'SERVE_TEST_KEY', '--concurrency', '2', '--requests', '12', '--input-tokens', '8', '--output-tokens', '4', ...measure, '--source-opt', `file=${trace}`, '--repetitions', '1', '--out', join(dir, 'runs'), '--progress', 'plain'].filter((a) => a !== '--quiet'), { env });
      expect(r.exitCode, r.stderr).toBe(0);
      // the key did reach the server (so the test is not vacuous), and the echoing 500s were recorded
      expect(keyed.seen.every((s) => s.headers.authorization === `Bearer ${secret}`)).toBe(true);
      const result = await readJson<WattbenchResult>((await resultFiles(join(dir, 'runs')))[0]!);
      expect(result.serving!.repetitions[0]!.requests.failedByKind).toEqual({ http_server_error: 3 });
      expect(JSON.stringify(result.workload.config)).toContain('SERVE_TEST_KEY');
      const rep = await runCli(['report', join(dir, 'runs'), '--out', join(dir, 'report')]);
      expect(rep.exitCode, rep.stderr).toBe(0);
      const files = await allFiles(dir);
      expect(files.length).toBeGreaterThanOrEqual(4);
      for (const f of files) {
        if ((await stat(f)).size === 0) continue;
        const text = await readFile(f, 'utf8');
        for (const piece of [secret, secret.slice(0, 12), secret.slice(-12)]) expect(text.includes(piece), `${f} contains the key`).toBe(false);
      }
      for (const text of [r.stdout, r.stderr, rep.stdout, rep.stderr]) expect(text).not.toContain(secret.slice(-12));
    } finally {
      await keyed.close();
    }
  });

  it('records the warnings: failed requests, usage from the client, a client behind its schedule', async () => {
    const faulty = await startFakeServer({ ttftMs: 10, tpotMs: 10, fault: (n, b) => (b.max_tokens === 2 ? 'none' : n % 5 === 1 ? 'http-429' : n % 5 === 2 ? 'no-usage' : 'none') });
    try {
      const out = await tempDir();
      // 100 arrivals/s into one slot of ~60 ms requests: the client cannot keep its schedule
      const r = await runCli(['serve', '--url', faulty.url, '--model', 'fake', '--rate', '100', '--max-concurrency', '1', '--requests', '20', '--input-tokens', '8', '--output-tokens', '5', ...measure, '--source-opt', `file=${trace}`, '--repetitions', '1', '--out', out]);
      expect(r.exitCode, r.stderr).toBe(0);
      const result = await readJson<WattbenchResult>((await resultFiles(out))[0]!);
      expect(validateResult(result).ok).toBe(true);
      const codes = result.warnings.map((w) => w.code);
      expect(codes).toEqual(expect.arrayContaining(['REQUESTS_FAILED', 'USAGE_FROM_CLIENT', 'CLIENT_BEHIND_SCHEDULE']));
      expect(result.warnings.find((w) => w.code === 'REQUESTS_FAILED')!.repetition).toBe(0);
      const s = result.serving!.repetitions[0]!;
      expect(s.load).toMatchObject({ kind: 'open', rateRps: 100, maxConcurrency: 1 });
      expect(s.schedule.behind).toBe(true);
      expect(s.requests.failedByKind.rate_limited).toBeGreaterThan(0);
    } finally {
      await faulty.close();
    }
  });

  it('bad flags and an unreachable server are exit-2 messages', async () => {
    const both = await runCli(['serve', '--url', server.url, '--model', 'm', '--concurrency', '2', '--rate', '3', '--requests', '5', '--input-tokens', '4', '--output-tokens', '4']);
    expect(both.exitCode).toBe(2);
    expect(both.stderr).toMatch(/--concurrency and --rate/);
    const noUrl = await runCli(['serve', '--model', 'm', '--concurrency', '2', '--requests', '5']);
    expect(noUrl.exitCode).toBe(2);
    expect(noUrl.stderr).toMatch(/needs --url/);
    const down = await runCli(['serve', '--url', 'http://127.0.0.1:9', '--model', 'm', '--concurrency', '2', '--requests', '5', '--input-tokens', '4', '--output-tokens', '4', '--quiet', '--out', await tempDir()]);
    expect(down.exitCode).toBe(2);
    expect(down.stderr).toMatch(/SERVER_UNREACHABLE/);
  });
});
