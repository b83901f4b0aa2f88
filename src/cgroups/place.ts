import { join } from 'node:path';
import { describeCause } from '../errors.js';
import type { DegradeReason } from './degrade.js';
import { detectHost, userManagerSockets, writableSubtree, KNOWN_CONTROLLERS, type CgroupHost } from './detect.js';
import type { CgroupManager } from './flags.js';
import { controllers, enableControllers, makeCgroup, moveProcess, procs, readCgroupFile } from './fs2.js';
import { connectUserManager, startScope } from './systemd.js';

/** Where a container's group cgroup came from: a systemd scope or a delegated subtree. */
export interface PlacedGroup {
  /** Absolute directory of the group (the scope, or <subtree>/hutch-<id>). */
  dir: string;
  manager: CgroupManager;
  /** The scope's unit name (systemd only). */
  unit?: string;
}

export interface PlaceRequest {
  id: string;
  /** The scope's unit name (default hutch-<id>.scope), or the subtree child's name (hutch-<id>). */
  name?: string;
  pids: number[];
  manager: CgroupManager | undefined;
  parent: string | undefined;
  root: string;
  env: NodeJS.ProcessEnv;
}

/**
 * Finds the container a group cgroup: the user's systemd first (a transient scope holding
 * `pids`), then a cgroup v2 subtree already delegated to this process. Returns the reason
 * when neither exists. The pids are left in the group's root; the caller sorts them into
 * children.
 */
export async function placeGroup(request: PlaceRequest): Promise<PlacedGroup | DegradeReason> {
  const host = detectHost(request.root);
  if (host.layout !== 'unified' || host.v2Mount === undefined) return { kind: 'layout', layout: host.layout };
  const reasons: string[] = [];
  if (request.manager !== 'cgroupfs') {
    try {
      return await systemdGroup(request, host);
    } catch (error) {
      if (request.manager === 'systemd') return { kind: 'no-cgroup', detail: describeCause(error) };
      reasons.push(describeCause(error));
    }
  }
  const base = request.parent ?? host.ownCgroup;
  if (base !== undefined && writableSubtree(request.root, host, base) !== undefined) {
    return delegatedGroup(request, join(request.root, host.v2Mount, base));
  }
  reasons.push(`cgroup ${base ?? '(unknown)'} is not delegated to you`);
  return { kind: 'no-cgroup', detail: reasons.join('; and ') };
}

async function systemdGroup(request: PlaceRequest, host: CgroupHost): Promise<PlacedGroup> {
  const manager = connectUserManager(userManagerSockets(request.env, request.root));
  const unit = request.name !== undefined ? `${request.name}.scope` : `hutch-${request.id}.scope`;
  try {
    const cgroup = await startScope(manager, {
      unit,
      pids: request.pids,
      description: `hutch container ${request.id}`,
      ...(request.parent !== undefined ? { slice: request.parent } : {}),
    });
    return { dir: join(request.root, host.v2Mount!, cgroup), manager: 'systemd', unit };
  } finally {
    manager.bus.close();
  }
}

// A delegated subtree holding processes (ours, say, in a Slurm job) cannot enable controllers
// for its children (the no-internal-process rule): its processes move to a leaf first.
function delegatedGroup(request: PlaceRequest, base: string): PlacedGroup {
  const enabled = (readCgroupFile(base, 'cgroup.subtree_control') ?? '').split(/\s+/);
  const offered = controllers(base);
  const wanted = KNOWN_CONTROLLERS.filter((c) => offered.includes(c) && !enabled.includes(c));
  const residents = procs(base);
  if (wanted.length > 0 && residents.length > 0) {
    const leaf = join(base, 'hutch-init');
    makeCgroup(leaf);
    for (const pid of residents) moveProcess(leaf, pid);
  }
  enableControllers(base, wanted);
  const dir = join(base, request.name ?? `hutch-${request.id}`);
  makeCgroup(dir);
  for (const pid of request.pids) moveProcess(dir, pid);
  return { dir, manager: 'cgroupfs' };
}
