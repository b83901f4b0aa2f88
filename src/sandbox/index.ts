/**
 * `hutch sandbox`: a command confined on the host's own root filesystem (bubblewrap's job). A
 * tmpfs root with the host's /usr, /etc and /opt read-only, fresh /proc and /dev, private /tmp and
 * home, no network, the default seccomp profile, no capabilities; made into an OCI spec and run
 * through the same launch as containers (src/engine/launch -> src/runtime plan -> hutch-nsexec).
 * No daemon, no monitor, no store, no FUSE.
 *
 * Owns: parseSandboxArgs and SANDBOX_FLAGS (the flags, bubblewrap's way), readArgsFd (--args), readCallerFd (--file's bytes), statusFds (--info-fd, --json-status-fd), runSandbox, sandboxSpec, sandboxEnv, socketMounts, deviceMounts, sandboxSeccomp (and its compiled cache), SandboxOptions.
 * May import: src/engine/launch, src/runtime, src/security, src/userns, src/sys, src/errors.ts, src/paths.ts.
 */
export * from './argv.js';
export * from './options.js';
export * from './spec.js';
export * from './env.js';
export * from './sockets.js';
export * from './run.js';
export * from './seccomp.js';
export * from './data.js';
export * from './args-fd.js';
export * from './status-fd.js';
