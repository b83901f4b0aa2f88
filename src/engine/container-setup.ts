import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { markImageUsed, unmarkImageUsed } from '../image/store.js';
import { resolveImage, type ResolvedImage } from '../image/resolve.js';
import type { HutchPaths } from '../paths.js';
import type { HelperPlan } from '../runtime/plan.js';
import { CLONE } from '../runtime/linux.js';
import type { IdMapping, Spec } from '../runtime/spec.js';
import type { Cleanup } from '../sys/cleanup.js';
import { FuseError } from '../errors.js';
import { prepareCgroups, type ResourceRequest } from './cgroup-hook.js';
import { applyImageConfig, exposedPorts, userDatabase, type ConfigurableRequest } from './image-config.js';
import { prepareNetwork, type NetworkFlags } from './network-hook.js';
import type { ContainerHook } from './run.js';
import { parseStorageDriver, prepareRootfs, type ContainerRootfs } from './storage.js';

/** The flags `run` and `create` share beyond the launch path's own: image, storage, network, resources. */
export interface SetupFlags extends NetworkFlags, ResourceRequest {
  /** The image reference (the first positional); undefined with --rootfs. */
  image?: string;
  pull?: 'always' | 'missing' | 'never';
  storageDriver?: string;
  entrypoint?: string;
  platform?: string;
  /** The global --root, for the image store. */
  root?: string;
}

/** What a container's launch needs once its image, storage, network and cgroup are prepared. */
export interface ContainerSetup<T> {
  /** The request with the image's config applied and rootfs set. */
  req: T;
  /** Where the container's users are looked up (the image's etc/passwd and etc/group). */
  userDb?: string;
  /** Whether the container gets a network namespace of its own. */
  ownNetns: boolean;
  /** Joins the filesystem daemon's namespaces (fuse); call on the built spec. */
  patchSpec(spec: Spec): void;
  plan?: Pick<HelperPlan, 'joins'>;
  hooks: ContainerHook[];
  /** After the container ended: the error to report when its filesystem daemon died under it. */
  failure(): FuseError | undefined;
}

export interface SetupContext {
  id: string;
  paths: HutchPaths;
  /** The container's persistent folder (containers/<id>) and runtime folder. */
  dirs: { data: string; run: string };
  maps: { uidMappings: IdMapping[]; gidMappings: IdMapping[] };
  /** The generated files bound at /etc (the network hook rewrites them). */
  etcFiles: { hosts: string; hostname: string; resolvConf: string };
  hostname: string;
  cleanup: Cleanup;
  warn: (line: string) => void;
}

/**
 * The one piece `hutch run` (foreground) and the monitor of `run -d`/`create` share: resolve and
 * pull the image, apply its config, mark it used, give the container its root filesystem, bind
 * the published ports and prepare the network and cgroup hooks. Everything made joins ctx.cleanup.
 */
export async function setUpContainer<T extends ConfigurableRequest & { rootfs: string }>(req: T, flags: SetupFlags, ctx: SetupContext): Promise<ContainerSetup<T>> {
  mkdirSync(ctx.dirs.data, { recursive: true, mode: 0o700 });
  mkdirSync(ctx.dirs.run, { recursive: true, mode: 0o700 });
  let image: ResolvedImage | undefined;
  let rootfs: ContainerRootfs = { path: req.rootfs, died: new Promise(() => undefined) };
  let request = req;
  if (flags.image !== undefined) {
    const driver = parseStorageDriver(flags.storageDriver);
    image = await resolveImage(flags.image, { root: flags.root, pull: flags.pull, platform: flags.platform });
    markImageUsed(flags.root, image.id, ctx.id);
    const imageId = image.id;
    ctx.cleanup.add(`unmark image ${imageId}`, () => unmarkImageUsed(flags.root, imageId, ctx.id));
    request = applyImageConfig(req, image.config, join(ctx.dirs.data, 'volumes'));
    rootfs = await prepareRootfs(driver, image, ctx.dirs, ctx.maps, ctx.cleanup);
    request = { ...request, rootfs: rootfs.path };
  }
  // Socket paths must fit sun_path (108 bytes): slirp4netns' API socket gets a short folder.
  const netDir = join(ctx.paths.run, 'net', ctx.id.slice(0, 16));
  mkdirSync(netDir, { recursive: true, mode: 0o700 });
  ctx.cleanup.add(`remove ${netDir}`, () => rmSync(netDir, { recursive: true, force: true }));
  const network = await prepareNetwork(flags, image ? exposedPorts(image.config) : [], netDir, ctx.cleanup, ctx.warn);
  const cgroups = prepareCgroups(flags, ctx.id, ctx.cleanup, ctx.warn);
  const holder = rootfs.holder;
  const watch = watchDaemon(rootfs, ctx.warn);
  return {
    req: request,
    userDb: image ? userDatabase(image, join(ctx.dirs.run, 'userdb')) : undefined,
    ownNetns: network.ownNetns,
    patchSpec: (spec) => {
      if (holder === undefined) return;
      const user = spec.linux?.namespaces?.find((n) => n.type === 'user');
      if (user) user.path = holder.userns;
    },
    plan: holder && { joins: [{ type: CLONE.NEWUSER, path: holder.userns }, { type: CLONE.NEWNS, path: holder.mntns }] },
    hooks: [watch.hook, cgroups.hook, network.hook({ ...ctx.etcFiles, hostname: ctx.hostname }, join(ctx.dirs.run, 'ports.json'))],
    failure: watch.failure,
  };
}

/**
 * A container whose union filesystem daemon died has no root filesystem left (ENOTCONN, SIGBUS
 * on mapped binaries): it is ended at once and the run fails naming the cause.
 */
function watchDaemon(rootfs: ContainerRootfs, warn: (line: string) => void): { hook: ContainerHook; failure: () => FuseError | undefined } {
  let pid: number | undefined;
  let why: string | undefined;
  void rootfs.died.then((text) => {
    why = text;
    warn(`hutch: ${text}: the container's files fail with ENOTCONN; ending it`);
    if (pid !== undefined) process.kill(pid, 'SIGKILL');
  });
  return {
    hook: async (p) => {
      pid = p;
    },
    failure: () => why === undefined ? undefined : new FuseError('FUSE_DAEMON_DIED', `container ended: ${why}`, { hint: 'see the daemon\'s message above (or monitor.log); the upper layer keeps everything that was synced' }),
  };
}

/** Removes a foreground container's folders (its upper layer, volumes and runtime files). */
export function removeContainerDirs(dirs: { data: string; run: string }): void {
  rmSync(dirs.run, { recursive: true, force: true });
  rmSync(dirs.data, { recursive: true, force: true });
}
