import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { StoreError, UsageError } from '../../errors.js';
import type { CgroupInfo } from '../../cgroups/cgroup.js';
import type { LinuxResources } from '../../cgroups/resources.js';
import type { HutchPaths } from '../../paths.js';
import type { Spec } from '../../runtime/spec.js';
import type { Blueprint } from '../spec/index.js';
import { atomicWriteFile, withLock } from '../../sys/fs.js';

/** Where a container's root filesystem comes from; an image-backed source plugs in later. */
export type RootfsSource =
  | { kind: 'dir'; path: string }
  | { kind: 'image'; image: string; imageId: string }
  | { kind: 'bundle'; bundle: string };

export type RestartPolicy = { name: 'no' } | { name: 'always' } | { name: 'on-failure'; max: number };

/** containers/<id>/config.json: what the container is; written once at create, never changed. */
export interface ContainerConfig {
  id: string;
  name: string;
  created: string;
  rootfs: RootfsSource;
  /** The OCI spec (root.path absolute): what inspect shows and exec joins. */
  spec: Spec;
  /** The user face's blueprint: each launch makes its spec from it and the launch's placement. */
  blueprint?: Blueprint;
  restart: RestartPolicy;
  autoRemove: boolean;
  /** 'hutch': the user face (logs kept by the monitor); 'oci': `hutch runtime` (stdio passed through). */
  face: 'hutch' | 'oci';
  /** The image reference shown by ps (the rootfs directory until images land). */
  image: string;
  /** `-i`: the monitor keeps the container's stdin open for `hutch attach`. */
  openStdin?: boolean;
}

export type Status = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

/** containers/<id>/state.json: what the container is doing; written by the monitor and commands under the lock. */
export interface ContainerState {
  status: Status;
  /** The container's process (host pid namespace) and its start time (to tell a reused pid). */
  pid?: number;
  pidStart?: number;
  monitorPid?: number;
  monitorStart?: number;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  restartCount: number;
  /** Set by stop, kill and rm so the monitor does not restart what the user ended. */
  stopRequested?: boolean;
  /** Why the container ended other than by its own exit (a failed start, a dead monitor). */
  error?: string;
  /** The container's own cgroup while it runs (store/cgroup-state.ts reattaches to it). */
  cgroup?: CgroupInfo;
  /** The kernel OOM-killed a process of the container in its last run (memory.events). */
  oomKilled?: boolean;
  /** Limits changed by `hutch update`, applied again at every start. */
  resources?: LinuxResources;
}

/** Where one store keeps its containers: `data` for records and logs, `run` for sockets and generated files. */
export interface ContainerStore {
  data: string;
  run: string;
}

/** The store of the user face: containers/ under hutch's data and runtime trees. */
export function userStore(paths: HutchPaths): ContainerStore {
  return { data: join(paths.data, 'containers'), run: join(paths.run, 'containers') };
}

/** The files of one container. */
export function containerFiles(
  store: ContainerStore,
  id: string,
): {
  dir: string;
  config: string;
  state: string;
  lock: string;
  log: string;
  runDir: string;
  socket: string;
  monitorLog: string;
  /** Made by `rm -f`: the C waiter then ends without its finish (lifecycle.ts markRemoving). */
  removing: string;
} {
  const dir = join(store.data, id);
  const runDir = join(store.run, id);
  return {
    dir,
    config: join(dir, 'config.json'),
    state: join(dir, 'state.json'),
    lock: join(dir, 'lock'),
    log: join(dir, 'ctr.log'),
    runDir,
    socket: join(runDir, 'ctl.sock'),
    monitorLog: join(dir, 'monitor.log'),
    removing: join(runDir, 'removing'),
  };
}

/** The store-wide lock: held while names are claimed and records created or removed. */
export function withStoreLock<T>(store: ContainerStore, fn: () => Promise<T> | T): Promise<T> {
  return withLock(join(store.data, '.lock'), fn);
}

/** Holds the container's own lock while `fn` reads and writes its state. */
export function withContainerLock<T>(store: ContainerStore, id: string, fn: () => Promise<T> | T): Promise<T> {
  return withLock(containerFiles(store, id).lock, fn);
}

export function readConfig(store: ContainerStore, id: string): ContainerConfig {
  return readJson<ContainerConfig>(containerFiles(store, id).config, id);
}

export function readState(store: ContainerStore, id: string): ContainerState {
  return readJson<ContainerState>(containerFiles(store, id).state, id);
}

export function writeState(store: ContainerStore, id: string, state: ContainerState): void {
  atomicWriteFile(containerFiles(store, id).state, JSON.stringify(state, null, 2) + '\n', 0o600);
}

/** Reads, changes and writes the state under the container's lock; returns the new state. */
export async function updateState(
  store: ContainerStore,
  id: string,
  change: (s: ContainerState) => ContainerState | void,
): Promise<ContainerState> {
  // The lock file's folder would be made again for a container removed meanwhile: say so instead.
  if (!existsSync(containerFiles(store, id).config))
    throw new UsageError('CONTAINER_NOT_FOUND', `no such container: ${id}`, {
      hint: 'list containers with `hutch ps -a`',
    });
  return withContainerLock(store, id, () => {
    const old = readState(store, id);
    const next = change(old) ?? old;
    writeState(store, id, next);
    return next;
  });
}

/** Claims the name and writes the record; fails when the id or name is taken. */
export async function createRecord(store: ContainerStore, config: ContainerConfig): Promise<void> {
  await withStoreLock(store, () => {
    for (const id of listIds(store)) {
      let other: ContainerConfig | undefined;
      try {
        other = readConfig(store, id);
      } catch {
        continue; // a record being removed
      }
      if (other.name === config.name || id === config.id) {
        throw new UsageError(
          'CONTAINER_NAME_TAKEN',
          `cannot create container ${config.name}: the name is in use by ${id.slice(0, 12)}`,
          { hint: 'choose another --name, or remove the other container with `hutch rm`' },
        );
      }
    }
    const files = containerFiles(store, config.id);
    mkdirSync(files.dir, { recursive: true, mode: 0o700 });
    mkdirSync(files.runDir, { recursive: true, mode: 0o700 });
    atomicWriteFile(files.config, JSON.stringify(config, null, 2) + '\n', 0o600);
    writeState(store, config.id, { status: 'creating', restartCount: 0 });
  });
}

/** Ids of every container with a record. */
export function listIds(store: ContainerStore): string[] {
  if (!existsSync(store.data)) return [];
  return readdirSync(store.data).filter(
    (e) => /^[0-9a-zA-Z][\w.-]*$/.test(e) && existsSync(join(store.data, e, 'config.json')),
  );
}

/** Finds a container by full id, name, or unique id prefix. */
export function resolveContainer(store: ContainerStore, ref: string): string {
  const ids = listIds(store);
  if (ids.includes(ref)) return ref;
  const byName = ids.filter((id) => {
    try {
      return readConfig(store, id).name === ref;
    } catch {
      return false;
    }
  });
  if (byName.length === 1) return byName[0]!;
  const byPrefix = ids.filter((id) => id.startsWith(ref));
  if (byPrefix.length === 1 && ref.length >= 3) return byPrefix[0]!;
  if (byPrefix.length > 1)
    throw new UsageError('CONTAINER_AMBIGUOUS', `container id prefix ${ref} matches ${byPrefix.length} containers`, {
      hint: 'give more characters of the id, or the name',
    });
  throw new UsageError('CONTAINER_NOT_FOUND', `no such container: ${ref}`, {
    hint: 'list containers with `hutch ps -a`',
    exitCode: 125,
  });
}

function readJson<T>(file: string, id: string): T {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new UsageError('CONTAINER_NOT_FOUND', `no such container: ${id}`, {
        hint: 'list containers with `hutch ps -a`',
      });
    throw new StoreError(
      'CONTAINER_RECORD_UNREADABLE',
      `cannot read ${file}: ${(error as NodeJS.ErrnoException).code}`,
      { hint: "check the permissions of hutch's data directory", cause: error },
    );
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new StoreError('CONTAINER_RECORD_CORRUPT', `cannot read container ${id}: ${file} is not valid JSON`, {
      hint: `remove the container with \`hutch rm -f ${id.slice(0, 12)}\``,
      cause: error,
    });
  }
}

/**
 * A short name for a path in a long directory: sun_path holds 108 bytes, and a container's runtime
 * directory under a deep --root is longer. `/proc/self/fd/N/NAME` reaches it through an open fd.
 */
export function shortSocketPath(path: string): { path: string; close(): void } {
  const fd = openSync(dirname(path), 'r');
  return { path: `/proc/self/fd/${fd}/${basename(path)}`, close: () => closeSync(fd) };
}
