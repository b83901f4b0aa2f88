import { statSync } from 'node:fs';
import { hostname as hostHostname } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { parseSize } from '../../cgroups/flags.js';
import { UsageError } from '../../errors.js';
import { CAPABILITIES, capabilityName, DEFAULT_CAPABILITIES, RLIMITS } from '../../runtime/linux.js';
import type { Hooks, IdMapping, Mount, Rlimit, Seccomp } from '../../runtime/spec.js';
import { parseSecurityOpts, seccompFor } from '../../security/options.js';
import { requireMapped } from '../../userns/idmap.js';
import type { SubidRange } from '../../userns/subid.js';
import { deviceEdits, type DeviceFlags } from './device-request.js';
import { readEnvFile } from './env-file.js';
import { resolveUser, resolveUserIn, type ContainerUser } from './users.js';

/** `hutch run`'s flags, parsed but not yet interpreted (src/cli/commands/run.ts fills it). */
export interface RunRequest extends DeviceFlags {
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
  /** --pid, --ipc, --uts: 'host' shares the host's namespace; anything else (default) is the container's own. */
  pid?: string;
  ipc?: string;
  uts?: string;
  /** --shm-size: the size of /dev/shm (podman's units; default 64m). */
  shmSize?: string;
  capAdd: string[];
  capDrop: string[];
  tty: boolean;
  ulimits: string[];
  /** --security-opt values (src/security/options.ts). */
  securityOpts?: string[];
  /** --privileged, in podman's rootless sense: every capability (of the user namespace), no seccomp, nothing masked. */
  privileged?: boolean;
  /** containers.conf's env: under the image's Env and the flags. */
  defaultEnv?: string[];
  /** containers.conf's seccomp_profile (a file, or unconfined): the profile when --security-opt seccomp= is not given. */
  defaultSeccomp?: string;
  /** containers.conf's default_capabilities: replaces docker's default set when given. */
  defaultCapabilities?: string[];
}

/** What the blueprint is made against: the id maps chosen for this user and where generated files live. */
export interface SpecContext {
  id: string;
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
  /** The user's ranges, to say what is missing when a user is not mapped. */
  subuid: SubidRange[];
  subgid: SubidRange[];
  /** Whether the gid map went through newgidmap; written directly, setgroups is denied. */
  setgroupsAllowed: boolean;
  /** --userns=keep-id: run as the host user's own ids (and with their home) by default. */
  keepId?: { uid: number; gid: number; name?: string; home?: string };
  /**
   * The container's /etc/passwd and /etc/group text, to resolve -u; default: read from the rootfs
   * (an image's rootfs is mounted where hutch cannot see it: the image code passes them).
   */
  userDb?: { passwd: string; group: string };
  /**
   * Generated /etc/hosts, /etc/hostname and /etc/resolv.conf on the host, bound in; with
   * --userns keep-id also /etc/passwd and /etc/group holding the user.
   */
  etcFiles: { hosts: string; hostname: string; resolvConf: string; passwd?: string; group?: string };
}

/**
 * A container of the user face as decided once, before anything runs: every flag interpreted,
 * every file the flags name read (env files, the user database), every value parsed. Plain data
 * (kept in the record, so each launch of a recorded container makes the same spec from it); the
 * OCI spec is a pure function of it (specFromBlueprint), the helper's plan a pure function of that.
 */
export interface Blueprint {
  id: string;
  hostname: string;
  /** Absolute. */
  rootfs: string;
  readOnly: boolean;
  tty: boolean;
  args: string[];
  /** KEY=VALUE from --env-file then -e, in order (a bare -e NAME already looked up). */
  env: string[];
  cwd: string;
  user: ContainerUser;
  capabilities: string[];
  rlimits: Rlimit[];
  /** --tmpfs then -v, as mounts. */
  mounts: Mount[];
  network: 'none' | 'host';
  /** The host's namespaces the container shares (--pid/--ipc/--uts host); absent: none. */
  hostNamespaces?: SharableNamespace[];
  /** /dev/shm's size in bytes; absent: 64 MiB. Unused with the host's IPC namespace (its /dev/shm is bound). */
  shmSize?: number;
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
  setgroupsAllowed: boolean;
  etcFiles: SpecContext['etcFiles'];
  /** --security-opt and --privileged, resolved: the seccomp profile for these capabilities (a file already read). */
  security?: BlueprintSecurity;
  /** The OCI hooks of the CDI devices (setup/oci-hooks.ts runs them); absent: none. */
  hooks?: Hooks;
}

export interface BlueprintSecurity {
  /** linux.seccomp; undefined: unconfined. */
  seccomp?: Seccomp;
  noNewPrivileges: boolean;
  mask: string[];
  unmask: string[];
}

/** The namespaces a container may share with the host instead of making its own (besides network). */
export type SharableNamespace = 'pid' | 'ipc' | 'uts';

/** Interprets the request (a flag that cannot mean anything fails here), then runs the checks. */
export function blueprintFromRequest(req: RunRequest, ctx: SpecContext): Blueprint {
  const rootfs = resolve(req.rootfs);
  const devices = deviceEdits(req);
  const blueprint: Blueprint = {
    id: ctx.id,
    hostname: containerHostname(req, ctx.id),
    rootfs,
    readOnly: req.readOnly,
    tty: req.tty,
    args: req.command,
    env: [...(req.defaultEnv ?? []), ...devices.env, ...req.envFiles.flatMap(readEnvFile), ...req.env].flatMap(
      lookUpEnv,
    ),
    cwd: req.workdir ?? '/',
    user: containerUser(req, ctx, rootfs),
    capabilities: adjustCapabilities(
      req.defaultCapabilities?.map(capabilityName) ?? DEFAULT_CAPABILITIES,
      req.privileged ? ['ALL'] : req.capAdd,
      req.capDrop,
    ),
    rlimits: req.ulimits.map(parseUlimit),
    mounts: [...req.tmpfs.map(tmpfsMount), ...req.volumes.map(volumeMount), ...devices.mounts],
    network: req.network,
    ...sharing(req),
    uidMappings: ctx.uidMappings,
    gidMappings: ctx.gidMappings,
    setgroupsAllowed: ctx.setgroupsAllowed,
    etcFiles: ctx.etcFiles,
    ...(devices.hooks === undefined ? {} : { hooks: devices.hooks }),
  };
  blueprint.security = blueprintSecurity(req, blueprint.capabilities);
  checkBlueprint(blueprint, ctx);
  return blueprint;
}

/**
 * The container's hostname: --hostname, else the id's first 12 characters; the host's own with
 * --uts host (where the container cannot set one).
 */
export function containerHostname(req: Pick<RunRequest, 'hostname' | 'uts'>, id: string): string {
  if (namespaceFlag('--uts', req.uts) !== 'host') return req.hostname ?? id.slice(0, 12);
  if (req.hostname !== undefined)
    throw new UsageError(
      'HOSTNAME_WITH_HOST_UTS',
      'cannot set --hostname with --uts host: the host names the container',
      {
        hint: 'drop --hostname, or --uts host',
      },
    );
  return hostHostname();
}

/** --pid/--ipc/--uts host and --shm-size, checked against each other. */
function sharing(req: RunRequest): Pick<Blueprint, 'hostNamespaces' | 'shmSize'> {
  const shared = (['pid', 'ipc', 'uts'] as const).filter((ns) => namespaceFlag(`--${ns}`, req[ns]) === 'host');
  if (req.shmSize !== undefined && shared.includes('ipc'))
    throw new UsageError('SHM_SIZE_WITH_HOST_IPC', "cannot set --shm-size with --ipc host: /dev/shm is the host's", {
      hint: 'drop --shm-size, or --ipc host',
    });
  const shmSize = req.shmSize === undefined ? undefined : parseSize('--shm-size', req.shmSize);
  if (shmSize === 0)
    throw new UsageError('SHM_SIZE_INVALID', 'invalid --shm-size 0: /dev/shm needs a size', {
      hint: 'e.g. --shm-size 1g',
    });
  return { ...(shared.length > 0 ? { hostNamespaces: shared } : {}), ...(shmSize === undefined ? {} : { shmSize }) };
}

/** podman's values of --pid, --ipc and --uts that hutch has: host, or private (also ''). */
function namespaceFlag(flag: string, value: string | undefined): 'host' | 'private' {
  if (value === undefined || value === '' || value === 'private') return 'private';
  if (value === 'host') return 'host';
  throw new UsageError('NAMESPACE_MODE_INVALID', `invalid ${flag} ${value}: hutch has host and private`, {
    hint: `e.g. ${flag} host to share the host's, or leave it out for the container's own`,
  });
}

/** One check of a whole blueprint against the host (runc's validator): throws what the user must hear. */
type BlueprintCheck = (blueprint: Blueprint, ctx: SpecContext) => void;

const CHECKS: BlueprintCheck[] = [
  (b, ctx) => requireMapped('uid', b.uidMappings, b.user.uid, ctx.subuid),
  (b, ctx) => requireMapped('gid', b.gidMappings, b.user.gid, ctx.subgid),
  (b) => b.mounts.filter((m) => m.type === 'bind').forEach((m) => requireSource(m.source!, m.destination)),
  // It is also a line of /etc/hostname and /etc/hosts; sethostname takes at most 64 bytes.
  (b) => {
    if (!/^[^\s\0]{1,64}$/.test(b.hostname))
      throw new UsageError(
        'HOSTNAME_INVALID',
        `invalid --hostname ${JSON.stringify(b.hostname)}: a hostname is 1-64 characters without spaces or line breaks`,
        { hint: 'e.g. --hostname web1' },
      );
  },
];

/** --privileged turns seccomp and the masks off; no_new_privs stays off unless asked for, as in podman. */
export function blueprintSecurity(
  req: Pick<RunRequest, 'defaultSeccomp' | 'privileged' | 'securityOpts'>,
  caps: string[],
): BlueprintSecurity {
  const options = parseSecurityOpts([
    ...(req.defaultSeccomp === undefined ? [] : [`seccomp=${req.defaultSeccomp}`]),
    ...(req.privileged ? ['seccomp=unconfined', 'unmask=ALL'] : []),
    ...(req.securityOpts ?? []),
  ]);
  return {
    seccomp: seccompFor(options, caps),
    noNewPrivileges: options.noNewPrivileges ?? false,
    mask: options.mask,
    unmask: options.unmask,
  };
}

export function checkBlueprint(blueprint: Blueprint, ctx: SpecContext): void {
  for (const check of CHECKS) check(blueprint, ctx);
}

function containerUser(req: RunRequest, ctx: SpecContext, rootfs: string): ContainerUser {
  if (ctx.keepId && req.user === undefined) {
    const { uid, gid, name, home } = ctx.keepId;
    return { uid, gid, additionalGids: [], name, home };
  }
  return ctx.userDb
    ? resolveUser(req.user ?? '0', ctx.userDb.passwd, ctx.userDb.group)
    : resolveUserIn(rootfs, req.user ?? '0');
}

/** `base` (docker's default set, containers.conf's, or exec's container set), then --cap-add, then --cap-drop; ALL stands for every capability. */
export function adjustCapabilities(base: readonly string[], add: string[], drop: string[]): string[] {
  const isAll = (c: string): boolean => c.toUpperCase() === 'ALL';
  const caps = add.some(isAll) ? ([...CAPABILITIES] as string[]) : [...base];
  for (const c of add.filter((c) => !isAll(c)).map(capabilityName)) if (!caps.includes(c)) caps.push(c);
  if (drop.some(isAll)) return add.filter((c) => !isAll(c)).map(capabilityName);
  const dropped = drop.map(capabilityName);
  return caps.filter((c) => !dropped.includes(c));
}

/** `-e NAME` takes the caller's value (or nothing when unset); `-e =x` means nothing. */
function lookUpEnv(entry: string): string[] {
  const eq = entry.indexOf('=');
  if (eq > 0) return [entry];
  if (eq < 0 && process.env[entry] !== undefined) return [`${entry}=${process.env[entry]}`];
  return [];
}

function parseUlimit(value: string): Rlimit {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(value);
  const type = m ? `RLIMIT_${m[1]!.toUpperCase()}` : '';
  if (!m || RLIMITS[type] === undefined)
    throw new UsageError('ULIMIT_INVALID', `invalid --ulimit ${value}`, { hint: 'e.g. --ulimit nofile=1024:2048' });
  // -1 is unlimited; the plan turns anything >= 2^63 into RLIM_INFINITY.
  const soft = Number(m[2]) < 0 ? 2 ** 64 : Number(m[2]);
  const hard = m[3] === undefined ? soft : Number(m[3]) < 0 ? 2 ** 64 : Number(m[3]);
  return { type, soft, hard };
}

function tmpfsMount(value: string): Mount {
  const [destination = '', opts] = value.split(':');
  if (!isAbsolute(destination))
    throw new UsageError('TMPFS_INVALID', `invalid --tmpfs ${value}: the destination must be an absolute path`, {
      hint: 'e.g. --tmpfs /run',
    });
  return {
    destination,
    type: 'tmpfs',
    source: 'tmpfs',
    options: ['nosuid', 'nodev', ...(opts ? opts.split(',') : ['mode=1777'])],
  };
}

/** -v SRC:DST[:ro|rw]: a bind mount of an absolute source (that it exists is a check). */
function volumeMount(value: string): Mount {
  const [source = '', destination = '', mode = 'rw', ...rest] = value.split(':');
  if (!isAbsolute(source) || !isAbsolute(destination) || rest.length > 0 || !['ro', 'rw'].includes(mode)) {
    throw new UsageError('VOLUME_INVALID', `invalid -v ${value}: expected SRC:DST[:ro|rw] with absolute paths`, {
      hint: 'e.g. -v /home/me/data:/data:ro',
    });
  }
  return { destination, type: 'bind', source, options: ['rbind', 'nosuid', 'nodev', mode] };
}

function requireSource(source: string, destination: string): void {
  try {
    statSync(source);
  } catch (error) {
    throw new UsageError('BIND_SOURCE_MISSING', `cannot bind ${source} at ${destination}: ${source} does not exist`, {
      hint: 'create the source directory first, or fix the path',
      cause: error,
    });
  }
}
