/**
 * Launch: an OCI spec becomes a running container process. Spawns hutch-nsexec with the plan
 * made from the spec (src/runtime/plan.ts), writes the id maps, runs the launch steps (callbacks on the
 * container's pid, before exec), attaches the terminal, forwards signals, reports the exit status.
 * Also: programs run as root of a new user namespace (the FUSE daemon's holder, `rm -rf` of
 * foreign-owned trees), signal names, and the OCI hooks' one runner (both faces run spec.hooks through it).
 *
 * Owns: createContainer, runContainer, LaunchOptions, CreatedContainer, launchInUserNamespace,
 * attachTerminal, parseSignal, runHooks/runHooksInside.
 * May import: src/runtime, src/security (the seccomp compiler), src/userns, src/sys, src/errors.ts.
 * No other engine area (it is the bottom).
 */
export * from './launch.js';
export * from './terminal.js';
export * from './userns-program.js';
export * from './signals.js';
export * from './hooks.js';
