/**
 * A container's writable layer read back out: `commit` (a new image layer, OCI whiteouts, ownership
 * from the metadata), `diff` (A/C/D lines) and `export` (the merged filesystem as a tar). The upper
 * layer is read by a process in the container's user namespace (upper-main.ts).
 *
 * Owns: commitContainer, diffContainer, exportContainer, applyChange.
 * May import: engine/launch, engine/setup, engine/store; src/image, fuse (whiteout, xattr, upper),
 * src/runtime (types), src/sys, src/paths.ts, src/errors.ts.
 */
export * from './changes.js';
export * from './commit.js';
export * from './diff.js';
export * from './export.js';
export { layerFromUpper, storeTar, type StagedTar } from './layer-stream.js';
