// The entry point that reads a container's upper layer, run by hutch as root of a user namespace
// with the container's id maps (files of the container's other users are readable there, and
// lstat shows the container's ids): argv = tar UPPER [MOUNTPOINT...]. The layer tar goes to stdout.
import { packUpper } from './upper-tar.js';

const [mode, upper, ...mountpoints] = process.argv.slice(2);
// 0 only once the whole tar is out: a step that never settles must not pass for a complete layer.
process.exitCode = 1;
const done =
  mode === 'tar' && upper !== undefined
    ? packUpper(upper, process.stdout, mountpoints)
    : Promise.reject(new Error(`usage: tar UPPER (got ${process.argv.slice(2).join(' ')})`));
// No top-level await: the bundle is CommonJS (scripts/bundle.mjs).
done.then(
  () => {
    process.exitCode = 0;
  },
  (error: unknown) => {
    process.stderr.write(
      `hutch: cannot read the container's layer: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
