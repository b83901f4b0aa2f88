import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { join } from 'node:path';
import { readTextIfPresent } from '../sys/text.js';

/**
 * What the host's cgroups look like, read from /proc and /sys under `root` ('/' on a real host;
 * a directory of files in unit tests). No D-Bus here: see systemd.ts for the manager itself.
 */
export type CgroupLayout = 'unified' | 'hybrid' | 'legacy' | 'none';

export interface CgroupHost {
  layout: CgroupLayout;
  /** Where cgroup2 is mounted (host path, without `root`), when it is. */
  v2Mount: string | undefined;
  /** Controllers the cgroup2 root offers (empty on hybrid hosts: they are bound to v1). */
  v2Controllers: string[];
  /** Controllers mounted as cgroup v1 hierarchies. */
  v1Controllers: string[];
  /** This process's cgroup v2 path, relative to v2Mount ("/user.slice/…"). */
  ownCgroup: string | undefined;
}

/** The controllers hutch uses, in the order it enables them. */
export const KNOWN_CONTROLLERS = ['cpu', 'cpuset', 'io', 'memory', 'pids', 'hugetlb'];

const V1_CONTROLLERS = [
  'cpu',
  'cpuacct',
  'cpuset',
  'memory',
  'devices',
  'freezer',
  'net_cls',
  'blkio',
  'perf_event',
  'net_prio',
  'hugetlb',
  'pids',
  'rdma',
  'misc',
];

/** Reads the mount table and /proc/<pid>/cgroup under `root`. */
export function detectHost(root = '/', pid: number | 'self' = 'self'): CgroupHost {
  const mounts = (readTextIfPresent(join(root, 'proc', String(pid), 'mounts')) ?? '')
    .split('\n')
    .map((l) => l.split(' '));
  let v1 = new Set<string>();
  let v2Mount: string | undefined;
  for (const [, target, type, options] of mounts) {
    if (target === undefined) continue;
    const at = unescapeMount(target);
    if (type === 'cgroup2' && (v2Mount === undefined || at === '/sys/fs/cgroup')) v2Mount = at;
    // cgroup2 mounted over /sys/fs/cgroup later (as in a private mount namespace) hides the v1 mounts beneath it.
    if (type === 'cgroup2' && at === '/sys/fs/cgroup') v1 = new Set();
    if (type === 'cgroup') for (const o of options?.split(',') ?? []) if (V1_CONTROLLERS.includes(o)) v1.add(o);
  }
  const v2Controllers =
    v2Mount === undefined ? [] : words(readTextIfPresent(join(root, v2Mount, 'cgroup.controllers')));
  const ownCgroup = parseProcCgroup(readTextIfPresent(join(root, 'proc', String(pid), 'cgroup')) ?? '');
  const layout: CgroupLayout =
    v2Mount === undefined ? (v1.size > 0 ? 'legacy' : 'none') : v1.size > 0 ? 'hybrid' : 'unified';
  return { layout, v2Mount, v2Controllers, v1Controllers: [...v1].sort(), ownCgroup };
}

/** The cgroup v2 path ("0::/path") in the text of /proc/<pid>/cgroup. */
export function parseProcCgroup(text: string): string | undefined {
  for (const line of text.split('\n')) if (line.startsWith('0::')) return line.slice(3).replace(/ \(deleted\)$/, '');
  return undefined;
}

/** The controllers listed in a cgroup's cgroup.controllers (empty when it cannot be read). */
export function controllersOf(root: string, v2Mount: string, cgroup: string): string[] {
  return words(readTextIfPresent(join(root, v2Mount, cgroup, 'cgroup.controllers')));
}

/** Where the user's systemd manager listens, from the environment and the runtime dir. */
export interface UserManagerSockets {
  runtimeDir: string | undefined;
  /** The user's bus as a D-Bus address ($DBUS_SESSION_BUS_ADDRESS, or unix:path=RUNTIME/bus), when it exists. */
  bus: string | undefined;
  /** systemd --user's own socket, usable without a bus daemon. */
  privateSocket: string | undefined;
}

/** Finds the sockets; without XDG_RUNTIME_DIR (su, sudo -u, cron) it tries /run/user/UID, as podman does. */
export function userManagerSockets(
  env: NodeJS.ProcessEnv = process.env,
  root = '/',
  uid = process.getuid?.() ?? 0,
): UserManagerSockets {
  const fallback = `/run/user/${uid}`;
  const runtimeDir = env.XDG_RUNTIME_DIR || (existsSync(join(root, fallback)) ? fallback : undefined);
  const address = env.DBUS_SESSION_BUS_ADDRESS;
  const fromEnv = address?.match(/^unix:path=([^,;]+)/)?.[1];
  const busPath = fromEnv ?? (runtimeDir ? join(runtimeDir, 'bus') : undefined);
  const privatePath = runtimeDir ? join(runtimeDir, 'systemd', 'private') : undefined;
  let bus: string | undefined;
  if (busPath !== undefined && existsSync(join(root, busPath))) bus = `unix:path=${busPath}`;
  else if (address?.startsWith('unix:abstract=')) bus = address;
  return {
    runtimeDir,
    bus,
    privateSocket: privatePath !== undefined && existsSync(join(root, privatePath)) ? privatePath : undefined,
  };
}

/** The conventional cgroup of user@UID.service, where systemd delegates the user's controllers. */
export function userManagerCgroup(uid: number): string {
  return `/user.slice/user-${uid}.slice/user@${uid}.service`;
}

/**
 * The cgroup this process may manage itself (a subtree already delegated to the user, as in a
 * Slurm job with delegation, or a container given its own cgroup): its own cgroup when this
 * user can write its cgroup.procs and cgroup.subtree_control. Undefined otherwise.
 */
export function writableSubtree(root: string, host: CgroupHost, cgroup = host.ownCgroup): string | undefined {
  if (host.v2Mount === undefined || cgroup === undefined || cgroup === '/') return undefined;
  const dir = join(root, host.v2Mount, cgroup);
  try {
    for (const f of ['', 'cgroup.procs', 'cgroup.subtree_control']) accessSync(join(dir, f), constants.W_OK);
    return cgroup;
  } catch {
    return undefined;
  }
}

/** A block device's major:minor (for --device-read-bps and friends); UsageError when it is not one. */
export function blockDevice(path: string): { major: number; minor: number } {
  let st;
  try {
    st = statSync(path);
  } catch (error) {
    throw new UsageError(
      'BAD_RESOURCE_FLAG',
      `cannot limit i/o of ${path}: ${(error as NodeJS.ErrnoException).code ?? 'stat failed'}`,
      { hint: 'name a block device, e.g. /dev/sda' },
    );
  }
  if (!st.isBlockDevice())
    throw new UsageError('BAD_RESOURCE_FLAG', `cannot limit i/o of ${path}: not a block device`, {
      hint: 'name a block device, e.g. /dev/sda',
    });
  // glibc's gnu_dev_major/minor, for device numbers below 2^32 (all a JS number holds exactly here)
  const dev = st.rdev;
  return { major: Math.floor(dev / 256) & 0xfff, minor: (dev & 0xff) | (Math.floor(dev / 4096) & 0xfff00) };
}

function words(text: string | undefined): string[] {
  return (text ?? '').split(/\s+/).filter((x) => x !== '');
}

// /proc/mounts escapes space, tab, newline and backslash as octal.
function unescapeMount(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}
