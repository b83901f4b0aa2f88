import { Builtins, Cli, type CommandClass } from 'clipanion';
import { commands } from './commands/index.js';
import { reorderRuntimeArgv } from './runtime/argv.js';

/** The `hutch` entry point: builds the CLI from the command list and returns its exit status. */
export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'runtime') argv = ['runtime', ...reorderRuntimeArgv(argv.slice(1))]; // runc's global flags come first

  const cli = new Cli({ binaryLabel: 'hutch', binaryName: 'hutch', binaryVersion: '0.1.0' });
  cli.register(Builtins.HelpCommand);
  cli.register(Builtins.VersionCommand);
  for (const command of commandsFor(argv)) cli.register(command);
  let command;
  try {
    command = cli.process(argv, Cli.defaultContext);
  } catch (error) {
    // clipanion would print usage errors to stdout and exit 1; podman and docker exit 125.
    process.stderr.write(`hutch: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}\n`);
    process.stderr.write("hint: see 'hutch --help'\n");
    return 125;
  }
  return cli.run(command, Cli.defaultContext);
}

/**
 * The commands a command line can mean: those whose path starts with its verb (the first word
 * that is the first word of some command's path), or all of them (help, errors). clipanion
 * builds its parser over every registered command, ~75 ms for all of them: a `hutch run`
 * should not pay for forty others.
 */
function commandsFor(argv: string[]): CommandClass[] {
  const firstWord = (c: CommandClass): string[] => (c.paths ?? []).map((p) => p[0] ?? '');
  const verbs = new Set(commands.flatMap(firstWord));
  const verb = argv.find((a) => verbs.has(a));
  return verb === undefined ? commands : commands.filter((c) => firstWord(c).includes(verb));
}

process.exitCode = await main(process.argv.slice(2));
