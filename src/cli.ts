#!/usr/bin/env node
/**
 * The command line. Each subcommand lives in src/commands/; this file only dispatches and turns errors into
 * exit codes (2 for usage errors, 1 for failures). The installed entry point is src/bin.ts, which checks the Node
 * version first and then calls runMain(); running this file directly (node dist/src/cli.js, as the tests and
 * benchmarks do) runs it too, once.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './commands/args.js';
import { projectRoot } from './project-root.js';

const HELP = `Usage: charger-controller <command> [options]

EV-charger controller: LEM DCBM 400/600 meter driver, IEEE 2030.5 / CSIP-AUS registration, WebSocket feed.

Commands:
  run [--config <file>]      run the controller; without a config, the embedded demo on a simulated meter
  config check <file>        validate a controller config and list every problem
  journal list               list the transaction journal (state, stored and published records)
  journal export [--format jsonl|safe-xml]
                             print every stored signed record (OCMF) for billing back ends
  diagrams [--check]         generate the statechart diagrams into visualizations/ (npm run viz)
  register --config <file>   register with an IEEE 2030.5 / CSIP-AUS server (--mock prints the requests)
  simulate meter [options]   run a simulated LEM DCBM 400/600 meter (see: simulate meter --help)
  simulate sep-server [...]  run the IEEE 2030.5 / CSIP-AUS test server (see: simulate sep-server --help)
  version, --version, -V     print the version
  help                       show this help

Run "charger-controller <command> --help" for a command's options.
`;

type Command = (args: string[]) => Promise<number>;

// Each command's module is loaded when it runs, so that --version, --help and a light command do not load the
// whole application (xstate, the wasm XML and Graphviz modules, node:sqlite): about 0.3 s less per start.
const COMMANDS: Record<string, Command> = {
  run: async (args) => (await import('./commands/run.js')).run(args),
  register: async (args) => (await import('./commands/register.js')).register(args),
  'config check': async (args) => (await import('./commands/config-check.js')).configCheck(args),
  diagrams: async (args) => (await import('./commands/diagrams.js')).diagrams(args),
  'journal list': async (args) => (await import('./commands/journal.js')).journalList(args),
  'journal export': async (args) => (await import('./commands/journal.js')).journalExport(args),
  'simulate meter': async (args) => (await import('./commands/simulate-meter.js')).simulateMeter(args),
  'simulate sep-server': async (args) => (await import('./commands/simulate-sep-server.js')).simulateSepServer(args),
};

/** Commands that take a subcommand: their help lists the subcommands, then each one's own help. */
const GROUPS: Record<string, { subcommands: string[]; help: () => Promise<string> }> = {
  config: {
    subcommands: ['check'],
    help: async () => `Usage: charger-controller config <subcommand>

Subcommands:
  check <file>   validate a controller config and list every problem

${(await import('./commands/config-check.js')).CONFIG_CHECK_HELP}`,
  },
  journal: {
    subcommands: ['list', 'export'],
    help: async () => {
      const { JOURNAL_LIST_HELP, JOURNAL_EXPORT_HELP } = await import('./commands/journal.js');
      return `Usage: charger-controller journal <subcommand> [options]

Subcommands:
  list     list the transaction journal (state, stored and published records)
  export   print every stored signed record (OCMF); its formats are below

${JOURNAL_LIST_HELP}
${JOURNAL_EXPORT_HELP}`;
    },
  },
  simulate: {
    subcommands: ['meter', 'sep-server'],
    help: async () => `Usage: charger-controller simulate <target> [options]

Targets:
  meter        a simulated LEM DCBM 400/600 meter
  sep-server   the IEEE 2030.5 / CSIP-AUS test server

${(await import('./commands/simulate-meter.js')).SIMULATE_METER_HELP}
${(await import('./commands/simulate-sep-server.js')).SIMULATE_SEP_SERVER_HELP}`,
  },
};

const isHelp = (arg: string | undefined): boolean => arg === '--help' || arg === '-h' || arg === 'help';

/** The version in the package.json beside dist/ (or src/), i.e. of the installed package. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(projectRoot(import.meta.dirname), 'package.json'), 'utf8')) as { version: string }).version;
}

export async function main(argv: string[]): Promise<number> {
  const [first, second, ...rest] = argv;
  if (first === undefined || isHelp(first)) {
    process.stdout.write(HELP);
    return first === undefined ? 2 : 0;
  }
  if (first === 'version' || first === '--version' || first === '-V') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const twoWord = second !== undefined ? COMMANDS[`${first} ${second}`] : undefined;
  const command = twoWord ?? COMMANDS[first];
  const args = twoWord ? rest : [second, ...rest].filter((a): a is string => a !== undefined);
  if (!command) {
    const group = GROUPS[first];
    if (group && isHelp(second)) {
      process.stdout.write(await group.help());
      return 0;
    }
    if (group) {
      const problem = second === undefined ? 'needs' : `has no subcommand "${second}"; it takes`;
      process.stderr.write(`charger-controller: ${first} ${problem} one of: ${group.subcommands.join(', ')}\n\n${await group.help()}`);
    } else {
      process.stderr.write(`charger-controller: unknown command "${argv.join(' ')}"\n\n${HELP}`);
    }
    return 2;
  }
  try {
    return await command(args);
  } catch (error) {
    const { ConfigError } = await import('./config/controller.config.js');
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

/** Runs the command line as this process: its exit code becomes the process's. */
export function runMain(argv: string[]): void {
  main(argv).then(
    (code) => { process.exitCode = code; },
    (error: unknown) => {
      process.stderr.write(`charger-controller: ${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}

/** True when this file is the process's entry (node dist/src/cli.js), false when bin.js or a test imports it. */
function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(import.meta.filename);
  } catch {
    return false;
  }
}

if (isEntryPoint()) runMain(process.argv.slice(2));
