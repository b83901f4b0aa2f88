// The daemon's entry point when the engine starts it (fuse/mount.ts, src/engine/setup/storage.ts);
// bin/hutch-fs is the other. HUTCH_FS_SHARED_SOCKET: the shared daemon (fuse/shared.ts).
import { main } from './daemon.js';
import { serveShared } from './shared.js';

const socket = process.env.HUTCH_FS_SHARED_SOCKET;
const lock = process.env.HUTCH_FS_SHARED_LOCK;
// No top-level await: the bundle is CommonJS (scripts/bundle.mjs).
if (socket !== undefined && lock !== undefined) {
  delete process.env.HUTCH_FS_SHARED_SOCKET;
  delete process.env.HUTCH_FS_SHARED_LOCK;
  process.exitCode = serveShared(socket, lock);
} else
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
