#!/usr/bin/env node
/**
 * The command line. Each subcommand lives in src/commands/; this file only dispatches and turns errors into
 * exit codes (2 for usage errors, 1 for failures).
 */
import { UsageError } from './commands/args.js';
import { configCheck } from './commands/config-check.js';
import { diagrams } from './commands/diagrams.js';
import { journalExport, journalList } from './commands/journal.js';
import { register } from './commands/register.js';
import { run } from './commands/run.js';
import { simulateMeter, SIMULATE_METER_HELP } from './commands/simulate-meter.js';
import { simulateSepServer } from './commands/simulate-sep-server.js';
import { ConfigError } from './config/controller.config.js';

const HELP = `Usage: charger-controller <command> [options]

EV-charger controller: LEM DCBM 400/600 meter driver, IEEE 2030.5 / CSIP-AUS registration, WebSocket feed.

Commands:
  run [--config <file>]      run the controller; without a config, the embedded demo on a simulated meter
  config check <file>        validate a controller config and list every problem
  journal list               list the transaction journal (state, stored and published records)
  journal export --format jsonl
                             print every stored signed record (OCMF) for billing back ends
  diagrams [--check]         generate the statechart diagrams into visualizations/ (npm run viz)
  register --config <file>   register with an IEEE 2030.5 / CSIP-AUS server (--mock prints the requests)
  simulate meter [options]   run a simulated LEM DCBM 400/600 meter (see: simulate meter --help)
  simulate sep-server [...]  run the IEEE 2030.5 / CSIP-AUS test server (see: simulate sep-server --help)
  help                       show this help

Run "charger-controller <command> --help" for a command's options.
`;

type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  run,
  register,
  'config check': configCheck,
  diagrams,
  'journal list': journalList,
  'journal export': journalExport,
  'simulate meter': simulateMeter,
  'simulate sep-server': simulateSepServer,
};

export async function main(argv: string[]): Promise<number> {
  const [first, second, ...rest] = argv;
  if (first === undefined || first === 'help' || first === '--help' || first === '-h') {
    process.stdout.write(HELP);
    return first === undefined ? 2 : 0;
  }
  const twoWord = second !== undefined ? COMMANDS[`${first} ${second}`] : undefined;
  const command = twoWord ?? COMMANDS[first];
  const args = twoWord ? rest : [second, ...rest].filter((a): a is string => a !== undefined);
  if (!command) {
    if (first === 'journal') process.stderr.write('charger-controller: journal needs a subcommand: list or export\n');
    else if (first === 'simulate') process.stderr.write(`charger-controller: simulate needs a target: meter or sep-server\n\n${SIMULATE_METER_HELP}`);
    else process.stderr.write(`charger-controller: unknown command "${argv.join(' ')}"\n\n${HELP}`);
    return 2;
  }
  try {
    return await command(args);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`charger-controller: ${error.message}\n`);
      return 2;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`charger-controller: ${error.message}\nRun with --help for usage.\n`);
      return 2;
    }
    process.stderr.write(`charger-controller: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
}

const nodeMajor = Number(process.versions.node.split('.')[0]);
if (nodeMajor < 24) {
  process.stderr.write(
    `charger-controller needs Node.js 24 or later; this is ${process.version}.\n` +
      'Run it through npm (npm start, npx charger-controller ...), which puts the project\'s Node 24 on the PATH.\n',
  );
  process.exit(1);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    process.stderr.write(`charger-controller: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
