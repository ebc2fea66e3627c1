#!/usr/bin/env node
/**
 * The installed entry point (package.json "bin"; npm start and the systemd unit run it too). It checks the Node
 * version before any of the application loads: the app imports `node:sqlite` and other Node 24 APIs at module
 * load time, so on an older Node a static import would crash with ERR_UNKNOWN_BUILTIN_MODULE before any check in
 * cli.ts could run. Hence no static imports here, only `process`; cli.js is imported once the version is known.
 */
export {};

const REQUIRED_MAJOR = 24;
const major = Number(process.versions.node.split('.')[0]);

if (!(major >= REQUIRED_MAJOR)) {
  process.stderr.write(
    `charger-controller needs Node.js ${REQUIRED_MAJOR} or later (this is ${process.version}); `
      + `install Node ${REQUIRED_MAJOR} LTS: https://nodejs.org or your distribution's nodejs ${REQUIRED_MAJOR} package\n`,
  );
  process.exitCode = 1;
} else {
  const { runMain } = await import('./cli.js');
  runMain(process.argv.slice(2));
}
