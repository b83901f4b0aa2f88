import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { CAPABILITIES, capabilityName, DEFAULT_CAPABILITIES, RLIMITS } from '../../runtime/linux.js';
import type { IdMapping, Mount, Namespace, Spec } from '../../runtime/spec.js';
import { maskedPaths, parseSecurityOpts, seccompFor } from '../../security/options.js';
import { requireMapped, toHost } from '../../userns/idmap.js';
import type { SubidRange } from '../../userns/subid.js';
import { resolveUser, resolveUserIn } from './users.js';

/** `hutch run`'s flags, parsed but not yet interpreted (src/cli/commands/run.ts fills it). */
export interface RunRequest {
  rootfs: string;
  command: string[];
  env: string[];
  envFiles: string[];
  workdir?: string;
  user?: string;
  volumes: string[];
  readOnly: boolean;
  tmpfs: string[];
  hostname?: string;
  network: 'none' | 'host';
  capAdd: string[];
  capDrop: string[];
  tty: boolean;
  ulimits: string[];
  /** --security-opt values (src/security/options.ts). */
  securityOpts?: string[];
  /** --privileged, in podman's rootless sense: every capability (of the user namespace), no seccomp, nothing masked. */
  privileged?: boolean;
}

/** What the spec is built against: the id maps chosen for this user and where generated files live. */
export interface SpecContext {
  id: string;
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
  /** The user's ranges, to say what is missing when a user is not mapped. */
  subuid: SubidRange[];
  subgid: SubidRange[];
  /** Whether the gid map went through newgidmap; written directly, setgroups is denied. */
  setgroupsAllowed: boolean;
  /** --userns=keep-id: run as the host user's own ids by default. */
  keepId?: { uid: number; gid: number };
  /**
   * The container's /etc/passwd and /etc/group text, to resolve -u; default: read from the rootfs
   * (an image's rootfs is mounted where hutch cannot see it: the image code passes them).
   */
  userDb?: { passwd: string; group: string };
  /** Generated /etc/hosts, /etc/hostname and /etc/resolv.conf on the host, bound in. */
  etcFiles: { hosts: string; hostname: string; resolvConf: string };
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const MASKED_PATHS = ['/proc/acpi', '/proc/asound', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap'];
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

/** Builds the OCI spec of a `hutch run`, with docker's defaults (mounts, devices, caps, masks). */
export function buildRunSpec(req: RunRequest, ctx: SpecContext): Spec {
  const rootfs = resolve(req.rootfs);
  const user = ctx.keepId && req.user === undefined ? { uid: ctx.keepId.uid, gid: ctx.keepId.gid, additionalGids: [] as number[], home: undefined }
    : ctx.userDb ? resolveUser(req.user ?? '0', ctx.userDb.passwd, ctx.userDb.group) : resolveUserIn(rootfs, req.user ?? '0');
  requireMapped('uid', ctx.uidMappings, user.uid, ctx.subuid);
  requireMapped('gid', ctx.gidMappings, user.gid, ctx.subgid);
  const hostname = req.hostname ?? ctx.id.slice(0, 12);
  // It is also a line of /etc/hostname and /etc/hosts; sethostname takes at most 64 bytes.
  if (!/^[^\s\0]{1,64}$/.test(hostname)) throw new UsageError('HOSTNAME_INVALID', `invalid --hostname ${JSON.stringify(hostname)}: a hostname is 1-64 characters without spaces or line breaks`, { hint: 'e.g. --hostname web1' });
  const caps = capabilities(req.privileged ? ['ALL'] : req.capAdd, req.capDrop);
  const security = parseSecurityOpts([...(req.privileged ? ['seccomp=unconfined', 'unmask=ALL'] : []), ...(req.securityOpts ?? [])]);
  const namespaces: Namespace[] = [{ type: 'user' }, { type: 'mount' }, { type: 'pid' }, { type: 'uts' }, { type: 'ipc' }, { type: 'cgroup' }];
  if (req.network === 'none') namespaces.push({ type: 'network' });
  return {
    ociVersion: '1.2.0',
    process: {
      terminal: req.tty,
      user: { uid: user.uid, gid: user.gid, additionalGids: ctx.setgroupsAllowed ? user.additionalGids.filter((g) => toHost(ctx.gidMappings, g) !== undefined) : undefined },
      args: req.command,
      env: environment(req, hostname, user.home),
      cwd: req.workdir ?? '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] },
      rlimits: req.ulimits.map(parseUlimit),
      noNewPrivileges: security.noNewPrivileges ?? false, // off by default, as in podman (setuid programs work)
    },
    root: { path: rootfs, readonly: req.readOnly },
    hostname,
    mounts: [...systemMounts(), ...etcMounts(ctx.etcFiles), ...req.tmpfs.map(tmpfsMount), ...req.volumes.map(volumeMount)],
    linux: {
      namespaces,
      uidMappings: ctx.uidMappings,
      gidMappings: ctx.gidMappings,
      devices: DEVICES.map((d) => ({ path: `/dev/${d}`, type: 'c' as const })),
      maskedPaths: maskedPaths(MASKED_PATHS, security),
      readonlyPaths: READONLY_PATHS.filter((p) => !security.unmask.includes('ALL') && !security.unmask.includes(p)),
      seccomp: seccompFor(security, caps),
    },
  };
}

/**
 * The spec for launching from inside an existing user namespace (the monitor's, see
 * launch/userns-program.ts): the same container, joining the caller's user namespace instead of creating one.
 */
export function withoutUserNamespace(spec: Spec): Spec {
  const linux = { ...spec.linux, namespaces: (spec.linux?.namespaces ?? []).filter((n) => n.type !== 'user') };
  delete linux.uidMappings;
  delete linux.gidMappings;
  return { ...spec, linux };
}

function systemMounts(): Mount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  ];
}

function etcMounts(files: SpecContext['etcFiles']): Mount[] {
  return [
    { destination: '/etc/hosts', type: 'bind', source: files.hosts, options: ['bind', 'nosuid', 'nodev'] },
    { destination: '/etc/hostname', type: 'bind', source: files.hostname, options: ['bind', 'nosuid', 'nodev'] },
    { destination: '/etc/resolv.conf', type: 'bind', source: files.resolvConf, options: ['bind', 'nosuid', 'nodev'] },
  ];
}

function tmpfsMount(value: string): Mount {
  const [destination = '', opts] = value.split(':');
  if (!isAbsolute(destination)) throw new UsageError('TMPFS_INVALID', `invalid --tmpfs ${value}: the destination must be an absolute path`, { hint: 'e.g. --tmpfs /run' });
  return { destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', ...(opts ? opts.split(',') : ['mode=1777'])] };
}

/** -v SRC:DST[:ro|rw]: a bind mount; the source must be an absolute path that exists. */
function volumeMount(value: string): Mount {
  const [source = '', destination = '', mode = 'rw', ...rest] = value.split(':');
  if (!isAbsolute(source) || !isAbsolute(destination) || rest.length > 0 || !['ro', 'rw'].includes(mode)) {
    throw new UsageError('VOLUME_INVALID', `invalid -v ${value}: expected SRC:DST[:ro|rw] with absolute paths`, { hint: 'e.g. -v /home/me/data:/data:ro' });
  }
  try {
    statSync(source);
  } catch (error) {
    throw new UsageError('BIND_SOURCE_MISSING', `cannot bind ${source} at ${destination}: ${source} does not exist`, { hint: 'create the source directory first, or fix the path', cause: error });
  }
  return { destination, type: 'bind', source, options: ['rbind', 'nosuid', 'nodev', mode] };
}

/** docker's default set, then --cap-add, then --cap-drop; ALL stands for every capability. */
function capabilities(add: string[], drop: string[]): string[] {
  return adjustCapabilities(DEFAULT_CAPABILITIES, add, drop);
}

/** `base`, then --cap-add, then --cap-drop (run, and exec on the container's set). */
export function adjustCapabilities(base: readonly string[], add: string[], drop: string[]): string[] {
  const isAll = (c: string): boolean => c.toUpperCase() === 'ALL';
  let caps = add.some(isAll) ? [...CAPABILITIES] as string[] : [...base];
  for (const c of add.filter((c) => !isAll(c)).map(capabilityName)) if (!caps.includes(c)) caps.push(c);
  if (drop.some(isAll)) return add.filter((c) => !isAll(c)).map(capabilityName);
  const dropped = drop.map(capabilityName);
  return caps.filter((c) => !dropped.includes(c));
}

function environment(req: RunRequest, hostname: string, home: string | undefined): string[] {
  const env = new Map<string, string>([['PATH', DEFAULT_PATH], ['HOSTNAME', hostname], ['HOME', home || '/root']]);
  if (req.tty) env.set('TERM', 'xterm');
  const add = (entry: string): void => {
    const eq = entry.indexOf('=');
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
    else if (eq < 0 && process.env[entry] !== undefined) env.set(entry, process.env[entry]!);
  };
  for (const file of req.envFiles) readEnvFile(file).forEach(add);
  req.env.forEach(add);
  return [...env].map(([k, v]) => `${k}=${v}`);
}

function readEnvFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError('ENV_FILE_UNREADABLE', `cannot read --env-file ${file}: ${(error as NodeJS.ErrnoException).code}`, { hint: 'give a readable file of KEY=VALUE lines', cause: error });
  }
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

function parseUlimit(value: string): { type: string; soft: number; hard: number } {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(value);
  const type = m ? `RLIMIT_${m[1]!.toUpperCase()}` : '';
  if (!m || RLIMITS[type] === undefined) throw new UsageError('ULIMIT_INVALID', `invalid --ulimit ${value}`, { hint: 'e.g. --ulimit nofile=1024:2048' });
  // -1 is unlimited; the plan turns anything >= 2^63 into RLIM_INFINITY.
  const soft = Number(m[2]) < 0 ? 2 ** 64 : Number(m[2]);
  const hard = m[3] === undefined ? soft : Number(m[3]) < 0 ? 2 ** 64 : Number(m[3]);
  return { type, soft, hard };
}

