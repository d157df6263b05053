import { describe, it, expect } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { validateResult } from '../../results/validate.js';
import { upgradeResult } from '../../results/upgrade.js';
import { generateTypes } from '../../results/gen-types.js';
import { loadResult, writeResult } from '../../results/io.js';
import { ROOT, tempDir, runCli, resultFiles, readJson } from '../helpers/cli.js';

let sample: any;
async function aValidResult() {
  if (sample) return structuredClone(sample);
  const dir = await tempDir();
  const r = await runCli(['run', '--idle', '0.5', '--repetitions', '1', '--set', 'durationS=0.5', '--set', 'warmupS=0', '--cooldown', '0', '--quiet', '--out', dir]);
  expect(r.exitCode, r.stderr).toBe(0);
  sample = await readJson((await resultFiles(dir))[0]!);
  return structuredClone(sample);
}

describe('result schema', () => {
  it('accepts a result the pipeline wrote', async () => {
    const v = validateResult(await aValidResult());
    expect(v.ok).toBe(true);
  });
  it('rejects a broken result and names the JSON pointer', async () => {
    const r = await aValidResult();
    r.repetitions[0].figures.tokensPerS = 'fast';
    delete r.host.cpuModel;
    r.status = 'great';
    const v = validateResult(r);
    expect(v.ok).toBe(false);
    if (v.ok) return;
    const pointers = v.problems.map((p) => p.pointer);
    expect(pointers).toContain('/repetitions/0/figures/tokensPerS');
    expect(pointers).toContain('/host');
    expect(pointers).toContain('/status');
  });
  it('rejects unknown properties and unknown warning codes', async () => {
    const r = await aValidResult();
    r.surprise = 1;
    r.warnings.push({ code: 'NOT_A_CODE', message: 'x' });
    const v = validateResult(r);
    expect(v.ok).toBe(false);
  });
  it('refuses to write an invalid result, and writes a valid one atomically', async () => {
    const dir = await tempDir();
    const r = await aValidResult();
    await writeResult(join(dir, 'ok.json'), r);
    expect((await loadResult(join(dir, 'ok.json'))).state).toBe('ok');
    const bad = { ...r, runId: 'has spaces / slashes' };
    await expect(writeResult(join(dir, 'bad.json'), bad)).rejects.toThrow(/runId/);
  });
  it('upgrade: current passes through, newer and foreign files are refused with a reason', () => {
    expect(upgradeResult({ schemaVersion: 1 }).state).toBe('current');
    const newer = upgradeResult({ schemaVersion: 99 });
    expect(newer.state === 'unsupported' && newer.reason).toMatch(/newer/);
    expect(upgradeResult([1, 2]).state).toBe('unsupported');
    expect(upgradeResult({ hello: 1 }).state).toBe('unsupported');
  });
  it('results/types.gen.ts is up to date with results/schema.json (run `npm run gen:types`)', async () => {
    const current = await readFile(join(ROOT, 'results', 'types.gen.ts'), 'utf8');
    expect(await generateTypes()).toBe(current);
  });
});
