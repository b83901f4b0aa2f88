import { readSetup, prepareRootfs } from '../setup/index.js';
import { containerFiles, resolveContainer, userStore, viewContainer } from '../store/index.js';
import { UsageError } from '../../errors.js';
import type { HutchPaths } from '../../paths.js';
import type { IdMapping } from '../../runtime/spec.js';
import { Cleanup } from '../../sys/cleanup.js';
import { isSameProcess } from '../../sys/proc.js';

/** A container's root filesystem as `hutch cp` reaches it, and the user namespace to reach it from. */
export interface CopyRoot {
  what: string;
  /** The root as a path of the host (a /proc/PID/root path for a running container or a mount). */
  root: string;
  /** The user namespace to join; none: a new one with `maps` (a stopped vfs container). */
  userns?: string;
  maps: { uidMappings: IdMapping[]; gidMappings: IdMapping[] };
  /** The container's user (its process's ids): the owner of what is copied in with --archive. */
  user: { uid: number; gid: number };
  release(): Promise<void>;
}

/**
 * A running container is reached through its process: /proc/PID/root is its whole mount tree (its
 * volumes included), seen from its user namespace. A stopped one is given its root filesystem as
 * a start would: the union filesystem over its layers and writable layer (in a user namespace of
 * its own, ended by `release`), or its vfs copy.
 */
export async function openCopyRoot(paths: HutchPaths, ref: string): Promise<CopyRoot> {
  const store = userStore(paths);
  const id = resolveContainer(store, ref);
  const { config, state } = viewContainer(store, id);
  const what = `container ${config.name}`;
  const spec = config.spec;
  const maps = { uidMappings: spec.linux?.uidMappings ?? [], gidMappings: spec.linux?.gidMappings ?? [] };
  const user = { uid: spec.process?.user.uid ?? 0, gid: spec.process?.user.gid ?? 0 };
  const live = state.status === 'running' || state.status === 'paused';
  if (live && isSameProcess(state.pid, state.pidStart))
    return {
      what,
      root: `/proc/${state.pid}/root`,
      userns: `/proc/${state.pid}/ns/user`,
      maps,
      user,
      release: async () => undefined,
    };
  const files = containerFiles(store, id);
  const setup = readSetup(files.dir);
  if (setup?.image === undefined)
    throw new UsageError(
      'CP_NOT_RUNNING',
      `cannot copy with ${what}: it runs on a --rootfs directory and is not running`,
      {
        hint: 'start it, or copy to or from the directory itself',
      },
    );
  const cleanup = new Cleanup();
  const release = async (): Promise<void> => void (await cleanup.release());
  try {
    const dirs = { data: files.dir, run: files.runDir };
    const rootfs = await prepareRootfs(setup.image.driver, setup.image, dirs, maps, cleanup);
    await rootfs.mounted;
    const holder = rootfs.holder;
    if (holder === undefined) return { what, root: rootfs.path, maps, user, release };
    return { what, root: `/proc/${holder.pid}/root${rootfs.path}`, userns: holder.userns, maps, user, release };
  } catch (error) {
    await release();
    throw error;
  }
}
