// The runtime entry's own parse of runc's command lines (src/cli/runtime/syntax.ts) against
// clipanion's, which the full CLI uses: the same values for the lines it takes, the full CLI for
// the rest, and the same options as the command classes declare.
import { Cli, type CommandClass } from 'clipanion';
import { describe, expect, it } from 'vitest';
import * as runtimeCommands from '../../../src/cli/commands/runtime.js';
import { reorderRuntimeArgv } from '../../../src/cli/runtime/argv.js';
import { GLOBAL_OPTIONS, parseRuntimeWords, RUNTIME_SYNTAX } from '../../../src/cli/runtime/syntax.js';

const classes = Object.values(runtimeCommands) as CommandClass[];
const cli = new Cli({ binaryName: 'hutch' });
for (const c of classes) cli.register(c);

/** The option and operand fields clipanion sets on the command for `argv`. */
function clipanionParse(argv: string[]): Record<string, unknown> {
  const command = cli.process(['runtime', ...argv]) as unknown as Record<string, unknown>;
  const skip = new Set(['help', 'context', 'cli', 'path']);
  return Object.fromEntries(Object.entries(command).filter(([k, v]) => !skip.has(k) && v !== undefined));
}

const FAST = [
  ['--root', '/r', '--log', '/l', '--log-format', 'json', 'create', '--bundle', '/b', '--pid-file', '/p', 'c1'],
  ['--root=/r', '--systemd-cgroup', 'create', '-b', '/b', '--console-socket', '/s', '--preserve-fds', '2', 'c1'],
  ['create', '--no-pivot', '--no-new-keyring', '-b=/b', 'c1'],
  ['--root', '/r', 'start', 'c1'],
  ['--root', '/r', 'state', 'c1'],
  ['--root', '/r', '--root', '/s', 'state', 'c1'],
  ['--debug', '--rootless', 'true', 'state', 'c1'],
  ['kill', 'c1'],
  ['kill', 'c1', 'KILL', '--all'],
  ['kill', '-a', 'c1', '9'],
  ['delete', 'c1'],
  ['delete', '--force', 'c1'],
  ['delete', 'c1', '-f'],
  ['run', '-d', '-b', '/b', 'c1'],
  ['run', '--bundle', '/b', 'c1'],
  ['exec', '--process', '/p.json', '--detach', '--pid-file', '/pid', 'c1'],
  ['exec', '-t', '--cwd', '/w', '-e', 'A=1', '--env=B=2', '-u', '0:0', '-c', 'CAP_KILL', '--no-new-privs', 'c1'],
  ['exec', '--preserve-fds', '3', '--process-label', 'x', '--apparmor', 'y', 'c1', 'ls', '-l', '--env', 'x'],
  ['exec', 'c1', '--', 'ls'],
  ['ps', '--format', 'json', 'c1'],
  ['ps', 'c1'],
  ['list'],
  ['list', '-q', '--format=json'],
  ['features'],
];

const FULL_CLI = [
  [],
  ['--help'],
  ['state', '--help'],
  ['state', '-h', 'c1'],
  ['state'],
  ['state', 'c1', 'c2'],
  ['state', '--bogus', 'c1'],
  ['kill', 'c1', 'KILL', 'extra'],
  ['kill', '--', 'c1'],
  ['delete', '--no-force', 'c1'],
  ['delete', '--force=true', 'c1'],
  ['create', '-bx', 'c1'],
  ['create', '--log', '--debug', 'c1'],
  ['create', '--preserve-fds', 'x', 'c1'],
  ['exec', '-dt', 'c1'],
  ['exec'],
  ['spec', '--rootless'],
  ['update', '--memory', '1m', 'c1'],
  ['frobnicate', 'c1'],
];

describe('the runtime entry parses runc command lines', () => {
  it.each(FAST)('as clipanion does: %j', (...argv: string[]) => {
    const words = reorderRuntimeArgv(argv);
    const parsed = parseRuntimeWords(words);
    expect(parsed?.verb).toBe(words[0]);
    expect(Object.fromEntries(Object.entries(parsed!.args).filter(([, v]) => v !== undefined))).toEqual(
      clipanionParse(words),
    );
  });

  it.each(FULL_CLI)('leaves the rest to the full CLI: %j', (...argv: string[]) => {
    expect(parseRuntimeWords(reorderRuntimeArgv(argv))).toBeUndefined();
  });

  it('knows every option of the command classes of its verbs, and no other', () => {
    const definitions = cli.definitions();
    for (const [verb, syntax] of Object.entries(RUNTIME_SYNTAX)) {
      const definition = definitions.find((d) => d.path === `hutch runtime ${verb}`);
      const declared = definition!.options.map((o) => o.definition.split(' ')[0]!).filter((n) => n !== '-h,--help');
      const ours = [...GLOBAL_OPTIONS, ...syntax.options].map((o) => o.names.join(','));
      expect(ours.sort(), verb).toEqual(declared.sort());
    }
  });
});
