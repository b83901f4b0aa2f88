import { blockDevice } from '../../cgroups/detect.js';
import { cgroupHook, type CgroupHandle } from '../../cgroups/cgroup.js';
import {
  cgroupOptionsFromFlags,
  resourcesFromFlags,
  type CgroupFlags,
  type ResourceFlags,
} from '../../cgroups/flags.js';
import type { LinuxResources } from '../../cgroups/resources.js';
import type { Cleanup } from '../../sys/cleanup.js';
import type { ContainerHook } from '../launch/index.js';

/** The resource flags of `run` and `create` (--memory, --cpus, ...) plus --cgroups and friends. */
export type ResourceRequest = ResourceFlags & CgroupFlags;

/**
 * Validates the resource flags now (a bad value fails before anything starts) and returns the
 * launch hook that gives the container its cgroup, with the cgroups module's honest warning (or
 * its error with --cgroups=required) where the host cannot enforce a limit. `monitorChildren`,
 * asked at the hook, names what the monitor started for the container so far (placed with it).
 */
export function prepareCgroups(
  flags: ResourceRequest,
  id: string,
  monitorPid: number | undefined,
  cleanup: Cleanup,
  warn: (line: string) => void,
  onHandle?: (handle: CgroupHandle | undefined) => void | Promise<void>,
  monitorChildren: () => number[] = () => [],
): { hook: ContainerHook; resources: LinuxResources } {
  const resources = resourcesFromFlags(flags, blockDevice);
  const options = cgroupOptionsFromFlags(flags);
  const hook: ContainerHook = (pid) =>
    cgroupHook(
      {
        id,
        monitorPid,
        monitorChildren: monitorChildren(),
        resources,
        mode: options.mode,
        manager: options.manager,
        parent: options.parent,
        warn: (line) => warn(`hutch: warning: ${line}`),
      },
      cleanup,
      onHandle,
    )(pid);
  return { hook, resources };
}
