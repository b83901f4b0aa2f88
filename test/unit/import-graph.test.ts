// The layering test's reader must see what it claims to: a planted cycle (through import() too)
// and an import up the layers, in a scratch tree.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { findCycles, importGraph, layerViolations, sourceFiles } from '../helpers/import-graph.js';

const root = mkdtempSync(join(tmpdir(), 'hutch-import-graph-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function plant(files: Record<string, string>): ReturnType<typeof importGraph> {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return importGraph(root, sourceFiles(root));
}

it('finds a planted cycle, even one closed by import()', () => {
  const graph = plant({
    'low/a.ts': "import { b } from './b.js';\nexport const a = b;\n",
    'low/b.ts': "export const b = 1;\nexport async function later() {\n  return (await import('../low/c.js')).c;\n}\n",
    'low/c.ts': "import type { a } from './a.js';\nexport const c: typeof a = 2;\n",
    'low/d.ts': "export * from './a.js';\n",
  });
  expect(findCycles(graph)).toEqual([['low/a.ts', 'low/b.ts', 'low/c.ts', 'low/a.ts']]);
  expect(graph.get('low/d.ts')).toEqual(['low/a.ts']);
});

it('finds an import up the layers, and none in a tree without one', () => {
  const graph = plant({
    'high/h.ts': "import { a } from '../low/a.js';\nexport const h = a;\n",
    'low/e.ts': "const m = await import('../high/h.js');\nexport default m;\n",
  });
  expect(layerViolations(graph, { high: ['low'], low: [] })).toEqual(['low/e.ts imports high/h.ts']);
  expect(
    findCycles(
      new Map([
        ['x.ts', ['y.ts']],
        ['y.ts', []],
      ]),
    ),
  ).toEqual([]);
});
