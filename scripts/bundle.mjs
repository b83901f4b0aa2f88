// Bundles the compiled tree (dist/) into dist/bundle/ with esbuild: one entry per process hutch
// runs, shared code in chunks. Node loads ~90 ESM files for a `hutch run` otherwise, which cost
// more than the container itself. Run by `npm run build`, after tsc.
import { rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_DIR, ENTRY_POINTS } from '../dist/src/sys/entry-points.js';

const dist = join(import.meta.dirname, '..', 'dist');
const outdir = join(dist, BUNDLE_DIR);
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: Object.values(ENTRY_POINTS).map((path) => ({ in: join(dist, path), out: basename(path, '.js') })),
  outdir,
  bundle: true,
  splitting: true, // a verb loads only its own commands' code, as the unbundled CLI did
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // koffi loads its native binary relative to itself; tar-stream is patched through require (src/image/pax.ts)
  external: ['koffi', 'tar-stream'],
  // CommonJS packages inside (clipanion) call require() for Node's built-ins
  banner: { js: "import { createRequire as __hutchCreateRequire } from 'node:module'; const require = __hutchCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
