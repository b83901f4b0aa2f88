import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The scripts hutch starts as processes of their own, with their compiled paths in dist/. bin/hutch
 * runs the esbuild bundle in dist/bundle/ (scripts/bundle.mjs), where every one of them is an
 * entry beside the chunks; the compiled tree (dist/src, dist/fuse, dist/net) is what tests import.
 */
export const ENTRY_POINTS = {
  cli: 'src/cli/main.js',
  monitor: 'src/engine/monitor-main.js',
  fuseDaemon: 'fuse/daemon-main.js',
  forwarder: 'net/forwarder-child.js',
} as const;

export type EntryPoint = keyof typeof ENTRY_POINTS;

/** The folder bundled entries land in, inside dist/. */
export const BUNDLE_DIR = 'bundle';

/**
 * The script to run for `name`, from wherever this code was loaded: bundled, the entry beside
 * it; compiled (dist/src/sys) or from sources (src/sys, under vitest), the compiled file in dist/.
 */
export function entryScript(name: EntryPoint): string {
  const here = dirname(fileURLToPath(import.meta.url));
  if (basename(here) === BUNDLE_DIR) return join(here, basename(ENTRY_POINTS[name]));
  const top = join(here, '..', '..');
  return join(basename(top) === 'dist' ? top : join(top, 'dist'), ENTRY_POINTS[name]);
}
