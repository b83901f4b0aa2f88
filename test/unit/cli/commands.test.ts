// The verb table in src/cli/commands/index.ts must know every command file: a command left out
// would exist in the source and be unreachable from the command line.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { loadCommands, verbs } from '../../../src/cli/commands/index.js';

const cliDir = join(import.meta.dirname, '..', '..', '..', 'src', 'cli');

type Named = { name: string };

async function classesIn(dir: string): Promise<Named[]> {
  const found: Named[] = [];
  for (const file of readdirSync(join(cliDir, dir)).filter((f) => f.endsWith('.ts') && f !== 'index.ts')) {
    const module = (await import(join(cliDir, dir, file))) as Record<string, unknown>;
    for (const value of Object.values(module))
      if (typeof value === 'function' && Array.isArray((value as { paths?: unknown }).paths))
        found.push(value as Named);
  }
  return found;
}

it('every command class is reachable through its verb', async () => {
  const all = await loadCommands(undefined);
  const defined = [...(await classesIn('commands')), ...(await classesIn('runtime'))];
  expect(defined.filter((c) => !all.includes(c as never)).map((c) => c.name)).toEqual([]);
  for (const command of all) {
    for (const verb of new Set((command.paths ?? []).map((p) => p[0]!))) {
      expect(verbs.has(verb), `${command.name}: verb ${verb}`).toBe(true);
      expect(await loadCommands(verb), `${command.name} under ${verb}`).toContain(command);
    }
  }
});
