// The daemon's entry point when the engine starts it (fuse/mount.ts); bin/hutch-fs is the other.
import { main } from './daemon.js';

// No top-level await: the bundle is CommonJS (scripts/bundle.mjs).
void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
