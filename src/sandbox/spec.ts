import { posix } from 'node:path';
import { UsageError } from '../errors.js';
import type { RootPath } from '../runtime/plan.js';
import type { Mount, Seccomp, Spec } from '../runtime/spec.js';
import { sandboxEnv } from './env.js';
import { SANDBOX_DATA_MAX } from './data.js';
import type { SandboxData, SandboxFsFlag, SandboxOptions, SandboxTmpfs } from './options.js';
import { deviceMounts, socketMounts } from './sockets.js';

/** What the sandbox reads of the host: given as answers so that the spec stays a pure function. */
export interface SandboxHost {
  uid: number;
  gid: number;
  env: NodeJS.ProcessEnv;
  /** Where relative --bind sources and --home resolve. */
  cwd: string;
  /** A host path's kind (lstat: a symlink is 'link'); undefined when missing. */
  kind(path: string): 'dir' | 'link' | 'other' | undefined;
  readlink(path: string): string;
  /** Whether a path exists (stat: a symlink counts when its target does). */
  exists(path: string): boolean;
  /** The bytes of the caller's fd (at most `limit`; `what` names the flag for errors); the fd is closed. */
  readFd(fd: number, what: string, limit: number): Buffer;
  /** The default seccomp profile resolved for no capabilities (src/security). */
  seccomp: Seccomp;
}

/**
 * The spec, the host's top-level symlinks (/bin -> usr/bin) to make in the tmpfs root, and the
 * --dir and --symlink paths, each placed before the mount it precedes (the plan's rootPaths).
 */
export interface SandboxSpec {
  spec: Spec;
  rootLinks: { target: string; path: string }[];
  rootPaths: RootPath[];
}

/** Read-only from the host; /usr and /etc always, the rest as the host has them (dir, or symlink). */
const SYSTEM_DIRS = ['/usr', '/etc', '/opt', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
const MASKED = ['/proc/acpi', '/proc/asound', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats'];
const MASKED_MORE = ['/proc/sched_debug', '/proc/scsi', '/proc/timer_list', '/proc/timer_stats'];
const READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
const NO_CAPS = { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] };

/**
 * The OCI spec of a sandbox: a tmpfs at / (the launch's root directory is only its mount point),
 * then the host's system directories read-only, /proc, /dev, /tmp, the home, the binds, sockets
 * and devices asked for. Every destination resolves inside the new root (the helper's
 * RESOLVE_IN_ROOT); sources are the caller's own host paths.
 */
export function sandboxSpec(options: SandboxOptions, root: string, host: SandboxHost): SandboxSpec {
  const home = homeDir(host.env);
  const sockets = socketMounts(options.sockets, host.env, host.uid, host.exists);
  const { mounts, rootLinks, rootPaths } = sandboxMounts(options, host, home, sockets.mounts);
  const ids = (id: number): { containerID: number; hostID: number; size: number }[] => [
    { containerID: id, hostID: id, size: 1 },
  ];
  const spec: Spec = {
    ociVersion: '1.2.0',
    root: { path: root },
    process: {
      user: { uid: host.uid, gid: host.gid },
      args: options.args,
      // HOME names the sandbox's home even with --clearenv (else the helper would take /etc/passwd's).
      env: sandboxEnv(options, host.env, { ...(home === undefined ? {} : { HOME: home }), ...sockets.env }),
      cwd: options.chdir === undefined ? (home ?? '/') : absolute(options.chdir, '--chdir'),
      capabilities: NO_CAPS,
      noNewPrivileges: true,
    },
    mounts,
    linux: {
      namespaces: [
        { type: 'user' },
        { type: 'mount' },
        { type: 'pid' },
        { type: 'ipc' },
        { type: 'uts' },
        ...(options.shareNet ? [] : [{ type: 'network' as const }]),
      ],
      uidMappings: ids(host.uid),
      gidMappings: ids(host.gid),
      maskedPaths: [...MASKED, ...MASKED_MORE],
      readonlyPaths: READONLY,
      seccomp: host.seccomp,
    },
  };
  return { spec, rootLinks, rootPaths };
}

/**
 * The sandbox's mounts in order: the tmpfs root, the system directories (or their links, made in
 * the root), /proc, /dev, /tmp, the home, the flags' binds (their --dir and --symlink paths placed
 * among them), then the sockets and devices.
 */
function sandboxMounts(
  options: SandboxOptions,
  host: SandboxHost,
  home: string | undefined,
  sockets: Mount[],
): Pick<SandboxSpec, 'rootLinks' | 'rootPaths'> & { mounts: Mount[] } {
  const rootLinks: SandboxSpec['rootLinks'] = [];
  const system: Mount[] = [];
  for (const dir of SYSTEM_DIRS) {
    const kind = host.kind(dir);
    if (kind === 'link') rootLinks.push({ target: host.readlink(dir), path: dir });
    else if (kind === 'dir') system.push(bind(dir, dir, ['rbind', 'ro']));
  }
  const mounts: Mount[] = [
    { destination: '/', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=0755'] },
    ...system,
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
    ...homeMount(home, options.home, host),
  ];
  const rootPaths: RootPath[] = [];
  for (const entry of userBinds(options.binds, host))
    if ('kind' in entry) rootPaths.push({ ...entry, at: mounts.length });
    else mounts.push(entry);
  mounts.push(...sockets, ...deviceMounts(options.devices, host.exists));
  // --chmod after every other step (its PATH may be made by any of them); bubblewrap's go in argument order.
  for (const c of options.chmod)
    rootPaths.push({
      kind: 'chmod',
      path: absolute(c.path, `--chmod ${c.mode.toString(8).padStart(4, '0')}`),
      mode: c.mode,
      at: mounts.length,
    });
  return { mounts, rootLinks, rootPaths };
}

/** $HOME when it names a directory of its own (not / nor a system directory). */
function homeDir(env: NodeJS.ProcessEnv): string | undefined {
  const home = env.HOME;
  if (home === undefined || !posix.isAbsolute(home)) return undefined;
  const clean = posix.resolve(home);
  return clean === '/' || SYSTEM_DIRS.some((d) => clean === d || clean.startsWith(`${d}/`)) ? undefined : clean;
}

function homeMount(home: string | undefined, dir: string | undefined, host: SandboxHost): Mount[] {
  if (dir !== undefined) {
    if (home === undefined)
      throw new UsageError(
        'SANDBOX_NO_HOME',
        'cannot bind --home into the sandbox: $HOME is not set to a directory of its own',
        {
          hint: 'set HOME, or bind the directory with --bind DIR DEST instead',
        },
      );
    return userBinds([{ kind: 'bind', source: dir, destination: home, optional: false }], host) as Mount[];
  }
  if (home === undefined) return [];
  return [{ destination: home, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=0700'] }];
}

/** A --dir, --symlink, --file or --bind-data among the mounts; its place (`at`) is set once the mounts are in order. */
type PathEntry = RootPath extends infer R ? (R extends RootPath ? Omit<R, 'at'> : never) : never;

const DEFAULT_MODE = { file: 0o666, 'bind-data': 0o600, 'ro-bind-data': 0o600 } as const;

/** --file or --bind-data: the caller's fd read now (within what `budget.left` allows), its path made absolute. */
function dataEntry(b: SandboxData, host: SandboxHost, budget: { left: number }): PathEntry {
  const path = absolute(b.destination, `--${b.kind} ${b.fd}`);
  const data = host.readFd(b.fd, `--${b.kind} ${b.fd} ${path}`, budget.left);
  budget.left -= data.length;
  const bind = b.kind === 'file' ? {} : { bind: b.kind === 'ro-bind-data' ? ('ro' as const) : ('rw' as const) };
  return { kind: 'file', path, mode: b.mode ?? DEFAULT_MODE[b.kind], data, ...bind };
}

/** A tmpfs mount option's mode: four octal digits (mode=0755), as the C front writes it too. */
function modeOption(mode: number): string {
  return `mode=${mode.toString(8).padStart(4, '0')}`;
}

/**
 * The binds, tmpfs mounts, directories and symlinks of the flags, parents before children (by the
 * depth of the destination, stable: at one depth in command-line order), so that a bind inside
 * another lands on it whatever the order on the command line, and a --dir or --symlink under a
 * --tmpfs or a bind is made in it.
 */
function userBinds(binds: SandboxFsFlag[], host: SandboxHost): (Mount | PathEntry)[] {
  const mounts: { depth: number; mount: Mount | PathEntry }[] = [];
  const depth = (path: string): number => path.split('/').filter(Boolean).length;
  const budget = { left: SANDBOX_DATA_MAX };
  for (const b of binds) {
    if ('fd' in b) {
      const entry = dataEntry(b, host, budget);
      mounts.push({ depth: depth(entry.path), mount: entry });
      continue;
    }
    if (b.kind === 'dir' || b.kind === 'symlink') {
      const path = absolute(b.destination, b.kind === 'dir' ? '--dir' : `--symlink ${b.target}`);
      const entry: PathEntry =
        b.kind === 'dir' ? { kind: 'dir', path, mode: b.mode ?? 0o755 } : { kind: 'symlink', target: b.target, path };
      mounts.push({ depth: depth(path), mount: entry });
      continue;
    }
    if (b.kind === 'tmpfs') {
      for (const entry of tmpfsEntries(b))
        mounts.push({ depth: depth('kind' in entry ? entry.path : entry.destination), mount: entry });
      continue;
    }
    const source = posix.resolve(host.cwd, b.source);
    const destination = absolute(b.destination, `--${b.kind} ${b.source}`);
    if (!host.exists(source)) {
      if (b.optional) continue;
      throw new UsageError('BIND_SOURCE_MISSING', `cannot bind ${source} at ${destination}: ${source} does not exist`, {
        hint: `create it first, fix the path, or use --${b.kind}-try to skip a missing source`,
      });
    }
    const options = b.kind === 'ro-bind' ? ['rbind', 'ro'] : ['rbind'];
    mounts.push({ depth: depth(destination), mount: bind(source, destination, options) });
  }
  return mounts.sort((a, b) => a.depth - b.depth).map((m) => m.mount);
}

/**
 * --tmpfs DST: its mount (mode 0755 or --perms, size= with --size); with --perms, its mount point
 * made first as --dir makes it, so that the parents made for it are narrowed as bubblewrap's.
 */
function tmpfsEntries(b: SandboxTmpfs): (Mount | PathEntry)[] {
  const destination = absolute(b.destination, '--tmpfs');
  const size = b.size === undefined ? [] : [`size=${b.size}`];
  const options = ['nosuid', 'nodev', modeOption(b.mode ?? 0o755), ...size];
  const mount: Mount = { destination, type: 'tmpfs', source: 'tmpfs', options };
  return b.mode === undefined ? [mount] : [{ kind: 'dir', path: destination, mode: b.mode }, mount];
}

function bind(source: string, destination: string, options: string[]): Mount {
  return { destination, type: 'bind', source, options };
}

function absolute(path: string, flag: string): string {
  if (!posix.isAbsolute(path))
    throw new UsageError(
      'SANDBOX_PATH_RELATIVE',
      `cannot use ${flag} ${path}: a path inside the sandbox must be absolute`,
      {
        hint: 'give it from the sandbox root, e.g. /work',
      },
    );
  return posix.resolve(path);
}
