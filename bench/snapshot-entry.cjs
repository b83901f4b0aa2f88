// The entry of a V8 start-up snapshot of hutch's CLI bundle, for bench/snapshot.bench.sh only:
//   node --snapshot-blob cli.blob --build-snapshot bench/snapshot-entry.cjs   (BUNDLE=dist/bundle/cli.cjs)
//   node --snapshot-blob cli.blob -- run --rootfs DIR true
// It evaluates the bundle and the commands PRELOAD names (their module graphs) into the heap the
// blob holds; the deserialized main function runs the command line as bin/hutch would. Without
// BUNDLE it is an empty snapshot: the fixed cost of starting from a blob of one's own.
// Not used by hutch itself: measured, it costs more than the code cache it would replace
// (docs/startup.md). Modules outside the bundle (koffi, a native addon) load at run time.
/* global process, __filename */
'use strict';
const { readFileSync } = require('node:fs');
const { dirname } = require('node:path');
const { runInThisContext } = require('node:vm');
const { startupSnapshot } = require('node:v8');
const { createRequire, wrap } = require('node:module');

const file = process.env.BUNDLE;
let runtimeRequire; // set once deserialized: the bundle's externals resolve from where it is
let start = () => {};
if (file) {
  // The entry runs main() on load; here main and loadCommands are kept for the deserialized start.
  const tail = 'void main(process.argv.slice(2)).then((code) => {';
  const source = readFileSync(file, 'utf8');
  if (!source.includes(tail)) throw new Error(`${file}: its entry does not end as snapshot-entry.cjs expects`);
  const patched = source.replace(tail, 'globalThis.__hutchEntry = { main, loadCommands };\nvoid (0, (code) => {');
  // scripts/bundle.mjs's externals; everything else the bundle requires is a built-in.
  const external = new Set(['koffi', 'tar-stream', 'yaml']);
  const requireAny = (id) => (external.has(id) ? runtimeRequire(id) : require(id));
  const module = { exports: {} };
  runInThisContext(wrap(patched), { filename: file })(module.exports, requireAny, module, file, dirname(file));
  const entry = globalThis.__hutchEntry;
  for (const verb of (process.env.PRELOAD ?? '').split(',').filter(Boolean)) void entry.loadCommands(verb);
  start = () =>
    void entry.main(process.argv.slice(2)).then((code) => {
      process.exitCode = code;
    });
}

startupSnapshot.setDeserializeMainFunction(() => {
  runtimeRequire = createRequire(file ?? __filename);
  process.argv.splice(1, 0, file ?? __filename); // as bin/hutch's argv: [node, script, ...args]
  start();
});
