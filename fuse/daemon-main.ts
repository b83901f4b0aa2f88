// The daemon's entry point when the engine starts it (fuse/mount.ts); bin/hutch-fs is the other.
import { main } from './daemon.js';

process.exitCode = await main(process.argv.slice(2));
