// The argv scan that starts the monitor of `run -d` and `create` before the CLI is loaded
// (src/cli/early-monitor.cts) against clipanion's parse of the same lines: its table of options
// that take a value is the one the commands declare, and it says "a container under a monitor"
// exactly for the lines clipanion reads as run -d or create.
import { Cli, type CommandClass } from 'clipanion';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RUN_VALUE_OPTIONS, startsDetachedContainer } from '../../../src/cli/early-monitor.cjs';
import { CreateCommand } from '../../../src/cli/commands/create.js';
import { loadCommands } from '../../../src/cli/commands/index.js';
import { RunCommand } from '../../../src/cli/commands/run.js';
import { CONTAINER_LINES as LINES } from '../../helpers/container-lines.js';

const cli = new Cli({ binaryName: 'hutch' });
for (const c of (await loadCommands(undefined)) as CommandClass[]) cli.register(c);

/** The names of a command's options, by whether they take a value (clipanion's "#0"). */
function declared(path: string[]): { values: string[]; flags: string[] } {
  const definition = cli.definitions().find((d) => d.path === `hutch ${path.join(' ')}`)!;
  const names = (takes: boolean): string[] =>
    definition.options
      .filter((o) => o.definition.endsWith(' #0') === takes)
      .flatMap((o) => o.definition.split(' ')[0]!.split(','))
      .sort();
  return { values: names(true), flags: names(false) };
}

/** What clipanion makes of the line: a container under a monitor, or not; undefined when it refuses it. */
function clipanion(argv: string[]): boolean | undefined {
  try {
    const command = cli.process(argv) as unknown as { detach?: boolean };
    if (command instanceof CreateCommand) return true;
    return command instanceof RunCommand && command.detach === true;
  } catch {
    return undefined;
  }
}

describe('the argv scan of run -d and create', () => {
  it('holds the value-taking options run and create declare', () => {
    for (const path of [['run'], ['create']]) {
      const { values, flags } = declared(path);
      expect(values).toEqual([...RUN_VALUE_OPTIONS].sort());
      expect(flags.filter((f) => RUN_VALUE_OPTIONS.has(f))).toEqual([]);
    }
  });

  it('is the table native/run-front.c scans a run by (detached_line: its own monitor)', () => {
    const source = readFileSync(join(import.meta.dirname, '..', '..', '..', 'native', 'run-front.c'), 'utf8');
    const table = /RUN_VALUE_OPTIONS\[\] = \{([^}]*)\}/.exec(source)![1]!;
    const names = [...table.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
    expect(names.sort()).toEqual([...RUN_VALUE_OPTIONS].sort());
  });

  it.each(LINES)('says what clipanion parses: %j', (...argv) => {
    const parsed = clipanion(argv);
    // A line clipanion refuses is a usage error: whatever the scan guessed, the monitor is ended unused.
    if (parsed !== undefined) expect(startsDetachedContainer(argv)).toBe(parsed);
  });

  it('takes podman spellings the parser refuses as detached (a wrong guess costs a Node start)', () => {
    expect(startsDetachedContainer(['run', '--detach=true', 'img'])).toBe(true);
    expect(startsDetachedContainer(['run', '-d', '--detach=false', 'img'])).toBe(false);
  });

  it('stops at the image: a run whose command has -d is not detached', () => {
    expect(startsDetachedContainer(['run', 'img', '-d'])).toBe(false);
    expect(startsDetachedContainer(['run', '-i', 'img', 'sh', '-d'])).toBe(false);
  });
});
