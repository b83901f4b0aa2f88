import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Cleanup } from '../../sys/cleanup.js';
import { atomicWriteFile } from '../../sys/fs.js';
import { CAPABILITIES } from '../../runtime/linux.js';
import type { Hook, Process, Spec } from '../../runtime/spec.js';
import { runHooks, runHooksInside, type ContainerHook, type OciStateJson } from '../launch/index.js';
import { joinCreatedSpec } from '../spec/index.js';

/** What a launch adds to run its spec's hooks: a launch step, and the calls around start. */
export interface HookSteps {
  hooks: ContainerHook[];
  starting?: ContainerHook;
  started?: ContainerHook;
}

/** Who wrote the hooks a user-face container has (CDI specs, the only source): named in a failure's hint. */
const ORIGIN = 'the CDI spec';

/**
 * The user face runs a spec's hooks (from CDI devices) through the OCI face's runner
 * (engine/launch/hooks.ts), each with the state on stdin, once the container is cloned and
 * mounted: prestart and createRuntime in hutch's namespaces; createContainer as root of the
 * container's user namespace (its capabilities) in hutch's mount namespace, so that its host path
 * resolves and the container's root is reachable, a union filesystem's included (FUSE lets in
 * only its own user namespace); startContainer inside the container before its process execs;
 * poststart after (a failure warns); poststop when the launch is released (a failure warns). The
 * state's bundle holds the spec as config.json, its root.path /proc/PID/root: the container's
 * root with its mounts.
 */
export function hookSteps(
  id: string,
  spec: Spec,
  bundle: string,
  ctx: { cleanup: Cleanup; warn: (line: string) => void },
): HookSteps {
  const hooks = spec.hooks;
  if (hooks === undefined || Object.values(hooks).every((list: Hook[] | undefined) => (list ?? []).length === 0))
    return { hooks: [] };
  const state = (pid: number, status: OciStateJson['status']): OciStateJson => ({
    ociVersion: spec.ociVersion,
    id,
    status,
    pid,
    bundle,
    annotations: spec.annotations ?? {},
  });
  const warn = (error: unknown): void => ctx.warn(`hutch: warning: ${(error as Error).message}`);
  return {
    hooks: [
      async (pid) => {
        mkdirSync(bundle, { recursive: true, mode: 0o700 });
        const config = { ...spec, root: { ...spec.root, path: `/proc/${pid}/root` } };
        atomicWriteFile(join(bundle, 'config.json'), JSON.stringify(config) + '\n', 0o600);
        ctx.cleanup.add(`run the poststop hooks of ${id}`, () =>
          runHooks('poststop', hooks.poststop, state(pid, 'stopped'), ORIGIN).catch(warn),
        );
        for (const kind of ['prestart', 'createRuntime'] as const)
          await runHooks(kind, hooks[kind], state(pid, 'creating'), ORIGIN);
        const inUserns = {
          spec,
          joining: (process: Process) => userNamespaceSpec(spec, pid, process),
          pathsIn: 'the host',
        };
        await runHooksInside('createContainer', hooks.createContainer, inUserns, state(pid, 'creating'), ORIGIN);
      },
    ],
    starting: async (pid) => {
      const joining = { spec, joining: (process: Process) => joinCreatedSpec(spec, pid, process) };
      await runHooksInside('startContainer', hooks.startContainer, joining, state(pid, 'created'), ORIGIN);
    },
    started: async (pid) => runHooks('poststart', hooks.poststart, state(pid, 'running'), ORIGIN).catch(warn),
  };
}

/**
 * A process in the container's user namespace only: the host's mounts, every capability of that
 * namespace (CAP_SYS_PTRACE reaches /proc/PID/root of the not yet dumpable container) and no
 * seccomp, as runc's createContainer hooks run from its init before it drops them.
 */
function userNamespaceSpec(spec: Spec, pid: number, process: Process): Spec {
  const all = [...CAPABILITIES];
  return {
    ociVersion: spec.ociVersion,
    process: {
      ...process,
      capabilities: { bounding: all, effective: all, permitted: all, inheritable: [], ambient: [] },
    },
    linux: { namespaces: [{ type: 'user', path: `/proc/${pid}/ns/user` }] },
  };
}
