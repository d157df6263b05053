// Workload commands run without a shell: argv arrays go to execve as they are, so suite values like
// "; touch /tmp/pwned", "$(touch …)", "`touch …`", "| touch …" or a program name with spaces cannot run anything.
// Checked through the process helper and through the CLI with a suite file: the marker files never appear, the
// program receives every argument verbatim, and a "program" that is really a shell line fails to start.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnStreaming } from '../../lib/process.js';
import { fault, tempDir, workloadScript, wb, countResults, looksLikeCrash, constantTrace, quickRunFlags } from './helpers.js';

let dir: string;
beforeAll(async () => { dir = await tempDir('wb-fault-commands-'); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

function payloads(marker: string): string[] {
  return [
    `; touch ${marker}`, `$(touch ${marker})`, `\`touch ${marker}\``, `| touch ${marker}`, `&& touch ${marker}`,
    `'; touch ${marker}; '`, `"; touch ${marker}; "`, `\n touch ${marker}`, `$IFS;touch\${IFS}${marker}`, `>${marker}`, `*`, `~`, `$HOME`,
  ];
}

describe('no shell anywhere in a workload command', () => {
  it('the process helper passes shell syntax through as plain arguments', async () => {
    await fault('commands', 'shell syntax in arguments (process helper)', async () => {
      const marker = join(dir, 'pwned-helper');
      const args = payloads(marker);
      const h = spawnStreaming(process.execPath, ['-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', ...args], { captureTail: 1 << 20 });
      const r = await h.done;
      expect(r.exitCode).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual(args);
      expect(existsSync(marker)).toBe(false);
      // a shell line as the program name is looked up as a file of that name, and is not found
      const s = await spawnStreaming(`touch ${marker}`, []).done;
      expect(s.spawnError?.code).toBe('ENOENT');
      const t = await spawnStreaming('/bin/sh -c', [`touch ${marker}`]).done;
      expect(t.spawnError?.code).toBe('ENOENT');
      expect(existsSync(marker)).toBe(false);
    });
  });

  it('a suite whose command, arguments, env and cwd carry shell syntax runs nothing it did not name', async () => {
    await fault('commands', 'shell syntax in a suite file (command, args, env, cwd)', async () => {
      const marker = join(dir, 'pwned-suite');
      const argvFile = join(dir, 'argv.json');
      const echo = await workloadScript(dir, 'echo-argv', `
        fs.writeFileSync(${JSON.stringify(argvFile)}, JSON.stringify({ argv: process.argv.slice(2), env: process.env.INJECT }));
        emit({ event: 'window_start' }); await sleep(50); emit({ event: 'tokens', tokens: 10 }); emit({ event: 'window_end' });`);
      const args = payloads(marker);
      const trace = await constantTrace(dir, 100, 20);
      // YAML on purpose: the values people paste from shell scripts
      const entry = (name: string, command: string[], extra: string[] = []) => [
        '  - workload: command', '    config:', `      name: ${name}`, `      command: ${JSON.stringify(command)}`, ...extra.map((l) => `      ${l}`),
      ];
      const suite = join(dir, 'inject.yaml');
      await writeFile(suite, ['runs:', ...entry('args', [process.execPath, echo, ...args], [`env: { INJECT: ${JSON.stringify(`$(touch ${marker})`)} }`])].join('\n') + '\n');
      const out = join(dir, 'out');
      const r = await wb(['run', suite, ...quickRunFlags(trace, out)]);
      expect(looksLikeCrash(r.stderr), r.stderr).toBe(false);
      expect(r.code, r.stderr).toBe(0);
      const got = JSON.parse(await readFile(argvFile, 'utf8'));
      expect(got.argv).toEqual(args);
      expect(got.env).toBe(`$(touch ${marker})`);
      const { valid } = await countResults(out);
      expect(valid).toHaveLength(1);
      expect(JSON.parse(await readFile(valid[0]!, 'utf8')).status).toBe('ok');
      // a shell line where the program or the folder goes is looked up as a file of that name: not found, so the
      // suite is refused before anything runs (exit 2), and nothing was executed
      const bad: Array<[string, string[], string[], RegExp]> = [
        ['program is a shell line', [`touch ${marker}`], [], /COMMAND_NOT_FOUND: the workload.s program "touch .*" is not an executable file/],
        ['sh -c as one word', ['sh -c', `touch ${marker}`], [], /COMMAND_NOT_FOUND: the workload's program "sh -c" is not on PATH/],
        ['cwd is a command', [process.execPath, echo], [`cwd: ${JSON.stringify(`$(touch ${marker})`)}`], /BAD_CONFIG: the workload's cwd "\$\(touch .*\)" is not a folder/],
      ];
      for (const [name, command, extra, re] of bad) {
        const f = join(dir, `inject-${name.replace(/\W+/g, '-')}.yaml`);
        await writeFile(f, ['runs:', ...entry(name, command, extra)].join('\n') + '\n');
        const o = join(dir, `out-${name.replace(/\W+/g, '-')}`);
        const b = await wb(['run', f, ...quickRunFlags(trace, o)]);
        expect(looksLikeCrash(b.stderr), b.stderr).toBe(false);
        expect(b.code, `${name}: ${b.stderr}`).toBe(2);
        expect(b.stderr, name).toMatch(re);
        expect((await countResults(o).catch(() => ({ files: [] }))).files, name).toEqual([]);
      }
      expect(existsSync(marker), 'a shell ran the injected command').toBe(false);
      return { expected: 1, found: valid.length };
    });
  });
});
