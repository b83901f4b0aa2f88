import { join } from 'node:path';
import { containerNetnsPath } from '../../../net/index.js';
import { NetworkError } from '../../errors.js';
import { hutchPaths } from '../../paths.js';
import { CLONE } from '../../runtime/linux.js';
import type { Placement } from '../spec/index.js';
import { containerFiles, readState, resolveContainer, userStore } from '../store/index.js';

/**
 * The running container whose network namespace `--network container:ID` joins. A network
 * namespace can only be entered with CAP_SYS_ADMIN over the user namespace that owns it
 * (setns(2)), so the new container lives in the target's user namespace too, as podman's rootless
 * containers all share one; its filesystem holder is started there as well.
 */
export interface NetworkTarget {
  id: string;
  pid: number;
  userns: string;
  netns: string;
  /** The target's generated files: the joining container binds these (one network, one set). */
  hosts: string;
  resolvConf: string;
}

/** Resolves `ref` (a name or id of `run -d`/`create`) in the store under `root` to a running container. */
export function resolveNetworkTarget(ref: string, root: string | undefined): NetworkTarget {
  const store = userStore(hutchPaths(root));
  let id: string;
  try {
    id = resolveContainer(store, ref);
  } catch (error) {
    throw new NetworkError('NET_CONTAINER_UNKNOWN', `cannot join the network of container ${ref}: no such container`, {
      hint: 'give the name or id of a container started with `hutch run -d` (see `hutch ps`)',
      cause: error,
    });
  }
  const state = readState(store, id);
  if (state.status !== 'running' || state.pid === undefined) {
    throw new NetworkError('NET_CONTAINER_GONE', `cannot join the network of container ${ref}: it is ${state.status}`, {
      hint: `start it first: hutch start ${ref}`,
    });
  }
  const runDir = containerFiles(store, id).runDir;
  return {
    id,
    pid: state.pid,
    userns: `/proc/${state.pid}/ns/user`,
    netns: containerNetnsPath(state.pid),
    hosts: join(runDir, 'hosts'),
    resolvConf: join(runDir, 'resolv.conf'),
  };
}

/** The helper's joins: the holder's (or else the target's) user namespace first, then the target's network. */
export function networkJoins(
  target: NetworkTarget,
  holder: { userns: string; mntns: string } | undefined,
): { type: number; path: string }[] {
  const user = holder
    ? [
        { type: CLONE.NEWUSER, path: holder.userns },
        { type: CLONE.NEWNS, path: holder.mntns },
      ]
    : [{ type: CLONE.NEWUSER, path: target.userns }];
  return [...user, { type: CLONE.NEWNET, path: target.netns }];
}

/** Where a container joining the target goes: the target's user namespace (or the holder's in it) and /etc files. */
export function placementForTarget(target: NetworkTarget, holderUserns: string | undefined): Placement {
  return { userns: holderUserns ?? target.userns, etcFiles: { hosts: target.hosts, resolvConf: target.resolvConf } };
}
