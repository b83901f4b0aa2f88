import type { Mount, Namespace, Spec } from '../../runtime/spec.js';
import { maskedPaths } from '../../security/options.js';
import { toHost } from '../../userns/idmap.js';
import { blueprintFromRequest, type Blueprint, type RunRequest, type SpecContext } from './blueprint.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

/**
 * Where one launch puts the container, decided by the setup at each launch (setup/setup.ts
 * prepareLaunch): the user namespace to live in (the union filesystem daemon's, or that of the
 * container whose network it joins) and the /etc files it shares with that container.
 */
export interface Placement {
  userns?: string;
  /** A network namespace made for it before its launch (setup/network.ts ahead), joined instead of made. */
  netns?: string;
  etcFiles?: { hosts: string; resolvConf: string };
  /** The root when not the blueprint's: a --rootfs tree's writable layer (setup/tree-layer.ts). */
  rootfs?: string;
}

/** `hutch run`'s spec from its request: the blueprint made and checked, then its spec. */
export function buildRunSpec(req: RunRequest, ctx: SpecContext): Spec {
  return specFromBlueprint(blueprintFromRequest(req, ctx));
}

/** The OCI spec of a blueprint, with docker's defaults (mounts, devices, caps, masks). Pure. */
export function specFromBlueprint(b: Blueprint, placement: Placement = {}): Spec {
  const shared = b.hostNamespaces ?? [];
  const namespaces: Namespace[] = [
    { type: 'user', ...(placement.userns === undefined ? {} : { path: placement.userns }) },
    { type: 'mount' },
    ...(['pid', 'uts', 'ipc'] as const).filter((type) => !shared.includes(type)).map((type) => ({ type })),
    { type: 'cgroup' },
  ];
  if (b.network === 'none')
    namespaces.push({ type: 'network', ...(placement.netns === undefined ? {} : { path: placement.netns }) });
  const caps = b.capabilities;
  return {
    ociVersion: '1.2.0',
    process: {
      terminal: b.tty,
      user: {
        uid: b.user.uid,
        gid: b.user.gid,
        additionalGids: b.setgroupsAllowed
          ? b.user.additionalGids.filter((g) => toHost(b.gidMappings, g) !== undefined)
          : undefined,
      },
      args: b.args,
      env: environment(b),
      cwd: b.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] },
      rlimits: b.rlimits,
      noNewPrivileges: b.security?.noNewPrivileges ?? false, // off by default, as in podman (setuid programs work)
    },
    root: { path: placement.rootfs ?? b.rootfs, readonly: b.readOnly },
    hostname: b.hostname,
    mounts: [...systemMounts(b), ...etcMounts({ ...b.etcFiles, ...placement.etcFiles }), ...b.mounts],
    linux: {
      namespaces,
      uidMappings: b.uidMappings,
      gidMappings: b.gidMappings,
      devices: DEVICES.map((d) => ({ path: `/dev/${d}`, type: 'c' as const })),
      maskedPaths: maskedPaths(MASKED_PATHS, { mask: b.security?.mask ?? [], unmask: b.security?.unmask ?? [] }),
      readonlyPaths: READONLY_PATHS.filter(
        (p) => !b.security?.unmask.includes('ALL') && !b.security?.unmask.includes(p),
      ),
      ...(b.security?.seccomp === undefined ? {} : { seccomp: b.security.seccomp }),
    },
    ...(b.hooks === undefined ? {} : { hooks: b.hooks }),
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

/**
 * /proc, /dev, /sys and friends, every container's (and, with no blueprint, the OCI face's
 * `spec --rootless`). With --ipc host, /dev/shm is the host's (MPI ranks in separate
 * containers share memory there, as podman binds it); /proc and /dev/mqueue of the host's
 * namespaces are the plan's business (runtime/plan.ts binds them when no namespace is made).
 */
export function systemMounts(b: Pick<Blueprint, 'hostNamespaces' | 'shmSize'> = {}): Mount[] {
  const hostIpc = b.hostNamespaces?.includes('ipc') === true;
  const shmSize = `size=${Math.ceil((b.shmSize ?? 65536 * 1024) / 1024)}k`;
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    hostIpc
      ? { destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'nosuid', 'nodev'] }
      : {
          destination: '/dev/shm',
          type: 'tmpfs',
          source: 'shm',
          options: ['nosuid', 'noexec', 'nodev', 'mode=1777', shmSize],
        },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  ];
}

function etcMounts(files: SpecContext['etcFiles']): Mount[] {
  const bind = (destination: string, source: string): Mount => ({
    destination,
    type: 'bind',
    source,
    options: ['bind', 'nosuid', 'nodev'],
  });
  return [
    bind('/etc/hosts', files.hosts),
    bind('/etc/hostname', files.hostname),
    bind('/etc/resolv.conf', files.resolvConf),
    ...(files.passwd === undefined ? [] : [bind('/etc/passwd', files.passwd)]),
    ...(files.group === undefined ? [] : [bind('/etc/group', files.group)]),
  ];
}

function environment(b: Blueprint): string[] {
  const env = new Map<string, string>([
    ['PATH', DEFAULT_PATH],
    ['HOSTNAME', b.hostname],
    ['HOME', b.user.home || '/root'],
  ]);
  if (b.tty) env.set('TERM', 'xterm');
  for (const entry of b.env) env.set(entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1));
  return [...env].map(([k, v]) => `${k}=${v}`);
}
