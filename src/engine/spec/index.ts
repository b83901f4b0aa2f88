/**
 * Spec: pure builders of OCI specs. `hutch run`'s flags (with the maps, the user database and the
 * generated /etc files) become a spec with docker's defaults; the exec spec joins a running
 * container's namespaces; users and groups resolve against passwd/group text; an image's config
 * (Entrypoint, Cmd, Env, WorkingDir, User, Volumes, ExposedPorts) fills what the flags left open.
 *
 * Owns: buildRunSpec, withoutUserNamespace, execSpec (joinCreatedSpec: a created container), resolveUser, withHostUser (keep-id's passwd line),
 * applyImageConfig, hostEnvironment (--env-host's blocklist), defaultRunRequest (a plain `run`'s request).
 * May import: src/runtime (spec types, capabilities), src/security (--security-opt), src/userns, src/image (types), src/sys,
 * src/cgroups (sizes), src/errors.ts. No other engine area.
 */
export * from './blueprint.js';
export * from './container-spec.js';
export * from './exec-spec.js';
export * from './image-config.js';
export * from './users.js';
export * from './host-env.js';
export * from './devices.js';
export * from './cdi.js';
export * from './gpus.js';
export * from './device-request.js';
export * from './run-request.js';
