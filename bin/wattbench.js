#!/usr/bin/env node
// Launcher: registers tsx so the TypeScript sources run as they are (no build step to forget),
// then hands over to the CLI. The CLI sets process.exitCode itself.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../harness/cli.ts');
await main(process.argv.slice(2));
