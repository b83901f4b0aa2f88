import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The scripts hutch runs as processes of their own, with their compiled paths in dist/. bin/hutch
 * runs the esbuild bundle (scripts/bundle.mjs): one CommonJS file per entry in dist/bundle/,
 * started through src/cli/bundle-loader.cts for its code cache. The compiled tree (dist/src,
 * dist/fuse, dist/net) is what tests import.
 */
export const ENTRY_POINTS = {
  cli: 'src/cli/main.js',
  monitor: 'src/engine/monitor/main.js',
  fuseDaemon: 'fuse/daemon-main.js',
  upperReader: 'src/engine/commit/upper-main.js',
  sandbox: 'src/cli/sandbox-main.js',
  copier: 'src/engine/commit/copy-main.js',
  runtime: 'src/cli/runtime-main.js',
} as const;

export type EntryPoint = keyof typeof ENTRY_POINTS;

/** The folder bundled entries land in, inside dist/. */
export const BUNDLE_DIR = 'bundle';

/** Whether code loaded from folder `here` runs from the bundle (dist/bundle) rather than the compiled tree. */
export function inBundle(here: string): boolean {
  return basename(here) === BUNDLE_DIR;
}

/** The loader of bundled entries, compiled from src/cli/bundle-loader.cts. */
export const BUNDLE_LOADER = 'src/cli/bundle-loader.cjs';

/**
 * The node arguments that run `name`, from wherever this code was loaded: bundled, the loader
 * and the entry's name; compiled (dist/src/sys) or from sources (src/sys, under vitest), the
 * compiled file in dist/.
 */
export function entryCommand(name: EntryPoint): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  if (inBundle(here)) return [join(here, '..', BUNDLE_LOADER), name];
  const top = join(here, '..', '..');
  return [join(basename(top) === 'dist' ? top : join(top, 'dist'), ENTRY_POINTS[name])];
}
