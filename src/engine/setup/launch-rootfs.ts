import { FuseError } from '../../errors.js';
import { specFromBlueprint } from '../spec/index.js';
import type { ContainerHook } from '../launch/index.js';
import { squashRootfs } from './squash-image.js';
import { prepareRootfs, type ContainerRootfs } from './storage.js';
import { treeLayer } from './tree-layer.js';
import type { ContainerSetup, LaunchContext } from './setup.js';

/** The root filesystem of one launch: the image's, the single-file image's, or a --rootfs tree's layer (if any). */
export function startRootfs(
  setup: ContainerSetup,
  ctx: LaunchContext,
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
    if (pid !== undefined) process.kill(pid, 'SIGKILL');
  });
  return {
    hook: async (p) => {
      pid = p;
    },
    failure: () =>
      why === undefined
        ? undefined
        : new FuseError('FUSE_DAEMON_DIED', `container ended: ${why}`, {
            hint: "see the daemon's message above (or monitor.log); the upper layer keeps everything that was synced",
          }),
  };
}
