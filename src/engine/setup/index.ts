/**
 * Setup: what a container of the user face needs around each launch, made from its flags and kept
 * in setup.json: the image resolved and marked used, the root filesystem (the union filesystem
 * daemon in the container's user namespace, or the vfs copy), the network (slirp4netns/pasta, ports,
 * joining another container's network), the cgroup; and the removal of a container's record and
 * folders, which releases its image.
 *
 * Owns: createSetup, prepareLaunch, readSetup/releaseSetup, prepareRootfs, prepareNetwork,
 * prepareCgroups, preholdUnion (the union's holder started before the run's flags are known), removeRecord, removeTree, treeLayer (the writable layer over a --rootfs tree),
 * hookSteps (a user-face container's OCI hooks, from CDI specs), endSharedDaemons (the shared union
 * daemons of a runtime folder ended: system reset).
 * May import: engine/launch, engine/spec, engine/store, engine/volume; src/image, src/cgroups, net, fuse, src/runtime,
 * src/userns, src/sys, src/paths.ts, src/errors.ts.
 */
export * from './setup.js';
export * from './storage.js';
export * from './preheld-holder.js';
export * from './tree-layer.js';
export * from './network.js';
export * from './network-join.js';
export * from './cgroups.js';
export * from './ports-view.js';
export * from './remove-tree.js';
export * from './remove-record.js';
export * from './oci-hooks.js';
export { endSharedDaemons } from './shared-union.js';
