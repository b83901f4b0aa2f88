import { dirname, join } from 'node:path';
import { describeCause } from '../errors.js';
import type { DegradeReason } from './degrade.js';
import { detectHost, userManagerSockets, writableSubtree, KNOWN_CONTROLLERS, type CgroupHost } from './detect.js';
import type { CgroupManager } from './flags.js';
import { controllers, enableControllers, makeCgroup, moveProcess, procs, readCgroupFile } from './fs2.js';
import { connectUserManager, startScope, type UserManager } from './systemd.js';

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
 * Finds the container a group cgroup: a transient scope of the user's systemd (holding `pids`),
 * or a cgroup v2 subtree already delegated to this process. Returns the reason when neither
 * exists. The pids are left in the group's root; the caller sorts them into children.
 */
export async function placeGroup(request: PlaceRequest): Promise<PlacedGroup | DegradeReason> {
  const host = detectHost(request.root);
  if (host.layout !== 'unified' || host.v2Mount === undefined) return { kind: 'layout', layout: host.layout };
  const parent = request.parent;
  const base = parent === undefined ? ownSubtree(request.root, host) : parent.startsWith('/') ? parent : undefined;
  const delegated = base !== undefined && writableSubtree(request.root, host, base) !== undefined;
  const notDelegated = `cgroup ${base ?? '(none)'} is not delegated to you`;
  const stay = (): PlacedGroup => delegatedGroup(request, join(request.root, host.v2Mount!, base!));
  if (request.manager === 'cgroupfs') return delegated ? stay() : { kind: 'no-cgroup', detail: notDelegated };
  let manager: UserManager;
  try {
    manager = connectUserManager(userManagerSockets(request.env, request.root));
  } catch (error) {
    if (request.manager === 'systemd' || !delegated)
      return { kind: 'no-cgroup', detail: `${describeCause(error)}; and ${notDelegated}` };
    return stay();
  }
  try {
    // In a subtree someone else delegated (a Slurm job, an engine's container), a scope of the
    // user's manager would escape that job's limits and accounting: stay inside it.
    if (request.manager === undefined && delegated && !isWithin(host.ownCgroup, manager.controlGroup)) return stay();
    return await systemdGroup(request, host, manager);
  } catch (error) {
    if (request.manager === 'systemd' || !delegated) return { kind: 'no-cgroup', detail: describeCause(error) };
    return stay();
  } finally {
    manager.bus.close();
  }
}

// A CLI an earlier run moved to a subtree's leaf hutch-init (delegatedGroup) places from that
// subtree: from hutch-init itself, each run of a job's script would nest one level deeper.
function ownSubtree(root: string, host: CgroupHost): string | undefined {
  const own = host.ownCgroup;
  if (own === undefined || !own.endsWith(`/${RESIDENTS_LEAF}`)) return own;
  return writableSubtree(root, host, dirname(own)) !== undefined ? dirname(own) : own;
}

function isWithin(cgroup: string | undefined, ancestor: string): boolean {
  return (
    cgroup !== undefined &&
    (cgroup === ancestor || cgroup.startsWith(ancestor.endsWith('/') ? ancestor : `${ancestor}/`))
  );
}

async function systemdGroup(request: PlaceRequest, host: CgroupHost, manager: UserManager): Promise<PlacedGroup> {
  const unit = request.name !== undefined ? `${request.name}.scope` : `hutch-${request.id}.scope`;
  const slice = request.parent !== undefined && !request.parent.startsWith('/') ? { slice: request.parent } : {};
  const cgroup = await startScope(manager, {
    unit,
    pids: request.pids,
    description: `hutch container ${request.id}`,
    ...slice,
  });
  return { dir: join(request.root, host.v2Mount!, cgroup), manager: 'systemd', unit };
}

/** The leaf a delegated subtree's processes move to, so that it can enable controllers. */
const RESIDENTS_LEAF = 'hutch-init';

// A delegated subtree holding processes (ours, say, in a Slurm job) cannot enable controllers
// for its children (the no-internal-process rule): its processes move to a leaf first.
function delegatedGroup(request: PlaceRequest, base: string): PlacedGroup {
  const enabled = (readCgroupFile(base, 'cgroup.subtree_control') ?? '').split(/\s+/);
  const offered = controllers(base);
  const wanted = KNOWN_CONTROLLERS.filter((c) => offered.includes(c) && !enabled.includes(c));
  const residents = procs(base);
  if (wanted.length > 0 && residents.length > 0) {
    const leaf = join(base, RESIDENTS_LEAF);
    makeCgroup(leaf);
    for (const pid of residents) moveProcess(leaf, pid);
  }
  enableControllers(base, wanted);
  const dir = join(base, request.name ?? `hutch-${request.id}`);
  makeCgroup(dir);
  for (const pid of request.pids) moveProcess(dir, pid);
  return { dir, manager: 'cgroupfs' };
}
