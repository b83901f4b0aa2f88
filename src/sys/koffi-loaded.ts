import { createRequire } from 'node:module';
import { basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLE_DIR } from './entry-points.js';

const require = createRequire(import.meta.url);
const bundled = basename(dirname(fileURLToPath(import.meta.url))) === BUNDLE_DIR;

/**
 * Whether koffi is loaded in this process already, without loading it (importing anything of
 * src/sys that calls libc does). A spawn through posix_spawn (spawn-light.ts) saves a few ms
 * over Node's fork, loading koffi costs more: `hutch sandbox` does without it. In hutch's
 * bundles (CommonJS) a package required once stays in require's cache. Compiled ES modules
 * (what tests import) load it through the ES loader, which shows no cache: there it counts as
 * loaded, so that tests go the way a `hutch run` goes.
 */
export function koffiLoaded(): boolean {
  if (!bundled) return true;
  try {
    return require.cache[require.resolve('koffi')] !== undefined;
  } catch {
    return false; // not installed: child_process it is
  }
}
