// The layers (docs/architecture.md, "Modules"): cli -> engine -> image, runtime, userns, cgroups,
// net, fuse -> sys, errors; inside src/engine, its areas' own graph. Read from the import lines of
// every source file, import() included; no file may import itself through a cycle.
import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { areaOf, findCycles, importGraph, layerViolations, sourceFiles, type Layers } from '../helpers/import-graph.js';

const repo = resolve(import.meta.dirname, '..', '..');
const below = ['src/sys', 'src/errors.ts', 'src/error-codes.ts', 'src/paths.ts'];
// src/config: the containers/common configuration files (TOML), read at the edge.
const mechanisms = [
  'src/image',
  'src/runtime',
  'src/security',
  'src/userns',
  'src/cgroups',
  'net',
  'fuse',
  'src/config',
  ...below,
];
const engine = (...areas: string[]): string[] => areas.map((a) => `src/engine/${a}`);

/** Which areas each area may import (besides itself). */
export const LAYERS: Layers = {
  'src/cli': ['src/engine', 'src/build', 'src/sandbox', ...mechanisms],
  // hutch build: Containerfile steps as containers (engine/container) and layers (engine/commit).
  'src/build': [...engine('container', 'commit', 'spec'), ...mechanisms],
  // hutch sandbox: the host's own root, launched as containers are (no store, monitor or setup).
  'src/sandbox': [...engine('launch'), ...mechanisms],
  'src/engine/launch': mechanisms,
  'src/engine/spec': mechanisms,
  'src/engine/store': [...engine('spec'), ...mechanisms],
  'src/engine/volume': [...engine('launch'), ...mechanisms],
  'src/engine/setup': [...engine('launch', 'spec', 'store', 'volume'), ...mechanisms],
  // commit, diff, export: a container's writable layer read back into an image.
  'src/engine/commit': [...engine('launch', 'setup', 'store'), ...mechanisms],
  'src/engine/monitor': [...engine('launch', 'spec', 'store', 'setup'), ...mechanisms],
  'src/engine/container': [...engine('launch', 'spec', 'store', 'setup', 'monitor'), ...mechanisms],
  'src/engine/oci': [...engine('launch', 'spec'), ...mechanisms],
  // system reset ends containers of both faces and removes their records: the top of the engine.
  'src/engine/system': [...engine('launch', 'store', 'setup', 'container', 'oci'), ...mechanisms],
  'src/image': ['fuse/layer-index.ts', 'src/config', ...below],
  'src/config': ['src/errors.ts', 'src/error-codes.ts'],
  'src/runtime': ['src/userns', ...below],
  'src/security': ['src/runtime/spec.ts', ...below],
  'src/userns': ['src/runtime/spec.ts', 'src/sys', 'src/errors.ts'],
  'src/cgroups': ['src/sys', 'src/errors.ts'],
  net: ['src/sys', 'src/errors.ts'],
  fuse: ['src/sys', 'src/errors.ts'],
  'src/sys': ['src/errors.ts'],
};

const files = ['src', 'fuse', 'net'].flatMap((top) => sourceFiles(join(repo, top)));
const graph = importGraph(repo, files);

describe('module layering', () => {
  it('every import goes down the layers, import() included', () => {
    expect(layerViolations(graph, LAYERS)).toEqual([]);
  });

  it('every engine file is in an area with an index that says what it owns and may import', () => {
    const engineFiles = [...graph.keys()].filter((f) => f.startsWith('src/engine/'));
    expect(engineFiles.filter((f) => areaOf(LAYERS, f) === undefined)).toEqual([]);
    for (const area of Object.keys(LAYERS).filter((a) => a.startsWith('src/engine/'))) {
      const index = readFileSync(join(repo, area, 'index.ts'), 'utf8');
      expect(index, area).toMatch(/Owns: /);
      expect(index, area).toMatch(/May import: /);
    }
  });

  it("engine areas reach each other through the other area's index", () => {
    const wrong = [...graph].flatMap(([file, targets]) => {
      const area = areaOf(LAYERS, file);
      if (!area?.startsWith('src/engine/')) return [];
      return targets
        .filter(
          (t) => t.startsWith('src/engine/') && areaOf(LAYERS, t) !== area && t !== `${areaOf(LAYERS, t)}/index.ts`,
        )
        .map((t) => `${file} imports ${t}`);
    });
    expect(wrong).toEqual([]);
  });

  it('no import cycle', () => {
    expect(findCycles(graph).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('only src/sys/koffi.ts loads koffi, and only src/sys/libc.ts and fuse/libfuse.ts take it from there', () => {
    const uses = (pattern: RegExp) =>
      files
        .filter((f) => pattern.test(readFileSync(f, 'utf8')))
        .map((f) => relative(repo, f))
        .sort();
    expect(uses(/(from\s+|require\()['"]koffi['"]/)).toEqual(['src/sys/koffi.ts']);
    expect(uses(/\bloadKoffi\(\)/)).toEqual(['fuse/libfuse.ts', 'src/sys/koffi.ts', 'src/sys/libc.ts']);
  });
});
