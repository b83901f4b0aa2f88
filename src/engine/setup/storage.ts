import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { daemonArgs } from '../../../fuse/mount.js';
import { FuseError, UsageError } from '../../errors.js';
import { requireUpperFs, storeFs } from '../../image/fs-probe.js';
import { materializeRootfs } from '../../image/materialize.js';
import type { ResolvedImage } from '../../image/resolve.js';
import type { HutchPaths } from '../../paths.js';
import type { IdMapping } from '../../runtime/spec.js';
import type { Cleanup } from '../../sys/cleanup.js';
import { entryCommand } from '../../sys/entry-points.js';
import { pipe } from '../../sys/pipe.js';
import { isSameProcess, processStartTime } from '../../sys/proc.js';
import { readReadyLine } from '../../sys/ready-line.js';
import { type CreatedContainer, envList, launchInUserNamespace } from '../launch/index.js';
import { trace } from '../../sys/trace.js';
import {
  dropPreheld,
  holderLineFor,
  sendHolderLine,
  sendPreheldArgs,
  takePreheld,
  takePreheldShared,
  type PreheldHolder,
} from './preheld-holder.js';
import {
  connectShared,
  holderArgs,
  holderPath,
  sharedPlace,
  startSharedHolder,
  unionNotMounted,
} from './shared-union.js';

/**
 * A lower layer of the union: an image layer with its index, a plain directory (a --rootfs tree),
 * or a squashfs image the daemon mounts with squashfuse at `dir` first (a single-file image).
 */
export type LowerLayer = { dir: string; indexFile: string } | { dir: string; squashfs?: string };

/** `--storage-driver`: the union filesystem (default) or a plain per-container copy. */
export type StorageDriver = 'fuse' | 'vfs';

/** Where a container's root filesystem lives and what its launch must do to see it. */
export interface ContainerRootfs {
  /** root.path of the spec. */
  path: string;
  /**
   * fuse: the holder's user and mount namespaces. The helper joins both, then clones its own
   * mount namespace as a copy of the holder's, where the union is mounted (docs/storage.md).
   */
  holder?: { pid: number; userns: string; mntns: string };
  /** Resolves with a sentence when the filesystem daemon ends, mounted, before `stop` was asked. */
  died: Promise<string>;
  /**
   * Whether the process serving the union still runs, read at once (/proc): at the container's
   * exit, which races `died` (a container whose files went away often ends first).
   */
  served?: () => boolean;
  /**
   * Resolves once the root filesystem is there to be used (the daemon said it mounted the union),
   * rejects with FUSE_MOUNT if it cannot be: the daemon's Node start (~30-100 ms) overlaps
   * whatever the caller prepares meanwhile (the network, the helper's plan).
   */
  mounted: Promise<void>;
}

export interface StorageDirs {
  /** The container's persistent folder: upper/, work/ (fuse) or rootfs/ (vfs). */
  data: string;
  /** The container's runtime folder: the mountpoint. */
  run: string;
}

export function parseStorageDriver(value: string | undefined): StorageDriver {
  const v = value ?? process.env.HUTCH_STORAGE_DRIVER ?? 'fuse';
  if (v === 'fuse' || v === 'overlay') return 'fuse';
  if (v === 'vfs') return 'vfs';
  throw new UsageError('STORAGE_DRIVER_INVALID', `invalid --storage-driver ${v}`, {
    hint: 'use fuse (the union filesystem, also called overlay) or vfs (a plain copy)',
  });
}

/** root.path of a container's spec: the union's mountpoint or the copy. */
export function rootfsPath(driver: StorageDriver, dirs: StorageDirs): string {
  return driver === 'vfs' ? join(dirs.data, 'rootfs') : join(dirs.run, 'merged');
}

/**
 * Gives a container its root filesystem from an image. vfs: a copy under data/rootfs (made once,
 * kept across restarts). fuse: the union daemon started as root of a new user namespace (the
 * container's, with `maps`) in a mount namespace of its own; it is stopped by `cleanup`.
 */
export async function prepareRootfs(
  driver: StorageDriver,
  image: Pick<ResolvedImage, 'layers'>,
  dirs: StorageDirs,
  maps: { uidMappings: IdMapping[]; gidMappings: IdMapping[] },
  cleanup: Cleanup,
  joinUserns?: string,
): Promise<ContainerRootfs> {
  if (driver === 'vfs') {
    await dropPreheld(); // no union: a holder started before the flags were parsed is not needed
    const path = rootfsPath(driver, dirs);
    if (!existsSync(join(dirs.data, 'rootfs.done'))) {
      materializeRootfs(image, path);
      writeFileSync(join(dirs.data, 'rootfs.done'), '');
    }
    return { path, died: new Promise(() => undefined), mounted: Promise.resolve() };
  }
  return startUnion(
    [...image.layers].reverse().map((l) => ({ dir: l.dir, indexFile: l.indexFile })),
    dirs,
    maps,
    cleanup,
    joinUserns,
  );
}

/**
 * The union daemon over `lowers` (top first) with the container's upper layer under dirs.data,
 * mounted at rootfsPath('fuse', dirs) as root of a new user namespace (the container's, with
 * `maps`) in a mount namespace of its own; it is stopped by `cleanup`.
 */
export async function startUnion(
  lowers: LowerLayer[],
  dirs: StorageDirs,
  maps: { uidMappings: IdMapping[]; gidMappings: IdMapping[] },
  cleanup: Cleanup,
  joinUserns?: string,
  squashToRoot = false,
): Promise<ContainerRootfs> {
  checkFuse();
  mkdirSync(dirs.data, { recursive: true, mode: 0o755 });
  // DATA/containers/<id> and DATA/ephemeral/<id> probe (and cache in) DATA; RUN/ephemeral/<id>/data in RUN/ephemeral.
  requireUpperFs(dirname(dirname(dirs.data)), dirs.data);
  const upper = join(dirs.data, 'upper');
  const work = join(dirs.data, 'work');
  const mountpoint = rootfsPath('fuse', dirs);
  for (const d of [upper, work, mountpoint]) mkdirSync(d, { recursive: true, mode: 0o755 });
  const single = maps.uidMappings.reduce((n, m) => n + m.size, 0) === 1;
  const fsArgs = daemonArgs({ lowers, upper, work, mountpoint, uidMapped: single, squashToRoot });
  const stopping = { now: false };
  // The shared daemon (shared-union.ts) for the default case: no joined user namespace, no
  // squashfs lower for the daemon to mount in its own namespace first.
  const place =
    joinUserns === undefined && !lowers.some((l) => 'squashfs' in l && l.squashfs !== undefined) && holderPath()
      ? sharedPlace(dirname(dirname(dirs.run)), maps)
      : undefined;
  if (place !== undefined) {
    // Only the mount waits for the daemon: a first run's daemon is still starting (its Node start)
    // while the pre-started holder is taken, the network made and the container's plan and helper
    // prepared; the holder gets its line once the daemon listens.
    const connecting = takePreheldShared(place).then((conn) => conn ?? connectShared(place, maps));
    connecting.catch(() => undefined); // said by `mounted`, or awaited below
    // The C holder started before the flags were parsed (or before go), when it has these maps.
    const held = await takePreheld(maps, joinUserns, 'holder');
    const early = held && (await useSharedHolder(held, place.socket, fsArgs, connecting, cleanup, stopping));
    const { holder, mounted } = early || (await startShared(await connecting, fsArgs, maps, cleanup, stopping));
    // The daemon's pid file, written before it listens: what `served` watches.
    const daemon = connecting.then(
      () => daemonPid(place.socket),
      () => undefined,
    );
    return rootfsOf(mountpoint, holder, mounted, stopping, daemon, (pid, status) =>
      // The holder exits 1 when the shared daemon's connection ends (docs/storage.md).
      status === 1
        ? `the union filesystem daemon ended (the container's holder, pid ${pid}, saw it go)`
        : `the union filesystem daemon's holder (pid ${pid}) ended with status ${status}`,
    );
  }
  // The holder started before the flags were parsed, when it has these maps (preheld-holder.ts).
  const held = await takePreheld(maps, joinUserns);
  const { holder, mounted } =
    (held && (await useHolder(held, fsArgs, cleanup, stopping))) ??
    (await startHolder(
      [process.execPath, ...entryCommand('fuseDaemon'), ...fsArgs],
      maps,
      cleanup,
      stopping,
      joinUserns,
    ));
  return rootfsOf(
    mountpoint,
    holder,
    mounted,
    stopping,
    holder.pid,
    (pid, status) => `the union filesystem daemon (pid ${pid}) ended with status ${status}`,
  );
}

/**
 * The mounted union's description; `ended` is the sentence of the holder's end. `server` is the
 * process serving the union (for the shared daemon, known once it listens).
 */
function rootfsOf(
  mountpoint: string,
  holder: CreatedContainer,
  mounted: Promise<void>,
  stopping: { now: boolean },
  server: number | undefined | Promise<number | undefined>,
  ended: (pid: number, status: number) => string,
): ContainerRootfs {
  // Taken with its start time as soon as it is known: a pid reused later is not the same process.
  let serving: { pid: number; start: number | undefined } | undefined;
  void Promise.resolve(server).then((pid) => {
    if (pid !== undefined) serving = { pid, start: processStartTime(pid) };
  });
  // Only an end nobody asked for is news (a kill -9, a crash); a never-settling promise otherwise.
  // A daemon that could not mount says so through `mounted`.
  const died = Promise.all([holder.wait(), mounted]).then(
    ([{ exitCode }]) => (stopping.now ? new Promise<string>(() => undefined) : ended(holder.pid, exitCode)),
    () => new Promise<string>(() => undefined),
  );
  return {
    path: mountpoint,
    holder: { pid: holder.pid, userns: `/proc/${holder.pid}/ns/user`, mntns: `/proc/${holder.pid}/ns/mnt` },
    died,
    mounted,
    served: () => serving?.start === undefined || isSameProcess(serving.pid, serving.start),
  };
}

/** The shared daemon's pid, from the file it writes before it listens (undefined if unreadable). */
function daemonPid(socket: string): number | undefined {
  try {
    const pid = Number(readFileSync(`${socket}.pid`, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where a foreground run keeps its persistent folder (the union's upper layer): DATA/ephemeral/<id>,
 * unless DATA's filesystem stores no user xattrs (NFSv3, an older NFSv4), where the union keeps
 * the owners it cannot chown to: then in its runtime folder, local and removed with the run anyway.
 */
export function ephemeralDataDir(paths: HutchPaths, id: string, runDir: string, driver: StorageDriver): string {
  const inData = join(paths.data, 'ephemeral', id);
  if (driver === 'vfs') return inData;
  mkdirSync(paths.data, { recursive: true, mode: 0o700 });
  return storeFs(paths.data, paths.data).userXattrs ? inData : join(runDir, 'data');
}

/** /dev/fuse must open read-write for the daemon to mount; say so before anything starts. */
export function checkFuse(device = '/dev/fuse'): void {
  try {
    closeSync(openSync(device, 'r+'));
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new FuseError(
      'FUSE_UNAVAILABLE',
      `cannot use the union filesystem: ${device} is ${why === 'ENOENT' ? 'missing' : `not usable (${why})`}`,
      {
        hint: 'run with --storage-driver=vfs (a plain copy of the image per container), or ask the administrator to load the fuse module and make /dev/fuse crw-rw-rw-',
        cause: error,
      },
    );
  }
}

/** Starts the daemon in its namespaces; `mounted` settles when it says whether the union is mounted. */
async function startHolder(
  args: string[],
  maps: { uidMappings: IdMapping[]; gidMappings: IdMapping[] },
  cleanup: Cleanup,
  stopping: { now: boolean },
  joinUserns?: string,
): Promise<{ holder: CreatedContainer; mounted: Promise<void> }> {
  trace('holder spawn');
  const ready = pipe();
  const env = [...envList(process.env), 'HUTCH_FS_READY_FD=1'];
  let holder: CreatedContainer;
  try {
    holder = await launchInUserNamespace(
      { args, env, cwd: '/', uidMappings: maps.uidMappings, gidMappings: maps.gidMappings },
      { stdio: ['ignore', ready.write, 'inherit'] },
      joinUserns,
    );
  } catch (error) {
    closeSync(ready.read);
    throw error;
  } finally {
    closeSync(ready.write);
  }
  trace('holder started');
  cleanup.add(`stop the union filesystem daemon ${holder.pid}`, () => {
    stopping.now = true;
    return stopHolder(holder);
  });
  return { holder, mounted: mountedSaid(ready.read) };
}

/**
 * The pre-started holder, taken: stopped by `cleanup` from now on (also while its start is still
 * under way), sent its arguments once started. undefined when its start failed (nothing to stop):
 * the caller starts one as ever, which says why if it fails too.
 */
async function useHolder(
  held: PreheldHolder,
  fsArgs: string[],
  cleanup: Cleanup,
  stopping: { now: boolean },
): Promise<{ holder: CreatedContainer; mounted: Promise<void> } | undefined> {
  const holder = await takeStarted(held, 'stop the pre-started union filesystem daemon', cleanup, stopping);
  if (holder === undefined) return undefined;
  sendPreheldArgs(held, fsArgs);
  return { holder, mounted: mountedSaid(held.readyFd) };
}

/**
 * A pre-started holder's start awaited, stopped by `cleanup` from now on (also while its start is
 * still under way); undefined, its pipes closed, when that start failed (nothing to stop).
 */
async function takeStarted(
  held: PreheldHolder,
  what: string,
  cleanup: Cleanup,
  stopping: { now: boolean },
): Promise<CreatedContainer | undefined> {
  cleanup.add(what, async () => {
    stopping.now = true;
    const holder = await held.started.catch(() => undefined);
    if (holder !== undefined) await stopHolder(holder);
  });
  const holder = await held.started.catch(() => undefined);
  if (holder === undefined) {
    closeSync(held.argsFd);
    closeSync(held.readyFd);
  }
  return holder;
}

/** A holder of the shared daemon over `conn`, started now; stopped by `cleanup`. */
async function startShared(
  conn: number,
  fsArgs: string[],
  maps: { uidMappings: IdMapping[]; gidMappings: IdMapping[] },
  cleanup: Cleanup,
  stopping: { now: boolean },
): Promise<{ holder: CreatedContainer; mounted: Promise<void> }> {
  const { holder, readyFd } = await startSharedHolder(conn, fsArgs, maps);
  cleanup.add(`stop the union filesystem's holder ${holder.pid}`, () => {
    stopping.now = true;
    return stopHolder(holder);
  });
  return { holder, mounted: mountedSaid(readyFd) };
}

/**
 * The pre-started C holder, taken: sent its line (it connects to the daemon itself) once
 * `connecting` gave our connection, which is held until the holder says whether it mounted, so
 * the daemon cannot leave before the holder's connection comes. A daemon that could not be
 * reached fails `mounted` (the holder, its stdin closed, ends). undefined when its start failed
 * or its line cannot be sent (the holder ended then): the caller starts one.
 */
async function useSharedHolder(
  held: PreheldHolder,
  socket: string,
  fsArgs: string[],
  connecting: Promise<number>,
  cleanup: Cleanup,
  stopping: { now: boolean },
): Promise<{ holder: CreatedContainer; mounted: Promise<void> } | undefined> {
  const holder = await takeStarted(held, "stop the pre-started union filesystem's holder", cleanup, stopping);
  if (holder === undefined) return undefined;
  const line = holderLineFor(socket, holderArgs(fsArgs), fsArgs);
  if (line === undefined) {
    closeSync(held.argsFd);
    closeSync(held.readyFd);
    await stopHolder(holder);
    return undefined;
  }
  const mounted = connecting.then(
    (conn) => {
      sendHolderLine(held, line);
      const said = mountedSaid(held.readyFd);
      void said.catch(() => undefined).finally(() => closeSync(conn));
      return said;
    },
    (error: unknown) => {
      closeSync(held.argsFd);
      closeSync(held.readyFd);
      throw error;
    },
  );
  mounted.catch(() => undefined); // handled where it is awaited, which may come later
  return { holder, mounted };
}

/** Settles when the daemon says on its ready pipe whether the union is mounted. */
function mountedSaid(readyFd: number): Promise<void> {
  const mounted = readReadyLine(readyFd).then((said) => {
    trace('union mounted');
    if (!said.startsWith('ok')) throw unionNotMounted(said);
  });
  mounted.catch(() => undefined); // handled where it is awaited, which may come later
  return mounted;
}

/** Its mount namespace has no other process: ending the daemon takes the mount with it. */
async function stopHolder(holder: CreatedContainer): Promise<void> {
  holder.kill('SIGTERM');
  const timer = setTimeout(() => holder.kill('SIGKILL'), 5000);
  await holder.wait();
  clearTimeout(timer);
}
