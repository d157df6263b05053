// Secrets given through the environment (OPENAI_API_KEY, HF_TOKEN, AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN, a password,
// a value shaped like a key under an innocent name) and through a suite file's `env` must never appear in a result,
// a raw samples file, a log line or a report — even when the workload itself prints them into its stderr (which goes
// into the result's stderr tail when it fails) or into protocol events. Tested by searching every written file, and
// the harness's own stdout and stderr, for random canary values; the workload proves it did receive them.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fault, tempDir, workloadScript, wb, baseEnv, allFiles, countResults, looksLikeCrash, constantTrace, quickRunFlags } from './helpers.js';
import { makeRedactor, recordableEnv, looksSecretName, REDACTED } from '../../lib/redact.js';

let dir: string;
beforeAll(async () => { dir = await tempDir('wb-fault-secrets-'); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

const canary = (prefix = '') => `${prefix}canary${randomBytes(12).toString('hex')}`;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('secrets never leak', () => {
  it('environment secrets and suite env values: absent from every result, raw trace, log and report', async () => {
    const secrets: Record<string, string> = {
      OPENAI_API_KEY: canary('sk-'),
      HF_TOKEN: canary('hf_'),
      AWS_SECRET_ACCESS_KEY: canary(),
      GITHUB_TOKEN: canary('ghp_'),
      DATABASE_PASSWORD: canary(),
      INNOCENT_LOOKING: canary('sk-'), // a key-shaped value under a name that says nothing
    };
    const suiteSecret = canary('hf_');
    const suiteToken = canary();
    const quiet = canary(); // a variable the workload never prints: the harness must not write it either
    const env = baseEnv({ ...secrets, WB_QUIET_CANARY: quiet });
    const trace = await constantTrace(dir, 100, 30);
    const proof = join(dir, 'received.json');
    // a careless workload: prints every secret to stdout, stderr and protocol events, then fails
    const careless = await workloadScript(dir, 'careless', `
      const names = ${JSON.stringify([...Object.keys(secrets), 'SUITE_HF_TOKEN', 'MY_SERVICE_TOKEN'])};
      const got = Object.fromEntries(names.map((n) => [n, process.env[n] || '']));
      fs.writeFileSync(${JSON.stringify(proof)}, JSON.stringify(Object.fromEntries(Object.entries(got).map(([k, v]) => [k, require('crypto').createHash('sha256').update(v).digest('hex')]))));
      emit({ event: 'start', info: got });
      emit({ event: 'window_start' });
      for (const [k, v] of Object.entries(got)) {
        console.log(k + '=' + v);
        console.error('Traceback: AuthenticationError: Incorrect API key provided: ' + v);
        emit({ event: 'metric', name: 'key_' + v.slice(0, 40), value: 1, unit: v.slice(0, 30) });
        emit({ event: 'info', key: v });
      }
      emit({ event: 'tokens', tokens: 10 });
      emit({ event: 'window_end' });
      process.exit(1);`);
    const good = await workloadScript(dir, 'good', `
      emit({ event: 'window_start' }); await sleep(100); emit({ event: 'tokens', tokens: 10 }); emit({ event: 'window_end' });`);
    const suite = join(dir, 'suite.json');
    await writeFile(suite, JSON.stringify({ runs: [
      { workload: 'command', config: { command: [process.execPath, careless], name: 'careless', env: { SUITE_HF_TOKEN: suiteSecret, MY_SERVICE_TOKEN: suiteToken, OMP_NUM_THREADS: '2' } } },
      { workload: 'command', config: { command: [process.execPath, good], name: 'good' } },
      // unnamed: its label is its command line, which carries a key (file names and run ids come from labels)
      { workload: 'command', config: { command: [process.execPath, good, secrets.GITHUB_TOKEN!] } },
    ] }));
    const out = join(dir, 'out');
    const report = join(dir, 'report');

    await fault('secrets', 'API keys and tokens in the environment and the suite env', async () => {
      const run = await wb(['run', suite, ...quickRunFlags(trace, out), '--record-hostname'], { env });
      expect(looksLikeCrash(run.stderr), run.stderr).toBe(false);
      expect(run.code, run.stderr).toBe(1); // the careless run failed; the good one is measured
      const rep = await wb(['report', out, '--out', report], { env });
      expect(rep.code, rep.stderr).toBe(0);
      const val = await wb(['validate', ...(await countResults(out)).files], { env });
      expect(val.code, val.stdout).toBe(0);

      // the workload did receive every secret (the harness passes them through, it just never writes them)
      const received = JSON.parse(await readFile(proof, 'utf8'));
      for (const [k, v] of Object.entries(secrets)) expect(received[k], k).toBe(sha(v));
      expect(received.SUITE_HF_TOKEN).toBe(sha(suiteSecret));
      expect(received.MY_SERVICE_TOKEN).toBe(sha(suiteToken));

      // search everything written and everything printed
      const files = [...(await allFiles(out)), ...(await allFiles(report))];
      expect(files.length).toBeGreaterThanOrEqual(9); // 3 results, 3 raw traces, html, md, csv
      // file names too (case-insensitively: a run id is a lower-cased slug of the label)
      for (const f of files) for (const v of Object.values(secrets)) expect(f.toLowerCase().includes(v.toLowerCase()), `${v.slice(0, 12)}… in a file name`).toBe(false);
      const texts: Array<[string, string]> = [
        ...(await Promise.all(files.map(async (f) => [f, await readFile(f, 'latin1')] as [string, string]))),
        ['run stdout', run.stdout], ['run stderr', run.stderr], ['report stdout', rep.stdout], ['report stderr', rep.stderr], ['validate stdout', val.stdout],
      ];
      const all = [...Object.values(secrets), suiteSecret, suiteToken, quiet];
      for (const [name, text] of texts) for (const s of all) expect(text.includes(s), `${s.slice(0, 12)}… leaked into ${name}`).toBe(false);
      // and the result says what it hid: names kept, values redacted, the failure's stderr tail still useful
      const { valid } = await countResults(out);
      const results = await Promise.all(valid.map(async (f) => JSON.parse(await readFile(f, 'utf8'))));
      const c = results.find((x) => x.workload.name === 'careless');
      expect(c.workload.config.env).toEqual({ SUITE_HF_TOKEN: REDACTED, MY_SERVICE_TOKEN: REDACTED, OMP_NUM_THREADS: '2' });
      expect(c.repetitions[0].error.stderrTail).toMatch(/Incorrect API key provided: \[redacted\]/);
      expect(results.find((x) => x.workload.name === 'good').status).toBe('ok');
      return { expected: 3, found: valid.length };
    });
  });

  it('the redaction policy: secret names and key-shaped values are caught, ordinary ones kept', () => {
    expect(['OPENAI_API_KEY', 'HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'DB_PASSWORD', 'GOOGLE_APPLICATION_CREDENTIALS', 'ANTHROPIC_API_KEY', 'WANDB_API_KEY'].every(looksSecretName)).toBe(true);
    expect(['PATH', 'HOME', 'PWD', 'OMP_NUM_THREADS', 'CUDA_VISIBLE_DEVICES', 'SSH_AUTH_SOCK', 'LANG'].some(looksSecretName)).toBe(false);
    expect(recordableEnv({ A: 'sk-proj-abcdefghijklmnop', B: '4', API_KEY: 'x' })).toEqual({ A: REDACTED, B: '4', API_KEY: REDACTED });
    const r = makeRedactor({ HF_TOKEN: 'hf_abcdefghijklmnopqrst', SHORT_TOKEN: 'abc', PATH: '/usr/bin' });
    expect(r('token hf_abcdefghijklmnopqrst in /usr/bin, abc')).toBe(`token ${REDACTED} in /usr/bin, abc`);
    // a URL that carries a password is a credential whatever its variable is called
    expect(recordableEnv({ DBCONN: 'postgres://admin:hunter2pass@db.internal/x', SITE: 'https://example.com/x' })).toEqual({ DBCONN: REDACTED, SITE: 'https://example.com/x' });
  });
});
