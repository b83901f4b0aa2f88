import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { NetworkMode } from '../../../net/index.js';
import { type FuseError } from '../../errors.js';
import { markImageUsed, unmarkImageUsed } from '../../image/store.js';
import { requireUpperFs } from '../../image/fs-probe.js';
import type { ResolvedImage } from '../../image/resolve.js';
import { CLONE } from '../../runtime/linux.js';
import type { IdMapping } from '../../runtime/spec.js';
import { atomicWriteFile } from '../../sys/fs.js';
import { releaseVolumes } from '../volume/index.js';
import type { Cleanup } from '../../sys/cleanup.js';
import type { CgroupHandle } from '../../cgroups/cgroup.js';
import { prepareCgroups, type ResourceRequest } from './cgroups.js';
import {
  applyImageConfig,
  exposedPorts,
  specFromBlueprint,
  userDatabase,
  type Blueprint,
  type ConfigurableRequest,
  type Placement,
} from '../spec/index.js';
import { networkJoins, placementForTarget, resolveNetworkTarget } from './network-join.js';
import { chooseNetworkMode, prepareNetwork, type NetworkFlags } from './network.js';
import type { ContainerHook, LaunchOptions } from '../launch/index.js';
import { removeTree } from './remove-tree.js';
import { parseStorageDriver, rootfsPath, type StorageDriver } from './storage.js';
import { startRootfs, watchDaemon } from './launch-rootfs.js';
import { isSquashfsFile, openSquashImage } from '../../image/squashfs.js';
import type { ImageConfig } from '../../image/manifest.js';
import { hookSteps } from './oci-hooks.js';

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
  /** --mount values (src/engine/volume/flags.ts); -v values are the request's `volumes`. */
  mounts?: string[];
}

/** What a container keeps between its creation and each launch (containers/<id>/setup.json). */
export interface ContainerSetup {
  flags: SetupFlags;
  network: NetworkMode;
  image?: { id: string; layers: ResolvedImage['layers']; driver: StorageDriver; exposed: string[] };
  /** A single-file image (squashfs): the union's only lower layer, mounted by squashfuse at each launch. */
  squash?: { file: string; exposed: string[] };
  /** Named volumes the container mounts (marked as used until it is removed). */
  volumes?: string[];
}

/** A container's two folders: persistent (containers/<id>: upper/, volumes/) and runtime (etc files, mountpoint). */
export interface ContainerDirs {
  data: string;
  run: string;
}

/**
 * Creation, once per container (the CLI of `run`, `run -d` and `create`): resolve or pull the
 * image, mark it used, apply its config to the request, choose the network. Returns the request
 * with rootfs set and where users are looked up; the setup is saved for every later launch.
 * `ephemeral` (a foreground run): the setup only serves to release its marks, so while it marks
 * no image and no volume it is written without the two fsyncs (~8 ms of every --rootfs run here).
 */
export async function createSetup<T extends ConfigurableRequest & { rootfs: string; tmpfs: string[] }>(
  req: T,
  flags: SetupFlags,
  id: string,
  dirs: ContainerDirs,
  warn: (line: string) => void,
  uidMappings: IdMapping[] = [],
  ephemeral = false,
): Promise<{ req: T; userDb?: { passwd: string; group: string }; setup: ContainerSetup; chown: string[] }> {
  mkdirSync(dirs.data, { recursive: true, mode: 0o700 });
  mkdirSync(dirs.run, { recursive: true, mode: 0o700 });
  const rootMapped = uidMappings.length === 0 || uidMappings.some((m) => m.containerID === 0);
  const network = chooseNetworkMode(flags.networkMode, warn, rootMapped);
  if (flags.image === undefined) {
    const setup: ContainerSetup = { flags, network };
    const mounted = await withMounts(req, setup, id, dirs, undefined, ephemeral);
    return { req: mounted.req, setup, chown: mounted.chown };
  }
  // Before a pull: a container's writable layer needs user xattrs where it lives (ephemeralDataDir).
  if (parseStorageDriver(flags.storageDriver) === 'fuse') requireUpperFs(dirname(dirname(dirs.data)), dirs.data);
  const image = await openImage(flags.image, flags, network, id);
  const mounted = await withMounts(req, image.setup, id, dirs, image.layers && { layers: image.layers });
  const configured = applyImageConfig(
    { ...mounted.req, entrypoint: flags.entrypoint },
    image.config,
    join(dirs.data, 'volumes'),
  );
  return {
    req: { ...configured, rootfs: rootfsPath(image.driver, dirs) },
    userDb: image.userDb,
    setup: image.setup,
    chown: mounted.chown,
  };
}

/**
 * The image a container is made from: a single-file image (a squashfs, by its path), or one of
 * the store (resolved or pulled, then marked used by container `id`).
 */
async function openImage(
  ref: string,
  flags: SetupFlags,
  network: NetworkMode,
  id: string,
): Promise<{
  setup: ContainerSetup;
  config: ImageConfig;
  userDb: { passwd: string; group: string };
  layers?: ResolvedImage['layers'];
  driver: StorageDriver;
}> {
  if (isSquashfsFile(ref)) {
    const image = openSquashImage(ref);
    const squash = { file: image.file, exposed: exposedPorts(image.config) };
    return { setup: { flags, network, squash }, config: image.config, userDb: image.userDb, driver: 'fuse' };
  }
  const driver = parseStorageDriver(flags.storageDriver);
  // Loaded on use: the image code (registry, unpack, tar) is a third of what `run --rootfs` would load.
  const { resolveImage } = await import('../../image/resolve.js');
  const image = await resolveImage(ref, { root: flags.root, pull: flags.pull, platform: flags.platform });
  markImageUsed(flags.root, image.id, id);
  const setup = {
    flags,
    network,
    image: { id: image.id, layers: image.layers, driver, exposed: exposedPorts(image.config) },
  };
  return { setup, config: image.config, userDb: userDatabase(image), layers: image.layers, driver };
}

/**
 * Saves the setup, then resolves -v and --mount (named volumes, ./paths, :O copies, tmpfs) and
 * saves it again with the volumes marked: whatever fails, releaseSetup finds every mark made.
 */
async function withMounts<T extends { volumes: string[]; tmpfs: string[] }>(
  req: T,
  setup: ContainerSetup,
  id: string,
  dirs: ContainerDirs,
  image?: Pick<ResolvedImage, 'layers'>,
  ephemeral = false,
): Promise<{ req: T; chown: string[] }> {
  // Durable unless a crash makes it moot: an ephemeral setup that marks nothing (createSetup).
  const save = (): void =>
    atomicWriteFile(
      join(dirs.data, 'setup.json'),
      JSON.stringify(setup) + '\n',
      0o644,
      !ephemeral || setup.image !== undefined || (setup.volumes?.length ?? 0) > 0,
    );
  save();
  const mountFlags = setup.flags.mounts ?? [];
  if (req.volumes.length === 0 && mountFlags.length === 0) return { req, chown: [] };
  const { resolveMounts } = await import('../volume/index.js');
  const mounts = await resolveMounts(req.volumes, mountFlags, {
    root: setup.flags.root,
    id,
    dataDir: dirs.data,
    cwd: process.cwd(),
    image,
  });
  setup.volumes = mounts.names;
  save();
  return { req: { ...req, volumes: mounts.volumes, tmpfs: [...req.tmpfs, ...mounts.tmpfs] }, chown: mounts.chown };
}

/** -v ...:U: the sources go to the container's user, through the container's id maps (src/engine/volume/owner.ts). */
export async function chownVolumes(
  sources: string[],
  user: { uid: number; gid: number },
  maps: { uidMappings: IdMapping[]; gidMappings: IdMapping[] },
): Promise<void> {
  if (sources.length === 0) return;
  const { chownSources } = await import('../volume/index.js');
  await chownSources(sources, user, { uidMappings: maps.uidMappings, gidMappings: maps.gidMappings });
}

/** The setup a container was created with, if it has one (image-backed or with network flags). */
export function readSetup(dataDir: string): ContainerSetup | undefined {
  const file = join(dataDir, 'setup.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ContainerSetup) : undefined;
}

/** Undoes createSetup's marks on the image and volumes; called when the container is removed. */
export function releaseSetup(dataDir: string, id: string): void {
  const setup = readSetup(dataDir);
  if (setup?.image) unmarkImageUsed(setup.flags.root, setup.image.id, id);
  if (setup?.volumes) releaseVolumes(setup.flags.root, setup.volumes, id);
}

/** What one launch needs: where the container goes (spec stage), what the helper enters first (plan stage), steps. */
export interface Launch {
  placement: Placement;
  options: Pick<LaunchOptions, 'joins' | 'tap' | 'starting' | 'started' | 'rootfsMounted'> & { hooks: ContainerHook[] };
  /** After the container ended: the error to report when its filesystem daemon died under it. */
  failure(): FuseError | undefined;
}

export interface LaunchContext {
  id: string;
  /** What is launched: a --rootfs tree's mount targets are checked in its spec. */
  blueprint: Blueprint;
  dirs: ContainerDirs;
  maps: { uidMappings: IdMapping[]; gidMappings: IdMapping[] };
  /** The generated files bound at /etc (the network hook rewrites them). */
  etcFiles: { hosts: string; resolvConf: string };
  hostname: string;
  /** The monitor, placed in the container's cgroup group (run -d). */
  monitorPid?: number;
  /** Told the container's cgroup (or undefined) once it exists, e.g. to record it in the state. */
  onCgroup?: (handle: CgroupHandle | undefined) => void | Promise<void>;
  cleanup: Cleanup;
  warn: (line: string) => void;
}

/**
 * Each launch (foreground `hutch run`, or the monitor of `run -d`/`create` at every start): the
 * root filesystem (the union daemon in the container's user namespace, or the vfs copy), the
 * published ports bound, the network and cgroup hooks. Everything made joins ctx.cleanup.
 */
export async function prepareLaunch(setup: ContainerSetup, ctx: LaunchContext): Promise<Launch> {
  const target =
    setup.network.kind === 'container' ? resolveNetworkTarget(setup.network.id, setup.flags.root) : undefined;
  // The filesystem daemon's start (its helper, id maps, Node) and the network's ports at once.
  const starting = startRootfs(setup, ctx, target?.userns);
  starting.catch(() => undefined); // awaited below, whatever the network does
  const netDir = networkDir(ctx.dirs.run, ctx.id);
  const network = await (async () => {
    mkdirSync(netDir, { recursive: true, mode: 0o700 });
    ctx.cleanup.add(`remove ${netDir}`, () => rmSync(netDir, { recursive: true, force: true }));
    return prepareNetwork(
      setup.network,
      setup.flags,
      setup.image?.exposed ?? setup.squash?.exposed ?? [],
      netDir,
      ctx.cleanup,
      ctx.warn,
    );
  })().catch(async (error: unknown) => {
    await starting.catch(() => undefined); // its cleanup is registered before the caller releases
    throw error;
  });
  const rootfs = await starting;
  const holder = rootfs?.holder;
  // The container's network namespace made now, in the user namespace it will live in (the
  // holder's): slirp4netns and the forwarder start while the union mounts, not after the clone.
  const ahead = holder && !target ? network.ahead(holder.userns) : undefined;
  // What the network runs on, started before the container's group exists, joins the monitor there.
  const cgroups = prepareCgroups(setup.flags, ctx.id, ctx.monitorPid, ctx.cleanup, ctx.warn, ctx.onCgroup, () =>
    ahead === undefined ? [] : ahead.pids(),
  );
  const watch = watchDaemon(rootfs, ctx.warn);
  // A --rootfs tree on its writable layer: the layer's mountpoint is the root.
  const placement: Placement = {
    ...(target ? placementForTarget(target, holder?.userns) : { userns: holder?.userns }),
    ...(ahead ? { netns: ahead.netns } : {}),
    ...(setup.image || setup.squash ? {} : { rootfs: rootfs?.path }),
  };
  const hooks =
    ctx.blueprint.hooks === undefined
      ? { hooks: [] }
      : hookSteps(ctx.id, specFromBlueprint(ctx.blueprint, placement), join(ctx.dirs.run, 'bundle'), ctx);
  return {
    placement,
    options: {
      joins: target
        ? networkJoins(target, holder)
        : holder && [
            { type: CLONE.NEWUSER, path: holder.userns },
            { type: CLONE.NEWNS, path: holder.mntns },
            ...(ahead ? [{ type: CLONE.NEWNET, path: ahead.netns }] : []),
          ],
      tap: ahead ? undefined : network.tap, // made with the namespace
      hooks: [
        watch.hook,
        // With a monitor to place, after the network's processes are all spawned (placed with it;
        // the network's own failure is its hook's to say).
        ahead && ctx.monitorPid !== undefined
          ? (pid) => ahead.started.then(noop, noop).then(() => cgroups.hook(pid))
          : cgroups.hook,
        network.hook({ ...ctx.etcFiles, hostname: ctx.hostname }, join(ctx.dirs.run, 'ports.json')),
        ...hooks.hooks,
      ],
      starting: hooks.starting,
      started: hooks.started,
      // The helper joins the namespace by its holder's pid: not before the holder made it, nor
      // once it is gone (the path would name nothing, or, reused, something else).
      rootfsMounted:
        ahead && rootfs ? Promise.all([rootfs.mounted, ahead.made]).then(() => ahead.held()) : rootfs?.mounted,
    },
    failure: watch.failure,
  };
}

function noop(): void {}

/** A launch's folder for network sockets (removed with the launch's cleanup, or by the monitor's finish). */
export function networkDir(runDir: string, id: string): string {
  // Socket paths must fit sun_path (108 bytes): slirp4netns' API socket gets a short folder.
  return join(runDir, '..', '..', 'net', id.slice(0, 16));
}

/** Removes a foreground container's folders (its upper layer, volumes and runtime files). */
export async function removeContainerDirs(dirs: ContainerDirs): Promise<void> {
  rmSync(dirs.run, { recursive: true, force: true });
  await removeTree(dirs.data);
}
