// src/cli/parser.ts makes clipanion's state machine lazily: every node it makes must be the one
// clipanion's simplifyMachine makes (the same transitions in the same order), and every command
// line must parse, or fail, as with clipanion's own compile.
import { Builtins, type Cli, type CommandClass } from 'clipanion';
import { makeAnyOfMachine, simplifyMachine, type StateMachine } from 'clipanion/lib/core.js';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadCommands, verbs } from '../../../src/cli/commands/index.js';
import { HutchCli } from '../../../src/cli/help.js';
import { simplifyLazily } from '../../../src/cli/parser.js';
import { reorderRuntimeArgv } from '../../../src/cli/runtime/argv.js';
import { renderSyntaxProblem, syntaxProblem } from '../../../src/cli/syntax-error.js';

type Compiler = { compile(): { machine: StateMachine } };

/** main.ts's CLI for `argv`; `fresh`: clipanion's own compile (the prototype's) instead of parser.ts's. */
async function cliFor(argv: string[], fresh: boolean): Promise<{ cli: Cli; argv: string[]; commands: CommandClass[] }> {
  if (argv[0] === 'runtime') argv = ['runtime', ...reorderRuntimeArgv(argv.slice(1))];
  if (argv[0] === 'help') argv = [...argv.slice(1), '--help'];
  const cli = new HutchCli({ binaryLabel: 'hutch', binaryName: 'hutch', binaryVersion: '0.1.0' });
  if (fresh) delete (cli as unknown as { builder: { compile?: unknown } }).builder.compile;
  cli.register(Builtins.HelpCommand);
  cli.register(Builtins.VersionCommand);
  const verbAt = argv.findIndex((a) => verbs.has(a));
  const commands = await loadCommands(argv[verbAt], argv[verbAt + 1]);
  for (const command of commands) cli.register(command);
  return { cli, argv, commands };
}

/** What a command line comes to: the command and its values, or the error as hutch writes it. */
async function outcome(line: string[], fresh: boolean): Promise<unknown> {
  const { cli, argv, commands } = await cliFor(line, fresh);
  try {
    const command = cli.process(argv, { stdout: sink([]) });
    const values = Object.fromEntries(Object.entries(command).filter(([k]) => k !== 'context' && k !== 'cli'));
    const written: string[] = [];
    // Help prints the usage from the registrations; run it (nothing else is run).
    if (command.help || command.constructor === Builtins.HelpCommand || command.constructor === Builtins.VersionCommand)
      await cli.run(command, { stdout: sink(written) });
    return { command: command.constructor.name, values, written: written.join('') };
  } catch (error) {
    const written: string[] = [];
    const code = renderSyntaxProblem(syntaxProblem(error, argv, cli, commands), sink(written));
    const { name, message, candidates } = error as Error & { candidates?: unknown };
    return { thrown: { name, message, candidates }, code, written: written.join('') };
  }
}

function sink(into: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      into.push(chunk.toString());
      done();
    },
  });
}

/** The machine both ways, as text (JSON keeps the order of every list and key). */
async function machines(verb: string | undefined, next?: string): Promise<[string, string]> {
  const { cli } = await cliFor(verb === undefined ? [] : [verb, ...(next === undefined ? [] : [next])], true);
  const builders = (cli as unknown as { builder: { builders: Compiler[] } }).builder.builders;
  const make = (): StateMachine => makeAnyOfMachine(builders.map((b) => b.compile().machine));
  const lazy = simplifyLazily(make());
  const theirs = make();
  simplifyMachine(theirs);
  const plain = lazy.nodes.map(({ dynamics, shortcuts, statics }) => ({ dynamics, shortcuts, statics }));
  return [JSON.stringify({ nodes: plain }), JSON.stringify(theirs)];
}

const lines: string[][] = [
  ['run', '--rm', '--rootfs', '/srv/root', 'true'],
  ['run', '-it', '--name', 'web', '-e', 'A=1', '-e', 'B=2', '-v', '/a:/b:ro', 'alpine', 'sh', '-c', 'echo hi'],
  ['run', '--memory=1g', '--cpus', '2', '-p', '8080:80', 'img', '--', 'ls', '-l'],
  ['run', '-d', '--rm', '--network', 'none', 'img', 'sleep', '9'],
  ['run', '--rm', 'img', 'true', '--rm'],
  ['--root', '/tmp/r', 'run', '--rm', 'img'],
  ['run'],
  ['run', '--rootfs', '/srv/root'],
  ['run', '--frobnicate', 'img'],
  ['run', '--memory'],
  ['run', '--memory', '--rm', 'img'],
  ['run', '--help'],
  ['run', '-h'],
  ['help', 'run'],
  ['create', '--name', 'c', 'img', 'true'],
  ['create'],
  ['create', '--bogus'],
  ['exec', '-it', 'c', 'sh'],
  ['exec', '-e', 'X=1', '-w', '/tmp', 'c', 'ls', '-la'],
  ['exec', 'c'],
  ['exec'],
  ['exec', '--help'],
  [],
  ['--help'],
  ['-h'],
  ['help'],
  ['--version'],
  ['version'],
  ['frobnicate'],
  ['rnu', 'img'],
  ['image'],
  ['image', 'frob'],
  ['image', 'prune', '-a'],
  ['image', 'ls'],
  ['ps', '-a', '--format', 'json'],
  ['ps', 'extra'],
  ['rm', '-f', 'a', 'b'],
  ['logs', '-f', 'c'],
  ['cp', 'c:/etc/hosts', '/tmp/h'],
  ['system', 'info'],
  ['system'],
  ['volume', 'ls'],
  ['runtime', '--root', '/tmp/r', 'state', 'x'],
  ['runtime', 'create', '--bundle', '/b', 'x'],
  ['runtime', 'spec', '--rootless'],
];

describe('the lazy parser', () => {
  it.each([['run'], ['create'], ['exec'], ['image', 'prune'], ['runtime'], [undefined]])(
    'makes the machine clipanion makes (%s)',
    async (verb, next?: string) => {
      const [lazy, theirs] = await machines(verb, next);
      expect(lazy).toBe(theirs);
    },
  );

  it.each(lines.map((l) => [l.join(' ') || '(nothing)', l]))('parses `hutch %s` as clipanion does', async (_, line) => {
    expect(await outcome(line, false)).toEqual(await outcome(line, true));
  });

  it('follows clipanion where a node is its own shortcut', () => {
    const make = (): StateMachine => ({
      nodes: [
        { statics: { a: [{ to: 3 }] }, dynamics: [], shortcuts: [] },
        { statics: {}, dynamics: [], shortcuts: [] },
        { statics: {}, dynamics: [], shortcuts: [] },
        { statics: { b: [{ to: 1 }] }, dynamics: [], shortcuts: [{ to: 3 }, { to: 4 }] },
        { statics: { c: [{ to: 1 }] }, dynamics: [['always', { to: 1 }]], shortcuts: [] },
      ],
    });
    const theirs = make();
    simplifyMachine(theirs);
    expect(JSON.stringify(simplifyLazily(make()))).toBe(JSON.stringify(theirs));
  });
});
