import { attachContainerCgroup, createContainerCgroup, type CgroupInfo } from '../../cgroups/cgroup.js';
import { parseCgroupsPath } from '../../cgroups/flags.js';
import type { LinuxResources } from '../../cgroups/resources.js';
import type { Spec } from '../../runtime/spec.js';
import { Cleanup } from '../../sys/cleanup.js';
import type { ContainerHook } from '../launch/index.js';

/** The cgroup of an OCI-face container: made at create, kept past the runtime's exit, removed by delete. */
export interface OciCgroup {
  hook: ContainerHook;
  /** The cgroup made (undefined where the host gives none). */
  info(): CgroupInfo | undefined;
  /** Removes it after a failed create. */
  abandon(): Promise<void>;
}

/**
 * `hutch runtime create`: config.json's linux.resources and linux.cgroupsPath through the same
 * cgroups code as `hutch run`: with --systemd-cgroup a scope ("slice:prefix:name", runc's
 * convention), else a cgroupfs path when one is given, else whatever the host offers. Limits the
 * host cannot enforce get the one-line warning; the runtime does not stay, so no supervisor.
 */
export function ociCgroup(id: string, spec: Spec, systemd: boolean): OciCgroup {
  const cleanup = new Cleanup();
  const path = spec.linux?.cgroupsPath;
  const placement = path ? parseCgroupsPath(path, systemd) : {};
  const manager = systemd ? 'systemd' : path ? 'cgroupfs' : undefined;
  let made: CgroupInfo | undefined;
  return {
    hook: async (pid) => {
      const handle = await createContainerCgroup(
        { id, pid, resources: (spec.linux?.resources ?? {}) as LinuxResources, manager, ...placement },
        cleanup,
      );
      if (handle !== undefined)
        made = {
          path: handle.path,
          group: handle.group,
          manager: handle.manager,
          controllers: handle.controllers,
          required: handle.required,
          ...(handle.unit ? { unit: handle.unit } : {}),
        };
    },
    info: () => made,
    abandon: async () => void (await cleanup.release()),
  };
}

/** `delete`: kills what is left in the container's cgroup and removes it (and its scope). */
export async function removeOciCgroup(info: CgroupInfo | undefined): Promise<void> {
  if (info !== undefined) await attachContainerCgroup(info).remove();
}
