#!/usr/bin/env node
// The client CLI: `npm run client -- <command>`, or `saga-client <command>` once built. The commands
// live in src/cli; this file only binds them to the process.
import { processIo, runCli } from './cli';

export { runCli, type CliIo } from './cli';

if (require.main === module) {
  void runCli(process.argv.slice(2), processIo()).then((code) => {
    process.exitCode = code;
  });
}
