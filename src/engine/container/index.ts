/**
 * Container: the user face's containers as commands see them. Make one from `run`'s flags, in the
 * foreground (`hutch run`) or as a record under a monitor (`run -d`, `create`); start, stop, signal,
 * remove, list, sample and exec into recorded containers.
 *
 * Owns: runCommand, createFromFlags, startContainer/stopContainer/removeContainer, listContainers,
 * sampleContainer, execInContainer.
 * May import: engine/launch, engine/spec, engine/store, engine/setup, engine/monitor (its message
 * types only: the monitor is a process, started through src/sys/entry-points.ts); src/image,
 * src/cgroups, net, src/runtime, src/userns, src/sys, src/paths.ts, src/errors.ts.
 */
export * from './foreground.js';
export * from './create.js';
export * from './lifecycle.js';
export * from './exec.js';
export * from './list.js';
export * from './stats.js';
