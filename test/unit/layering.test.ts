// STYLE.md section 3: cli -> engine -> image, runtime, userns, cgroups, net, fuse -> sys, errors.
// Checked by reading the import lines of every source file (no ESLint in the tool chain).
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '..', '..');

/** Which top-level areas each area may import (besides itself). */
const allowed: Record<string, string[]> = {
  'src/cli': ['src/engine', 'src/image', 'src/runtime', 'src/security', 'src/userns', 'src/cgroups', 'net', 'fuse', 'src/sys', 'src/errors.ts', 'src/paths.ts'],
  'src/engine': ['src/image', 'src/runtime', 'src/security', 'src/userns', 'src/cgroups', 'net', 'fuse', 'src/sys', 'src/errors.ts', 'src/paths.ts'],
  'src/security': ['src/runtime/spec.ts', 'src/sys', 'src/errors.ts'],
  'src/image': ['fuse/layer-index.ts', 'src/sys', 'src/errors.ts', 'src/paths.ts'],
  'src/runtime': ['src/userns', 'src/sys', 'src/errors.ts', 'src/paths.ts'],
  'src/userns': ['src/sys', 'src/errors.ts'],
  'src/cgroups': ['src/sys', 'src/errors.ts'],
  'net': ['src/sys', 'src/errors.ts'],
  'fuse': ['src/sys', 'src/errors.ts'],
  'src/sys': ['src/errors.ts'],
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

function areaOf(file: string): string | undefined {
  const rel = relative(repo, file);
  return Object.keys(allowed).find((area) => rel === area || rel.startsWith(area + '/'));
}

describe('module layering', () => {
  it('every import goes down the layers', () => {
    const violations: string[] = [];
    for (const top of ['src', 'fuse', 'net']) {
      for (const file of sources(join(repo, top))) {
        const area = areaOf(file);
        if (area === undefined) continue;
        for (const [, spec] of readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)[^'"]*from\s+['"](\.[^'"]+)['"]/gm)) {
          const target = relative(repo, resolve(dirname(file), spec!)).replace(/\.js$/, '.ts');
          if (target.startsWith(area + '/') || target === area) continue;
          if (!allowed[area]!.some((ok) => target === ok || target.startsWith(ok + '/'))) violations.push(`${relative(repo, file)} imports ${target}`);
        }
        if (/from\s+['"]koffi['"]/.test(readFileSync(file, 'utf8')) && !relative(repo, file).startsWith('src/sys/') && relative(repo, file) !== 'fuse/libfuse.ts') {
          violations.push(`${relative(repo, file)} imports koffi (only src/sys/ and fuse/libfuse.ts may)`);
        }
      }
    }
    expect(violations).toEqual([]);
  });
});
