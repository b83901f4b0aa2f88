/**
 * OCI: the OCI runtime face (`hutch runtime`, bin/hutch-runtime), runc's model: no monitor, state in
 * ROOT/<id>/state.json, a created process waiting on a fifo, the runtime spec's hooks, cgroups from
 * linux.cgroupsPath, and the config.json `spec --rootless` writes.
 *
 * Owns: ociCreate/ociStart/ociKill/ociDelete, ociRunForeground, ociExec (the hooks run by engine/launch's runner),
 * the records (state.ts; entries.ts: owners and leftovers of a killed runtime), rootlessSpec,
 * ociUpdate and what config.json asks beside the helper's plan (oomScoreAdj, unapplied-label warnings).
 * May import: engine/launch, engine/spec; src/runtime, src/cgroups, src/sys, src/errors.ts, src/paths.ts.
 */
export * from './lifecycle.js';
export * from './state.js';
export * from './exec.js';
export * from './cgroup.js';
export * from './rootless-spec.js';
export * from './extras.js';
