import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UsageError } from '../errors.js';
import type { Cleanup } from '../sys/cleanup.js';
import { degrade, type DegradeReason } from './degrade.js';
import { KNOWN_CONTROLLERS, userManagerSockets } from './detect.js';
import type { CgroupManager, CgroupsMode } from './flags.js';
import {
  applyWrites,
  enableControllers,
  killAll,
  makeCgroup,
  moveProcess,
  procs,
  readKeyed,
  readStats,
  removeCgroup,
  setFrozen,
} from './fs2.js';
import { placeGroup } from './place.js';
import { controllersNeeded, resourcesToWrites, type CgroupWrite, type LinuxResources } from './resources.js';
import type { CgroupStats } from './stats.js';
import { connectUserManager, stopScope } from './systemd.js';

export interface ContainerCgroupOptions {
  id: string;
  /** The container's first process (it and its descendants go to <group>/container). */
  pid: number;
  /** The monitor/supervisor, placed in <group>/supervisor (not with --cgroups=no-conmon). */
  monitorPid?: number;
  /**
   * What the monitor started for the container before this group existed (slirp4netns and the
   * forwarder, started while the union mounts): placed with it, as if started after its move.
   */
  monitorChildren?: number[];
  resources?: LinuxResources;
  mode?: CgroupsMode;
  /** Default: systemd when the user manager answers, else a delegated subtree. */
  manager?: CgroupManager;
  /** A slice (systemd) or an absolute cgroup path (cgroupfs). */
  parent?: string;
  /** Overrides the name hutch-<id> (scope <name>.scope), e.g. from an OCI cgroupsPath. */
  name?: string;
  /** Receives each one-line warning; default: `hutch: warning: …` on stderr. */
  warn?: (line: string) => void;
  /** For tests: the filesystem root and environment to read. */
  root?: string;
  env?: NodeJS.ProcessEnv;
}

/** What a later command needs to reattach to a container's cgroup (store it in the state). */
export interface CgroupInfo {
  /** The container's cgroup directory (absolute): limits, stats, freeze and kill act here. */
  path: string;
  /** The group holding container/ and supervisor/ (the scope). */
  group: string;
  manager: CgroupManager;
  unit?: string;
  /** Controllers enabled for the container. */
  controllers: string[];
  required: boolean;
}

export interface CgroupHandle extends CgroupInfo {
  /** SIGKILLs every process of the container (cgroup.kill) and waits until none is left. */
  kill(): Promise<void>;
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  stats(): CgroupStats;
  /** Applies new limits live; unenforceable ones warn (or throw when required). */
  update(resources: LinuxResources, warn?: (line: string) => void): void;
  /** True once the kernel OOM-killed a process of the container (memory.events oom_kill). */
  oomKilled(): boolean;
  /** Kills what is left and removes the cgroups (and the scope once it is empty). */
  remove(): Promise<void>;
}

/**
 * Gives a container its cgroup: await it from the launch hook, once the container's process
 * exists and before it execs. Returns undefined when the host offers no cgroup (after a
 * warning), or throws CgroupError with --cgroups=required. Its removal joins `cleanup`.
 */
export async function createContainerCgroup(
  options: ContainerCgroupOptions,
  cleanup: Cleanup,
): Promise<CgroupHandle | undefined> {
  const mode = options.mode ?? 'enabled';
  const writes = resourcesToWrites(options.resources ?? {});
  const warn = options.warn ?? defaultWarn;
  if (mode === 'disabled') {
    if (writes.length > 0) {
      throw new UsageError('CGROUP_DISABLED_WITH_LIMITS', 'cannot set resource limits with --cgroups=disabled', {
        hint: 'drop --cgroups=disabled or the limits',
      });
    }
    return undefined;
  }
  const required = mode === 'required';
  const monitor =
    options.monitorPid !== undefined && mode !== 'no-conmon'
      ? [options.monitorPid, ...(options.monitorChildren ?? []).filter((p) => existsSync(`/proc/${p}`))]
      : [];
  const placed = await placeGroup({
    id: options.id,
    ...(options.name !== undefined ? { name: options.name } : {}),
    pids: [options.pid, ...monitor],
    manager: options.manager,
    parent: options.parent,
    root: options.root ?? '/',
    env: options.env ?? process.env,
  });
  if (!('dir' in placed)) {
    // Nothing asked, nothing to warn about: the run goes on without a cgroup of its own.
    if (writes.length > 0 || required) degrade(writes, placed, required, warn);
    return undefined;
  }
  const info: CgroupInfo = {
    path: join(placed.dir, 'container'),
    group: placed.dir,
    manager: placed.manager,
    controllers: [],
    required,
  };
  if (placed.unit !== undefined) info.unit = placed.unit;
  const env = options.env ?? process.env;
  cleanup.add(`cgroup ${placed.dir}`, () => removeGroup(info, env));
  try {
    info.controllers = arrange(placed.dir, options.pid, monitor);
    applyEnforceable(info, writes, warn);
  } catch (error) {
    await removeGroup(info, env).catch(() => undefined);
    throw error;
  }
  return attachContainerCgroup(info, env);
}

/**
 * The launch hook for `createContainer({ hooks })`: gives the container its cgroup and hands
 * the handle (undefined when the host has none) to `onHandle`, e.g. to store its info.
 */
export function cgroupHook(
  options: Omit<ContainerCgroupOptions, 'pid'>,
  cleanup: Cleanup,
  onHandle: (handle: CgroupHandle | undefined) => unknown = () => undefined,
): (pid: number) => Promise<void> {
  return async (pid) => {
    await onHandle(await createContainerCgroup({ ...options, pid }, cleanup));
  };
}

/** A handle on a cgroup made earlier (e.g. by `hutch run`, for `stats` or `pause`). */
export function attachContainerCgroup(info: CgroupInfo, env: NodeJS.ProcessEnv = process.env): CgroupHandle {
  const dir = info.path;
  return {
    ...info,
    kill: () => killAll(dir),
    freeze: () => setFrozen(dir, true),
    thaw: () => setFrozen(dir, false),
    stats: () => readStats(dir),
    update: (resources, warn = defaultWarn) => applyEnforceable(info, resourcesToWrites(resources), warn),
    oomKilled: () => (readKeyed(dir, 'memory.events').get('oom_kill') ?? 0) > 0,
    remove: () => removeGroup(info, env),
  };
}

// The no-internal-process rule: a cgroup with processes cannot hand controllers to children.
// So the container goes to container/, everything else (the monitor) to supervisor/, and only
// then are the controllers enabled in the group.
function arrange(group: string, pid: number, monitor: number[]): string[] {
  const container = join(group, 'container');
  makeCgroup(container);
  moveProcess(container, pid);
  const others = [...new Set([...monitor, ...procs(group)])].filter((p) => p !== pid);
  if (others.length > 0) {
    makeCgroup(join(group, 'supervisor'));
    for (const p of others) moveProcess(join(group, 'supervisor'), p);
  }
  return enableControllers(group, KNOWN_CONTROLLERS);
}

function applyEnforceable(info: CgroupInfo, writes: CgroupWrite[], warn: (line: string) => void): void {
  const unenforced = writes.filter((w) => !info.controllers.includes(w.controller));
  if (unenforced.length > 0) {
    degrade(unenforced, notDelegated(controllersNeeded(unenforced), info), info.required, warn);
  }
  const enforceable = writes.filter((w) => info.controllers.includes(w.controller));
  const missing = enforceable.filter((w) => !existsSync(join(info.path, w.file)));
  if (missing.length > 0)
    degrade(missing, { kind: 'missing-file', files: [...new Set(missing.map((w) => w.file))] }, info.required, warn);
  applyWrites(
    info.path,
    enforceable.filter((w) => !missing.includes(w)),
  );
}

function notDelegated(controllers: string[], info: CgroupInfo): DegradeReason {
  return info.manager === 'systemd'
    ? { kind: 'not-delegated', controllers }
    : { kind: 'not-delegated', controllers, subtree: dirname(info.group) };
}

async function removeGroup(info: CgroupInfo, env: NodeJS.ProcessEnv): Promise<void> {
  if (existsSync(info.path)) {
    await killAll(info.path);
    removeCgroup(info.path);
  }
  const supervisor = join(info.group, 'supervisor');
  if (existsSync(supervisor) && procs(supervisor).length === 0) removeCgroup(supervisor);
  if (!existsSync(info.group) || procs(info.group).length > 0 || existsSync(supervisor)) return;
  // The group is empty: systemd stops an empty scope by itself, but say so rather than wait.
  if (info.manager === 'systemd' && info.unit !== undefined) {
    const manager = connectUserManager(userManagerSockets(env));
    try {
      stopScope(manager, info.unit);
    } finally {
      manager.bus.close();
    }
  } else {
    removeCgroup(info.group);
  }
}

function defaultWarn(line: string): void {
  process.stderr.write(`hutch: warning: ${line}\n`);
}
