/**
 * Store: the user face's container records on disk. containers/<id>/config.json (what the container
 * is, written once) and state.json (what it is doing, under the container's lock), names and ids,
 * the store lock, the log file format, the view of a record as it really is (a dead monitor means
 * stopped), and what commands do with the cgroup recorded in the state (pause, update, kill, OOM).
 *
 * Owns: ContainerStore, ContainerConfig, ContainerState, readState/updateState, viewContainer,
 * logWriter/readLog, setPaused/updateResources/killCgroup.
 * May import: src/cgroups, src/runtime (types), src/sys, src/paths.ts, src/errors.ts. No other engine area.
 */
export * from './records.js';
export * from './view.js';
export * from './logs.js';
export * from './cgroup-state.js';
