import { FuseError } from '../../errors.js';
import { specFromBlueprint } from '../spec/index.js';
import type { ContainerHook } from '../launch/index.js';
import { squashRootfs } from './squash-image.js';
import { prepareRootfs, type ContainerRootfs } from './storage.js';
import { treeLayer } from './tree-layer.js';
import type { Blueprint } from '../spec/index.js';
import type { ResolvedImage } from '../../image/resolve.js';
import type { IdMapping } from '../../runtime/spec.js';
import type { Cleanup } from '../../sys/cleanup.js';
import type { StorageDirs, StorageDriver } from './storage.js';

/** What startRootfs reads of a container's setup (setup.ts's ContainerSetup) and launch context. */
interface RootfsSetup {
  image?: { driver: StorageDriver; layers: ResolvedImage['layers'] };
  squash?: { file: string };
}
interface RootfsContext {
  blueprint: Blueprint;
  dirs: StorageDirs;
  maps: { uidMappings: IdMapping[]; gidMappings: IdMapping[] };
  cleanup: Cleanup;
}

/** The root filesystem of one launch: the image's, the single-file image's, or a --rootfs tree's layer (if any). */
export function startRootfs(
  setup: RootfsSetup,
  ctx: RootfsContext,
  joinUserns: string | undefined,
): Promise<ContainerRootfs | undefined> {
  if (setup.image) return prepareRootfs(setup.image.driver, setup.image, ctx.dirs, ctx.maps, ctx.cleanup, joinUserns);
  if (setup.squash) return squashRootfs(setup.squash.file, ctx.dirs, ctx.maps, ctx.cleanup, joinUserns);
  return treeLayer(specFromBlueprint(ctx.blueprint), ctx.dirs, ctx.maps, ctx.cleanup, joinUserns);
}

/**
 * A container whose union filesystem daemon died has no root filesystem left (ENOTCONN, SIGBUS
 * on mapped binaries): it is ended at once and the run fails naming the cause.
 */
export function watchDaemon(
  rootfs: ContainerRootfs | undefined,
  warn: (line: string) => void,
): { hook: ContainerHook; failure: () => FuseError | undefined } {
  let pid: number | undefined;
  let why: string | undefined;
  void rootfs?.died.then((text) => {
    why = text;
    warn(`hutch: ${text}: the container's files fail with ENOTCONN; ending it`);
    try {
      if (pid !== undefined) process.kill(pid, 'SIGKILL');
    } catch (error) {
      // ESRCH: the container ended first (its files were gone): nothing left to end.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ESRCH') warn(`hutch: cannot end the container (pid ${pid}): ${code ?? String(error)}`);
    }
  });
  return {
    hook: async (p) => {
      pid = p;
    },
    failure: () => {
      // The container often ends first, its files gone, before the holder's end is read.
      if (why === undefined && rootfs?.served?.() === false)
        why = 'the union filesystem daemon ended while the container ran';
      return why === undefined
        ? undefined
        : new FuseError('FUSE_DAEMON_DIED', `container ended: ${why}`, {
            hint: "see the daemon's message above (or monitor.log); the upper layer keeps everything that was synced",
          });
    },
  };
}
