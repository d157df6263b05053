// Entry point: dispatch to a command, turn WattbenchErrors into one clear line and exit code 2, and make
// SIGINT/SIGTERM stop the run cleanly (partial result written, children stopped); a second signal exits at once.
import { COMMANDS } from './commands/index.js';
import { EXIT, WattbenchError } from '../lib/errors.js';
import { killAllChildren } from '../lib/process.js';
import { toolVersion } from './inventory.js';

function help(): string {
  const lines = Object.values(COMMANDS).map((c) => `  ${c.name.padEnd(10)} ${c.summary}`);
  return `wattbench — tokens per joule on AI accelerators\n\nUsage: wattbench <command> [options]   (wattbench <command> --help for details)\n\n${lines.join('\n')}\n`;
}

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  // `wattbench help CMD` is `wattbench CMD --help`
  if (name === 'help' && rest.length) return main([rest[0]!, '--help']);
  if (!name || name === '--help' || name === '-h' || name === 'help') { process.stdout.write(help()); process.exitCode = EXIT.OK; return; }
  if (name === '--version' || name === '-V') { process.stdout.write(`${await toolVersion()}\n`); return; }
  const cmd = (COMMANDS as Record<string, (typeof COMMANDS)[keyof typeof COMMANDS]>)[name];
  if (!cmd) {
    process.stderr.write(`UNKNOWN_COMMAND: no command '${name}' — choose one of: ${Object.keys(COMMANDS).join(', ')}\n`);
    process.exitCode = EXIT.BAD_INPUT;
    return;
  }
  // a reader that goes away (`wattbench run | head -3`) must not crash a run: what it measured is written to files,
  // and stdout is only a view of it; the lines it would have printed are dropped
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'EPIPE') throw err; });
  }
  const ctrl = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) { process.stderr.write(`\n${sig}: stopping; writing what was measured (send again to quit at once)\n`); ctrl.abort(); }
    else { killAllChildren('SIGKILL'); process.exit(EXIT.INTERRUPTED); }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    process.exitCode = await cmd.run(rest, { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: ctrl.signal });
  } catch (err) {
    if (err instanceof WattbenchError) {
      process.stderr.write(`${err.describe()}\n`);
      process.exitCode = err.exit;
    } else {
      process.stderr.write(`internal error: ${(err as Error).stack ?? String(err)}\nPlease report this with the command you ran.\n`);
      process.exitCode = EXIT.RUN_FAILED;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
