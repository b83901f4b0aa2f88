// Reads the import graph of TypeScript sources (static imports, re-exports and import()) and
// judges it: which imports go against the layers, and which files import themselves through a
// cycle. Used by test/unit/layering.test.ts; its own test plants both faults.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** Every relative specifier a file imports, statically or through import(). */
const SPECIFIER =
  /(?:^\s*(?:import|export)\b[^'";]*?\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;

/** File (relative to root) -> the files it imports (relative to root, .ts). */
export type ImportGraph = Map<string, string[]>;

export function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(c|m)?ts$/.test(path) && !path.endsWith('.d.ts') ? [path] : [];
  });
}

export function importGraph(root: string, files: string[]): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(SPECIFIER)].map((m) =>
      relative(root, resolve(dirname(file), m[1]!)).replace(/\.(c|m)?js$/, '.$1ts'),
    );
    graph.set(relative(root, file), targets);
  }
  return graph;
}

/** The cycles, each as the files around it (first file repeated at the end). */
export function findCycles(graph: ImportGraph): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next) && graph.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return cycles;
}

/** Area -> the areas it may import (besides itself); the longest area that contains a path is its area. */
export type Layers = Record<string, string[]>;

export function areaOf(layers: Layers, path: string): string | undefined {
  return Object.keys(layers)
    .filter((area) => path === area || path.startsWith(area + '/'))
    .sort((a, b) => b.length - a.length)[0];
}

/** Imports that leave their area for one it may not import, as "FILE imports TARGET". */
export function layerViolations(graph: ImportGraph, layers: Layers): string[] {
  const violations: string[] = [];
  for (const [file, targets] of graph) {
    const area = areaOf(layers, file);
    if (area === undefined) continue;
    for (const target of targets) {
      const to = areaOf(layers, target);
      if (to === area) continue;
      const ok = layers[area]!.some((allowed) => target === allowed || target.startsWith(allowed + '/'));
      if (!ok) violations.push(`${file} imports ${target}`);
    }
  }
  return violations;
}
