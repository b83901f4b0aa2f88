import {
  closeSync,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { needsOwnNetns } from '../../../net/index.js';
import { hostsFile, resolvConf } from '../../../net/resolv.js';
import { UsageError } from '../../errors.js';
import type { HutchPaths } from '../../paths.js';
import type { IdMapping } from '../../runtime/spec.js';
import { Cleanup } from '../../sys/cleanup.js';
import { faultPoint } from '../../sys/fault.js';
import { getWindowSize, type WindowSize } from '../../sys/pty.js';
import { randomHex } from '../../sys/random.js';
import { readTextIfPresent } from '../../sys/text.js';
import { tryLock, tryLockExisting } from '../../sys/trylock.js';
import { checkMaps, chooseMaps, needsHelper, parseMapFlag, type UsernsMode } from '../../userns/idmap.js';
import { readSubid, type SubidRange } from '../../userns/subid.js';
import {
  chownVolumes,
  createSetup,
  ephemeralDataDir,
  networkDir,
  parseStorageDriver,
  prepareLaunch,
  releaseSetup,
  removeContainerDirs,
  type ContainerDirs,
  type ContainerSetup,
  type SetupFlags,
} from '../setup/index.js';
import { launchPlan, runContainer, type ContainerHook, type LaunchOptions, type TerminalIo } from '../launch/index.js';
import { encodePlan } from '../../runtime/nsexec.js';
import type { Spec } from '../../runtime/spec.js';
import { callingUser, writeUserDb } from './keep-id.js';
import {
  blueprintFromRequest,
  containerHostname,
  specFromBlueprint,
  type Blueprint,
  type RunRequest,
  type SpecContext,
} from '../spec/index.js';

/** `hutch run`'s request: the flags that shape the spec, plus how to launch it. */
export interface RunCommandRequest extends RunRequest {
  userns: UsernsMode;
  uidmap: string[];
  gidmap: string[];
  interactive: boolean;
  init: boolean;
  /** hutch's fds 3..2+N become the container process's (--preserve-fds; foreground only). */
  preserveFds?: number;
  hooks?: ContainerHook[];
  /** Image, storage, network and resource flags (src/engine/setup/setup.ts). */
  setup?: SetupFlags;
  /**
   * Called when the command exited 0, before the container's folders go: `hutch build` makes its
   * writable layer (the union's upper directory) a layer of the image it builds.
   */
  onSuccess?: (layer: WritableLayer) => Promise<void>;
  /**
   * With a single mapped uid, chown to other ids is recorded in the union instead of refused
   * (`hutch build`'s RUN; the helper answers the chown family, docs/security.md).
   */
  chownNotify?: boolean;
}

/** A finished container's writable layer, as engine/commit reads it. */
export interface WritableLayer {
  upper: string;
  mountpoints: string[];
  maps: { uidMappings: IdMapping[]; gidMappings: IdMapping[] };
}

export interface RunCommandIo {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WritableStream;
  paths: HutchPaths;
  /** Where /etc/subuid and /etc/subgid are read ('/' but in tests). */
  hostRoot?: string;
}

/** Runs a command in a container made from a root filesystem directory; returns its exit status. */
export async function runCommand(req: RunCommandRequest, io: RunCommandIo): Promise<number> {
  if (req.setup?.image === undefined) checkRootfs(req.rootfs);
  const cleanup = new Cleanup();
  try {
    const id = randomHex(32);
    // Not containers/: that is for containers with a lifecycle; these folders live as long as one run.
    const dataParent = join(io.paths.data, 'ephemeral');
    const runParent = join(io.paths.run, 'ephemeral');
    const stale = (name: string): void => {
      releaseStale(join(dataParent, name), name);
      releaseStale(join(runParent, name, 'data'), name); // see ephemeralDataDir
      rmSync(join(dataParent, name), { recursive: true, force: true });
      // Its network's folder (the slirp4netns socket), which a killed run leaves too.
      rmSync(networkDir(join(runParent, name), name), { recursive: true, force: true });
    };
    const runDir = makeRunDir(runParent, id, cleanup, stale);
    const driver = parseStorageDriver(req.setup?.storageDriver);
    const dirs = { data: ephemeralDataDir(io.paths, id, runDir, driver), run: runDir };
    cleanup.add(`remove the folders of container ${id}`, () => removeContainerDirs(dirs));
    const hostname = containerHostname(req, id);
    const etcFiles = writeEtcFiles(dirs.run, hostname);
    const warn = (line: string): void => void io.stderr.write(line + '\n');
    cleanup.add('release the image', () => releaseSetup(dirs.data, id));
    const made = await blueprintFromFlags(req, io, id, dirs, etcFiles, warn, true);
    faultPoint('blueprint');
    const setup = await prepareLaunch(made.setup, {
      id,
      blueprint: made.blueprint,
      dirs,
      maps: { uidMappings: made.blueprint.uidMappings, gidMappings: made.blueprint.gidMappings },
      etcFiles,
      hostname,
      cleanup,
      warn,
    });
    faultPoint('prepared');
    const spec = specFromBlueprint(made.blueprint, setup.placement);
    const launch: LaunchOptions = {
      stdio: [req.interactive ? 'inherit' : 'ignore', 'inherit', 'inherit'],
      terminal: req.tty ? terminalIo(req, io) : undefined,
      init: req.init,
      ...setup.options,
      hooks: [...setup.options.hooks, ...(req.hooks ?? [])],
      preserveFds: req.preserveFds,
      chownNotify: req.chownNotify === true && made.blueprint.uidMappings.reduce((n, m) => n + m.size, 0) === 1,
      forwardSignals: true,
    };
    // The C front (native/run-front.c) prints its own: test/integration/run-front.test.ts compares them.
    if (process.env.HUTCH_RUN_PRINT_PLAN === '1') {
      // Nothing launches: a network made ahead is ended by the cleanup before the union may say it mounted.
      launch.rootfsMounted?.catch(() => undefined);
      return printPlan(spec, launch);
    }
    const restore = req.tty && req.interactive && io.stdin.isTTY ? rawMode(io.stdin) : () => undefined;
    cleanup.add('restore the terminal', restore);
    const result = await runContainer(spec, launch);
    faultPoint('exited');
    const failure = setup.failure();
    if (failure !== undefined) throw failure;
    if (result.exitCode === 0 && req.onSuccess !== undefined)
      await req.onSuccess({
        upper: join(dirs.data, 'upper'),
        mountpoints: (spec.mounts ?? []).map((m) => m.destination),
        maps: { uidMappings: made.blueprint.uidMappings, gidMappings: made.blueprint.gidMappings },
      });
    return result.exitCode;
  } finally {
    await cleanup.release();
  }
}

/** What `run`, `run -d` and `create` make of their flags before anything runs. */
export interface MadeContainer {
  blueprint: Blueprint;
  /** Kept in setup.json for every launch (image, network, cgroup flags). */
  setup: ContainerSetup;
}

/**
 * The first stage of the pipeline (flags -> blueprint -> OCI spec -> helper plan) for the user
 * face: the id maps chosen, the image resolved and its config applied (the setup saved), then the
 * blueprint made and checked. The spec is specFromBlueprint's, the plan createContainer's.
 */
export async function blueprintFromFlags(
  req: RunCommandRequest,
  io: RunCommandIo,
  id: string,
  dirs: ContainerDirs,
  etcFiles: SpecContext['etcFiles'],
  warn: (line: string) => void,
  ephemeral = false,
): Promise<MadeContainer> {
  const me = userInfo();
  const maps = idMaps(req, { name: me.username, uid: me.uid, gid: me.gid }, io);
  const made = await createSetup(req, req.setup ?? NO_SETUP, id, dirs, warn, maps.uidMappings, ephemeral);
  const keepId = req.userns === 'keep-id' ? callingUser() : undefined;
  // keep-id: the user has a line in the container's passwd and group, as in podman.
  const etc = keepId ? { ...etcFiles, ...writeUserDb(dirs.run, keepId, made.userDb, made.req.rootfs) } : etcFiles;
  // keep-id runs as the user unless -u says otherwise, whatever the image's User (podman's rule).
  const user = keepId ? req.user : made.req.user;
  const blueprint = blueprintFromRequest(
    { ...made.req, user, network: needsOwnNetns(made.setup.network) ? 'none' : 'host' },
    { id, ...maps, etcFiles: etc, userDb: made.userDb, keepId },
  );
  await chownVolumes(made.chown, blueprint.user, maps);
  return { blueprint, setup: made.setup };
}

/**
 * The marks a foreground run killed before its cleanup left (releaseSetup). A setup.json that is
 * not JSON was half-written when the host went down: such a file is written without a sync only
 * when it marks nothing (createSetup, `ephemeral`), so there is nothing to release.
 */
function releaseStale(dataDir: string, id: string): void {
  try {
    releaseSetup(dataDir, id);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
  }
}

/** --rootfs with none of the setup flags: no image, the default network, no limits. */
export const NO_SETUP: SetupFlags = { publish: [], publishAll: false, dns: [], dnsSearch: [], addHost: [] };

/**
 * Makes the container's runtime folder, holding its lock for as long as hutch runs; first removes
 * the folders of runs whose hutch was killed (their lock is free). The folder appears by rename,
 * lock inside, so a sweep never takes a folder that is being made.
 */
function makeRunDir(
  parent: string,
  id: string,
  cleanup: Cleanup,
  onStale: (name: string) => void = () => undefined,
): string {
  mkdirSync(parent, { recursive: true, mode: 0o700 });
  for (const name of readdirSync(parent)) {
    if (name.startsWith('.')) continue;
    const fd = tryLockExisting(join(parent, name, 'lock')); // another run may be removing it now
    if (fd === undefined) continue;
    onStale(name);
    rmSync(join(parent, name), { recursive: true, force: true });
    closeSync(fd);
  }
  const temp = join(parent, `.new-${id}`);
  const runDir = join(parent, id);
  mkdirSync(temp, { mode: 0o700 });
  const lock = tryLock(join(temp, 'lock'));
  renameSync(temp, runDir);
  // In reverse: removed while still locked, so that no sweep takes a folder its owner is removing.
  cleanup.add(`unlock ${runDir}`, () => lock !== undefined && closeSync(lock));
  cleanup.add(`remove ${runDir}`, () => rmSync(runDir, { recursive: true, force: true }));
  return runDir;
}

export function checkRootfs(rootfs: string): void {
  let isDir = false;
  try {
    isDir = statSync(rootfs).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir)
    throw new UsageError('ROOTFS_MISSING', `cannot use ${resolve(rootfs)} as the root filesystem: not a directory`, {
      hint: 'give --rootfs a directory holding a root filesystem (bin/sh, etc/passwd, ...)',
    });
}

interface MapChoice {
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
  subuid: SubidRange[];
  subgid: SubidRange[];
  setgroupsAllowed: boolean;
}

/** --uidmap/--gidmap when given; else the user's ranges (or the user alone) in the --userns mode. */
export function idMaps(
  req: RunCommandRequest,
  me: { name: string; uid: number; gid: number },
  io: RunCommandIo,
): MapChoice {
  const subuid = readSubid('uid', { name: me.name, id: me.uid }, io.hostRoot);
  const subgid = readSubid('gid', { name: me.name, id: me.uid }, io.hostRoot);
  let uidMappings = chooseMaps(req.userns, me.uid, subuid);
  let gidMappings = chooseMaps(req.userns, me.gid, subgid);
  if (req.uidmap.length > 0) {
    uidMappings = req.uidmap.map((v) => parseMapFlag('--uidmap', v));
    gidMappings = (req.gidmap.length > 0 ? req.gidmap : req.uidmap).map((v) => parseMapFlag('--gidmap', v));
  } else if (req.gidmap.length > 0) gidMappings = req.gidmap.map((v) => parseMapFlag('--gidmap', v));
  checkMaps('uid', uidMappings);
  checkMaps('gid', gidMappings);
  if (subuid.length === 0 && req.uidmap.length === 0) warnOnce(io, me.name);
  return { uidMappings, gidMappings, subuid, subgid, setgroupsAllowed: needsHelper(gidMappings, me.gid) };
}

/** With no subuid range only the user is mapped; say so once per boot, not at every run. */
function warnOnce(io: RunCommandIo, name: string): void {
  const marker = join(io.paths.run, 'warned-no-subuid');
  if (existsSync(marker)) return;
  io.stderr.write(
    `hutch: warning: no /etc/subuid range for ${name}: only your own uid is mapped (to root) in containers; images with other users may fail\n`,
  );
  try {
    mkdirSync(io.paths.run, { recursive: true, mode: 0o700 });
    writeFileSync(marker, '');
  } catch {
    // the warning comes again next time: harmless
  }
}

export function writeEtcFiles(
  runDir: string,
  hostname: string,
): { hosts: string; hostname: string; resolvConf: string } {
  const files = {
    hosts: join(runDir, 'hosts'),
    hostname: join(runDir, 'hostname'),
    resolvConf: join(runDir, 'resolv.conf'),
  };
  // No resolver on the host: the container gets an empty resolv.conf.
  const hostResolv = readTextIfPresent('/etc/resolv.conf') ?? '';
  writeFileSync(files.hosts, hostsFile({ hostname }));
  writeFileSync(files.hostname, hostname + '\n');
  writeFileSync(files.resolvConf, resolvConf({ hostResolvConf: hostResolv }));
  return files;
}

export function terminalIo(req: RunCommandRequest, io: RunCommandIo): TerminalIo {
  const hostTty = io.stdout.isTTY ? 1 : io.stdin.isTTY ? 0 : undefined;
  // A terminal that reports 0x0 (a pty nobody sized) would leave programs without a size: default.
  const sizeOf = (fd: number): WindowSize | undefined => {
    const size = getWindowSize(fd);
    return size.rows > 0 && size.cols > 0 ? size : undefined;
  };
  return {
    input: req.interactive ? io.stdin : undefined,
    output: io.stdout,
    size: hostTty === undefined ? undefined : sizeOf(hostTty),
    watchSize:
      hostTty === undefined
        ? undefined
        : (apply) => {
            const onWinch = (): void => {
              const size = sizeOf(hostTty);
              if (size !== undefined) apply(size);
            };
            process.on('SIGWINCH', onWinch);
            return () => process.off('SIGWINCH', onWinch);
          },
  };
}

/** Puts the user's terminal in raw mode (keys go to the container as typed); returns the restore. */
export function rawMode(stdin: NodeJS.ReadStream): () => void {
  stdin.setRawMode(true); // no resume(): keys typed before the terminal is attached must wait, not be lost
  return () => {
    stdin.setRawMode(false);
    stdin.pause();
  };
}

/**
 * HUTCH_RUN_PRINT_PLAN=1: the helper's plan on stdout instead of a run (the folders made and
 * removed as ever); native/hutch-run-front prints its own for the same command line.
 */
function printPlan(spec: Spec, options: LaunchOptions): number {
  writeSync(1, encodePlan(launchPlan(spec, options).plan).bytes);
  return 0;
}
