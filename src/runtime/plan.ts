import { posix } from 'node:path';
import { UsageError } from '../errors.js';
import { capabilityMask, mountOptions, CLONE, MS, RLIMITS } from './linux.js';
import { namespaceOf, type IdMapping, type Mount, type Spec } from './spec.js';
import { bareDevSteps, devSteps } from './devices.js';
import { sysctlSteps } from './sysctl.js';

export type { FsStep } from './fs-step.js';
import type { FsStep } from './fs-step.js';
import type { IdMapTool } from '../userns/newidmap.js';

export interface CapabilitySets {
  bounding: bigint;
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
  ambient: bigint;
}

/** What hutch-nsexec is told to do (encoded onto the wire by nsexec.ts). */
export interface HelperPlan {
  cloneFlags: number;
  /** Namespaces to join by path before the clone (linux.namespaces[].path), user first. */
  joins?: { type: number; path: string }[];
  propagation?: number;
  /** rootfsPropagation, applied to the new root after pivot_root (which refuses a shared one). */
  rootPropagation?: number;
  rootfs?: string;
  fs: FsStep[];
  readonlyRoot: boolean;
  hostname?: string;
  loopback: boolean;
  rlimits: { resource: number; soft: bigint; hard: bigint }[];
  umask?: number;
  terminal: boolean;
  cwd?: string;
  user?: { uid: number; gid: number };
  groups?: number[];
  caps?: CapabilitySets;
  noNewPrivileges: boolean;
  seccomp?: Uint8Array;
  /** seccomp(2) SECCOMP_FILTER_FLAG_* for the filter (the spec's linux.seccomp.flags). */
  seccompFlags?: number;
  /** The filter's notifications are the chown family: the helper records their owners in the union. */
  chownNotify?: boolean;
  args: string[];
  /** The process's argv[0] when it is not args[0] (the program run); `hutch sandbox --argv0`. */
  argv0?: string;
  env: string[];
  /** No HOME in env: the helper adds the user's home from the container's /etc/passwd, or "/" (runc). */
  defaultHome?: boolean;
  init: boolean;
  parentDeathSignal?: number;
  /** The OCI face: the child outlives the helper (runc's model: the caller's subreaper adopts it). */
  detach?: boolean;
  /** Wait for a reader of this fifo instead of "go" (`hutch runtime start`). */
  startFifo?: string;
  /** Send the pty master to this unix socket (--console-socket). */
  consoleSocket?: string;
  /** A persistent tap device to create in the new network namespace, for slirp4netns to attach to. */
  tap?: string;
  /** The setuid tools the helper runs on its child right after the clone, at once (the rest hutch writes). */
  idMaps?: IdMapTool[];
  /** How many of hutch's fds from 3 on the process gets as its 3, 4, ... (--preserve-fds). */
  preserveFds?: number;
  /**
   * The launch goes on without hutch once the plan is sent (ON_ITS_OWN, docs/wire.md): the helper
   * lets its child go on once its idMaps tools wrote both maps, and the child execs after READY.
   */
  onItsOwn?: boolean;
}

/** What the plan needs to know of the host; a function, so unit tests give plain answers. */
export interface PlanHost {
  /** Whether a bind source is a directory (mount point made with mkdir) or a file. */
  isDirectory(path: string): boolean;
  /** Gids mapped in the namespace the container runs in (when it creates no user namespace). */
  gidMappings?: IdMapping[];
}

/** What a launch adds to the spec: choices of the caller, not of the container. */
export interface PlanOptions extends Pick<
  HelperPlan,
  'detach' | 'startFifo' | 'consoleSocket' | 'tap' | 'preserveFds' | 'argv0' | 'idMaps' | 'onItsOwn'
> {
  /** Run a tiny init as PID 1 that reaps zombies and forwards signals (--init). */
  init?: boolean;
  /** spec.linux.seccomp compiled (struct sock_filter[], src/security/seccomp): the plan stays pure. */
  seccomp?: Uint8Array;
  /** Its seccomp(2) SECCOMP_FILTER_FLAG_* bits. */
  seccompFlags?: number;
  /**
   * A single mapped uid on the union filesystem (`hutch build`'s RUN): chown to ids outside the
   * map is answered by the helper, which records the owner in the union (docs/security.md).
   */
  chownNotify?: boolean;
  /**
   * The namespaces to enter before the clone when the launch placed the container (the union
   * filesystem daemon's user and mount namespaces, another container's network); else the spec's paths.
   */
  joins?: { type: number; path: string }[];
  /** Symlinks made in the root right after a mount at / (`hutch sandbox`'s tmpfs root: /bin -> usr/bin). */
  rootLinks?: { target: string; path: string }[];
  /**
   * Directories, symlinks and files made inside the root (`hutch sandbox`'s --dir, --symlink,
   * --file, --bind-data and --chmod), each
   * before spec.mounts[at] (after every mount when `at` is their count): among the mounts, in order.
   */
  rootPaths?: RootPath[];
}

/**
 * A directory (with its mode), a symlink with its text `target`, or a file holding `data` (new, or
 * bound: read-only with bind 'ro'), at a container path; placed before spec.mounts[at].
 */
export type RootPath = { at: number; path: string } & (
  | { kind: 'dir'; mode: number }
  | { kind: 'symlink'; target: string }
  | { kind: 'file'; mode: number; data: Buffer; bind?: 'rw' | 'ro' }
  | { kind: 'chmod'; mode: number }
  | { kind: 'remount-ro' }
);

const SIGKILL = 9;
const NAMESPACE_FLAGS = {
  user: CLONE.NEWUSER,
  mount: CLONE.NEWNS,
  pid: CLONE.NEWPID,
  uts: CLONE.NEWUTS,
  ipc: CLONE.NEWIPC,
  network: CLONE.NEWNET,
  cgroup: CLONE.NEWCGROUP,
  time: 0,
} as const;

/** Translates a spec into the helper's plan. Pure: the host is asked only through `host`. */
export function planFromSpec(spec: Spec, host: PlanHost, options: PlanOptions = {}): HelperPlan {
  const proc = spec.process;
  if (proc === undefined || proc.args.length === 0)
    throw new UsageError('SPEC_NO_PROCESS', 'cannot plan the container: the spec has no process args', {
      hint: 'give a command to run',
    });
  const cloneFlags = cloneFlagsOf(spec);
  const rootfs = spec.root?.path;
  if (rootfs !== undefined && !posix.isAbsolute(rootfs))
    throw new UsageError('SPEC_ROOT_RELATIVE', `cannot plan the container: root path ${rootfs} is not absolute`, {
      hint: 'resolve root.path against the bundle first',
    });
  return {
    cloneFlags,
    joins: options.joins ?? joinsOf(spec),
    ...propagationOf(spec, cloneFlags),
    rootfs,
    fs: rootfs === undefined ? [] : filesystemSteps(spec, rootfs, host, options),
    readonlyRoot: spec.root?.readonly === true,
    hostname: createsNamespace(spec, 'uts') ? spec.hostname : undefined,
    loopback: createsNamespace(spec, 'network'),
    rlimits: (proc.rlimits ?? []).map((l) => ({
      resource: rlimitNumber(l.type),
      soft: rlimitValue(l.soft),
      hard: rlimitValue(l.hard),
    })),
    umask: proc.user.umask,
    terminal: proc.terminal === true,
    cwd: proc.cwd,
    user: { uid: proc.user.uid, gid: proc.user.gid },
    groups: proc.user.additionalGids,
    caps: proc.capabilities === undefined ? undefined : capabilitySets(proc.capabilities),
    noNewPrivileges: proc.noNewPrivileges === true,
    seccomp: options.seccomp,
    seccompFlags: options.seccompFlags || undefined,
    chownNotify: options.chownNotify || undefined,
    args: proc.args,
    argv0: options.argv0,
    env: proc.env ?? [],
    defaultHome: !(proc.env ?? []).some((e) => e.startsWith('HOME=')) || undefined,
    init: options.init === true,
    parentDeathSignal: SIGKILL,
    detach: options.detach,
    startFifo: options.startFifo,
    consoleSocket: options.consoleSocket,
    tap: options.tap,
    preserveFds: options.preserveFds,
    idMaps: options.idMaps,
    onItsOwn: options.onItsOwn,
  };
}

function cloneFlagsOf(spec: Spec): number {
  let flags = 0;
  for (const ns of spec.linux?.namespaces ?? []) if (ns.path === undefined) flags |= NAMESPACE_FLAGS[ns.type];
  return flags;
}

function joinsOf(spec: Spec): { type: number; path: string }[] {
  const joins: { type: number; path: string }[] = [];
  for (const ns of spec.linux?.namespaces ?? []) {
    if (ns.path === undefined) continue;
    if (NAMESPACE_FLAGS[ns.type] === 0)
      throw new UsageError(
        'SPEC_NAMESPACE_PATH',
        `cannot plan the container: joining the ${ns.type} namespace at ${ns.path} is not supported`,
        { hint: 'let hutch create the namespace' },
      );
    joins.push({ type: NAMESPACE_FLAGS[ns.type], path: ns.path });
  }
  return joins;
}

function createsNamespace(spec: Spec, type: 'uts' | 'network' | 'cgroup'): boolean {
  const ns = namespaceOf(spec, type);
  return ns !== undefined && ns.path === undefined;
}

const PROPAGATION: Record<string, number> = {
  shared: MS.SHARED,
  rshared: MS.REC | MS.SHARED,
  slave: MS.SLAVE,
  rslave: MS.REC | MS.SLAVE,
  private: MS.PRIVATE,
  rprivate: MS.REC | MS.PRIVATE,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.REC | MS.UNBINDABLE,
};

/**
 * The mount propagation of a new mount namespace, as runc sets it: before the pivot the tree is
 * rslave (rprivate when asked), since pivot_root refuses a shared root; the requested propagation
 * goes on the new root after the pivot. Without a root of its own, the requested one at once.
 */
function propagationOf(spec: Spec, cloneFlags: number): Pick<HelperPlan, 'propagation' | 'rootPropagation'> {
  if (!(cloneFlags & CLONE.NEWNS)) return {};
  const name = spec.linux?.rootfsPropagation;
  const wanted = name === undefined || name === '' ? undefined : PROPAGATION[name];
  if (name !== undefined && name !== '' && wanted === undefined) {
    throw new UsageError(
      'SPEC_PROPAGATION',
      `cannot plan the container: linux.rootfsPropagation: unknown value ${name}`,
      { hint: `use one of ${Object.keys(PROPAGATION).join(', ')}` },
    );
  }
  if (spec.root === undefined) return { propagation: wanted ?? MS.REC | MS.SLAVE };
  const before = name === 'private' || name === 'rprivate' ? MS.REC | MS.PRIVATE : MS.REC | MS.SLAVE;
  return { propagation: before, rootPropagation: wanted };
}

/** JSON cannot carry 2^64-1 exactly: anything from 2^63 up means RLIM_INFINITY. */
function rlimitValue(value: number): bigint {
  return value >= 2 ** 63 ? 0xffffffffffffffffn : BigInt(Math.trunc(value));
}

function rlimitNumber(type: string): number {
  const n = RLIMITS[type];
  if (n === undefined)
    throw new UsageError('SPEC_RLIMIT', `cannot plan the container: unknown rlimit ${type}`, {
      hint: `use one of ${Object.keys(RLIMITS).join(', ')}`,
    });
  return n;
}

function capabilitySets(caps: NonNullable<NonNullable<Spec['process']>['capabilities']>): CapabilitySets {
  return {
    bounding: capabilityMask(caps.bounding ?? []),
    effective: capabilityMask(caps.effective ?? []),
    permitted: capabilityMask(caps.permitted ?? []),
    // An ambient capability must be inheritable too (capabilities(7)); runc raises it there.
    inheritable: capabilityMask([...(caps.inheritable ?? []), ...(caps.ambient ?? [])]),
    ambient: capabilityMask(caps.ambient ?? []),
  };
}

/** Mounts in spec order (devices and /dev symlinks right after /dev), then masked and read-only paths. */
function filesystemSteps(spec: Spec, rootfs: string, host: PlanHost, options: PlanOptions): FsStep[] {
  const { rootLinks = [], rootPaths = [] } = options;
  const steps: FsStep[] = [];
  // A container path resolves inside the root: `..` above it stops there, as in runc (the helper
  // then resolves symlinks inside the root too).
  const inside = (p: string): string => posix.join(rootfs, posix.resolve('/', p));
  const own: OwnNamespaces = {
    network: namespaceOf(spec, 'network') !== undefined,
    cgroup: createsNamespace(spec, 'cgroup'),
    pid: namespaceOf(spec, 'pid') !== undefined,
    ipc: namespaceOf(spec, 'ipc') !== undefined,
  };
  const gids = spec.linux?.gidMappings ?? host.gidMappings;
  const pathsAt = (at: number): FsStep[] => rootPaths.filter((p) => p.at === at).map((p) => rootPathStep(p, inside));
  const mounts = spec.mounts ?? [];
  for (const [i, m] of mounts.entries()) {
    steps.push(...pathsAt(i));
    const adapted = adaptRootless(m, own, gids);
    // The host's /dev/mqueue where the host has none: the container has none either.
    if (adapted.type === 'bind' && adapted.source === '/dev/mqueue' && !host.isDirectory('/dev/mqueue')) continue;
    const step = mountStep(adapted, inside(m.destination), host);
    // proc and sysfs must sit on an ordinary directory (runc): a symlink would carry the masks away.
    if (step.kind === 'mount' && (m.type === 'proc' || m.type === 'sysfs')) step.noSymlinks = true;
    steps.push(step);
    if (m.destination === '/dev' && m.type === 'tmpfs') steps.push(...devSteps(spec, inside));
    if (m.destination === '/')
      steps.push(...rootLinks.map((l): FsStep => ({ kind: 'symlink', target: l.target, linkpath: inside(l.path) })));
  }
  steps.push(...pathsAt(mounts.length));
  if (!mounts.some((m) => m.destination === '/dev' && m.type === 'tmpfs')) steps.push(...bareDevSteps(spec, inside));
  steps.push(...sysctlSteps(spec));
  for (const p of spec.linux?.maskedPaths ?? []) steps.push({ kind: 'mask', path: inside(p) });
  for (const p of spec.linux?.readonlyPaths ?? []) steps.push({ kind: 'readonly', path: inside(p) });
  return steps;
}

function rootPathStep(p: RootPath, inside: (path: string) => string): FsStep {
  const path = posix.resolve('/', p.path);
  if (p.kind === 'dir' || p.kind === 'chmod') return { kind: p.kind, path: inside(path), mode: p.mode, what: path };
  if (p.kind === 'remount-ro') return { kind: 'remount-ro', path: inside(path), what: path };
  if (p.kind === 'file')
    return {
      kind: 'file',
      path: inside(path),
      mode: p.mode,
      data: p.data,
      ...(p.bind && { bind: p.bind }),
      what: path,
    };
  return { kind: 'symlink-in-root', target: p.target, linkpath: inside(path), what: `${path} -> ${p.target}` };
}

/** Which namespaces the container has of its own (created or joined), for what may be mounted fresh. */
interface OwnNamespaces {
  network: boolean;
  cgroup: boolean;
  pid: boolean;
  ipc: boolean;
}

/** A host file system bound where the container cannot mount its own: rbind, as restrictive as the original. */
const hostBind = (m: Mount, source: string, extra: string[] = []): Mount => ({
  destination: m.destination,
  type: 'bind',
  source,
  options: ['rbind', 'nosuid', 'noexec', 'nodev', ...extra],
});

/**
 * What a user namespace forbids, rewritten as runc does rootless: sysfs can be mounted only with a
 * network namespace of our own (else bind the host's read-only), proc only with a PID namespace
 * of our own and mqueue only with an IPC namespace of our own (else bind the host's: --pid host,
 * --ipc host), and devpts' gid= must be mapped.
 */
function adaptRootless(m: Mount, own: OwnNamespaces, gids: IdMapping[] | undefined): Mount {
  if (m.type === 'proc' && !own.pid) return hostBind(m, '/proc');
  if (m.type === 'mqueue' && !own.ipc) return hostBind(m, '/dev/mqueue');
  // `cgroup` means v2 on a unified host (as runc reads it); without a cgroup namespace of our own, bind the host's.
  if (m.type === 'cgroup')
    return own.cgroup ? { ...m, type: 'cgroup2', source: 'cgroup2' } : hostBind(m, '/sys/fs/cgroup', ['ro']);
  if (m.type === 'sysfs' && !own.network) return hostBind(m, '/sys', ['ro']);
  if (m.type === 'devpts' && gids !== undefined) {
    const options = (m.options ?? []).filter((o) => {
      const gid = /^gid=(\d+)$/.exec(o);
      return (
        gid === null || gids.some((g) => Number(gid[1]) >= g.containerID && Number(gid[1]) < g.containerID + g.size)
      );
    });
    return { ...m, options };
  }
  return m;
}

function mountStep(m: Mount, target: string, host: PlanHost): FsStep {
  const copyUp = m.type === 'tmpfs' && (m.options ?? []).includes('tmpcopyup');
  const { flags, data, bind, readonly } = mountOptions(
    (m.options ?? []).filter((o) => o !== 'tmpcopyup' && o !== 'notmpcopyup'),
    m.type,
  );
  const source = m.source ?? m.type ?? '';
  if (!bind)
    return {
      kind: 'mount',
      source,
      target,
      fstype: m.type ?? '',
      flags,
      data,
      mkdir: true,
      ...(copyUp ? { copyUp } : {}),
      what: `${m.type} at ${m.destination}`,
    };
  const dir = host.isDirectory(source);
  // A bind mount's read-only flag is ignored by mount(2); it takes a remount.
  return {
    kind: 'mount',
    source,
    target,
    fstype: '',
    flags: flags & ~MS.RDONLY,
    data: '',
    mkdir: dir,
    mkfile: !dir,
    remountRo: readonly,
    what: `${source} at ${m.destination}`,
  };
}
