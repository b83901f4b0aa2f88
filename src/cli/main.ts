import { Builtins, Cli } from 'clipanion';
import { loadCommands, verbs } from './commands/index.js';
import { earlyRuntimeAnswer, HUTCH_VERSION, reorderRuntimeArgv } from './runtime/argv.js';
import { HutchCli } from './help.js';
import { dropPreheldHolder, preholdFor } from './prehold.js';
import { renderSyntaxProblem, syntaxProblem } from './syntax-error.js';
import { trace } from '../sys/trace.js';

/** The `hutch` entry point: builds the CLI from the command list and returns its exit status. */
export async function main(argv: string[]): Promise<number> {
  trace('cli main');
  const early = argv[0] === 'runtime' ? earlyRuntimeAnswer(argv.slice(1), HUTCH_VERSION) : undefined;
  if (early !== undefined) {
    process.stdout.write(early.stdout);
    process.stderr.write(early.stderr);
    return early.code;
  }
  if (argv[0] === 'runtime') argv = ['runtime', ...reorderRuntimeArgv(argv.slice(1))]; // runc's global flags come first
  if (argv[0] === 'help') argv = [...argv.slice(1), '--help']; // podman's `help [COMMAND]`
  const holding = preholdFor(argv); // the union's holder, started before the flags are parsed (prehold.ts)

  const cli = new HutchCli({ binaryLabel: 'hutch', binaryName: 'hutch', binaryVersion: '0.1.0' });
  cli.register(Builtins.HelpCommand);
  cli.register(Builtins.VersionCommand);
  // Only the commands the verb can mean (all of them for help or an unknown word): see index.ts.
  const verbAt = argv.findIndex((a) => verbs.has(a));
  // `--version` alone is clipanion's VersionCommand: loading every command for it cost ~150 ms.
  const version = argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v');
  const commands = version ? [] : await loadCommands(argv[verbAt], argv[verbAt + 1]);
  for (const command of commands) cli.register(command);
  await holding;
  let command;
  try {
    command = cli.process(argv, Cli.defaultContext);
  } catch (error) {
    // clipanion would print usage errors to stdout and exit 1; podman and docker exit 125.
    return renderSyntaxProblem(syntaxProblem(error, argv, cli, commands), process.stderr);
  }
  trace('cli parsed');
  return cli.run(command, Cli.defaultContext);
}

// No top-level await: the bundle is CommonJS (scripts/bundle.mjs).
void main(process.argv.slice(2)).then(async (code) => {
  await dropPreheldHolder();
  process.exitCode = code;
});
