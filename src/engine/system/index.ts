/**
 * System: `hutch system info`, what this host gives a rootless user (user namespaces, id ranges,
 * FUSE, cgroups, network tools), each check with its fix; it starts a tiny container to prove it.
 * `hutch system reset`: every container (ended first when forced), image and runtime file goes.
 *
 * Owns: systemInfo, planReset/reset.
 * May import: engine/launch; for reset, engine/container, engine/oci, engine/setup, engine/store;
 * src/cgroups, src/runtime, src/userns, net, src/sys, src/paths.ts, src/errors.ts.
 */
export * from './system-info.js';
export * from './reset.js';
