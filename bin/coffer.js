#!/usr/bin/env node
// The `coffer` command: `coffer server ...` starts the server; everything else is the CLI,
// which talks to a server only over HTTP.
const args = process.argv.slice(2);
if (args[0] === 'server') {
  const { runServer, reportStartupError } = await import('../dist/main.js');
  try {
    await runServer(args.slice(1), process.env);
  } catch (err) {
    reportStartupError(err);
  }
} else if (args[0] === 'operator' && args[1] === 'migrate') {
  // Opens the stores directly (server-side code), like `server`.
  const { runMigrate } = await import('../dist/migrate.js');
  process.exitCode = await runMigrate(args.slice(2), process.env);
} else {
  const { runCli, processIo } = await import('../dist/cli/main.js');
  process.exitCode = await runCli(args, processIo());
}
