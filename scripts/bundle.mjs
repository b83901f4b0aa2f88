// Bundles the compiled tree (dist/) into dist/bundle/ with esbuild: one CommonJS file per process
// hutch runs (src/sys/entry-points.ts), started by src/cli/bundle-loader.cts with a V8 code
// cache. Node loads ~90 ES modules for a `hutch run` otherwise, and compiles them every time:
// that cost more than the container itself. Run by `npm run build`, after tsc.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_DIR, ENTRY_POINTS } from '../dist/src/sys/entry-points.js';

const dist = join(import.meta.dirname, '..', 'dist');
const outdir = join(dist, BUNDLE_DIR);
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: Object.entries(ENTRY_POINTS).map(([name, path]) => ({ in: join(dist, path), out: name })),
  outdir,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs', // vm.Script (the code cache) runs scripts, not modules
  platform: 'node',
  target: 'node20',
  // koffi loads its native binary relative to itself; tar-stream is patched through require (src/image/pax.ts);
  // yaml is required only when a CDI spec is YAML (src/engine/spec/cdi.ts)
  external: ['koffi', 'tar-stream', 'yaml'],
  // Without the indentation and comments: every process reads its bundle into a buffer and then a
  // string, and V8 keeps it (1.28 -> 0.99 MB for the CLI). Names stay, so stacks still read.
  minifyWhitespace: true,
  // The ES module code asks import.meta where it is: the bundle file, here.
  define: { 'import.meta.url': '__hutchBundleUrl', 'import.meta.dirname': '__dirname' },
  banner: { js: "const __hutchBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});

// esbuild escapes what is outside ASCII in code (charset 'ascii') but keeps comments as they are:
// one '…' made V8 hold the whole 1.2 MB CLI bundle as a two-byte string (read through the slow
// UTF-8 path, twice the heap in every process). Escaped in comments, it is one byte per char.
for (const name of readdirSync(outdir)) {
  const file = join(outdir, name);
  const source = readFileSync(file, 'utf8');
  // eslint-disable-next-line no-control-regex -- the range is the point: everything outside ASCII
  const ascii = source.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (ascii !== source) writeFileSync(file, ascii);
}
