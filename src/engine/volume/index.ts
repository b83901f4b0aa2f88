/**
 * Named volumes: the store of volumes under DATA/volumes (created on first use, filled once from the
 * image, marked with the containers that use them), the -v/--mount flags that name them, and :U's
 * chown through the container's user namespace.
 *
 * Owns: VolumeStore, parseVolumeFlag/parseMountFlag, resolveVolumes/releaseVolumes, chownToContainer.
 * May import: engine/launch; src/image, src/runtime (types), src/sys, src/paths.ts, src/errors.ts.
 */
export * from './flags.js';
export * from './owner.js';
export * from './resolve.js';
export * from './store.js';
