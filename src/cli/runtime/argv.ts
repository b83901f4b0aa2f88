/** runc's global flags; the ones with a value take the next word unless written --flag=value. */
const GLOBALS_WITH_VALUE = ['--root', '--log', '--log-format', '--rootless', '--criu'];
const GLOBAL_SWITCHES = ['--debug', '--systemd-cgroup'];

/** hutch's version, as `--version` prints it. */
export const HUTCH_VERSION = '0.1.0';

/** The runtime-spec version hutch implements (what `--version` and `state` report). */
export const SPEC_VERSION = '1.2.0';

/**
 * Engines call `RUNTIME [global flags] VERB [flags] ID`, as runc takes them; clipanion wants the
 * command path first. Moves the global flags from before the verb to after it. Pure.
 */
export function reorderRuntimeArgv(argv: string[]): string[] {
  const i = globalsEnd(argv);
  if (i >= argv.length) return [...argv.slice(0, i)];
  const globals: string[] = [];
  for (let j = 0; j < i; j++) {
    const a = argv[j]!;
    globals.push(GLOBALS_WITH_VALUE.includes(a) ? `${a}=${argv[++j] ?? ''}` : a);
  }
  return [argv[i]!, ...globals, ...argv.slice(i + 1)];
}

/** Index of the first word after the known global flags (the verb, or an unknown flag). */
function globalsEnd(argv: string[]): number {
  let i = 0;
  for (; i < argv.length; i++) {
    const name = argv[i]!.split('=')[0]!;
    if (GLOBALS_WITH_VALUE.includes(name)) {
      if (!argv[i]!.includes('=')) i++;
    } else if (!GLOBAL_SWITCHES.includes(name)) break;
  }
  return i;
}

/** What to print and the exit status, for a command line answered without a verb. */
export interface EarlyAnswer {
  stdout: string;
  stderr: string;
  code: number;
}

/**
 * runc's answers before the verb: `--version`/`-v` prints three lines (engines such as
 * `podman info` identify the runtime by them), and an unknown global flag is a usage error with
 * runc's exit status 1. Pure.
 */
export function earlyRuntimeAnswer(argv: string[], version: string): EarlyAnswer | undefined {
  const word = argv[globalsEnd(argv)];
  if (word === '--version' || word === '-v')
    return {
      stdout: `hutch-runtime version ${version}\ncommit: hutch-${version}\nspec: ${SPEC_VERSION}\n`,
      stderr: '',
      code: 0,
    };
  if (word === undefined || !word.startsWith('-') || word === '--help' || word === '-h') return undefined;
  return {
    stdout: '',
    stderr: `hutch-runtime: incorrect usage: flag provided but not defined: ${word.split('=')[0]}\nhint: see 'hutch-runtime --help'\n`,
    code: 1,
  };
}
