/**
 * System: `hutch system info`, what this host gives a rootless user (user namespaces, id ranges,
 * FUSE, cgroups, network tools), each check with its fix; it starts a tiny container to prove it.
 *
 * Owns: systemInfo.
 * May import: engine/launch; src/cgroups, src/runtime, src/userns, net, src/sys, src/errors.ts.
 */
export * from './system-info.js';
