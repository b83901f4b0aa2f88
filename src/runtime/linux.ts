/** Linux constants the plan speaks in (x86_64 and aarch64 agree on all of these). Pure. */
import { UsageError } from '../errors.js';

export const CLONE = {
  NEWNS: 0x00020000,
  NEWCGROUP: 0x02000000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
} as const;

export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  MANDLOCK: 0x40,
  DIRSYNC: 0x80,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  REC: 0x4000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  STRICTATIME: 0x1000000,
} as const;

export const RLIMITS: Record<string, number> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};

/** Capability names in bit order (capability.h). */
export const CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
] as const;

/** The capabilities docker and podman give a container by default. */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/**
 * containers-common's containers.conf default_capabilities (podman 4 and later install it in
 * /usr/share/containers): docker's set without MKNOD, NET_RAW and AUDIT_WRITE.
 */
export const CONTAINERS_COMMON_CAPABILITIES = DEFAULT_CAPABILITIES.filter(
  (c) => c !== 'CAP_MKNOD' && c !== 'CAP_NET_RAW' && c !== 'CAP_AUDIT_WRITE',
);

/** The default capability sets of a plain run, whose seccomp filters the build compiles. */
export const PLAIN_RUN_CAPABILITY_SETS: readonly (readonly string[])[] = [
  DEFAULT_CAPABILITIES,
  CONTAINERS_COMMON_CAPABILITIES,
];

/** Normalizes "net_admin", "NET_ADMIN" or "CAP_NET_ADMIN" to "CAP_NET_ADMIN"; throws on unknown names. */
export function capabilityName(name: string): string {
  const upper = name.toUpperCase();
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!(CAPABILITIES as readonly string[]).includes(full)) {
    throw new UsageError('CAPABILITY_UNKNOWN', `unknown capability ${name}`, {
      hint: 'use a name from capabilities(7), e.g. NET_ADMIN',
    });
  }
  return full;
}

export function capabilityMask(names: string[]): bigint {
  let mask = 0n;
  for (const name of names)
    mask |= 1n << BigInt(CAPABILITIES.indexOf(capabilityName(name) as (typeof CAPABILITIES)[number]));
  return mask;
}

const FLAG_OPTIONS: Record<string, { set?: number; clear?: number }> = {
  ro: { set: MS.RDONLY },
  rw: { clear: MS.RDONLY },
  nosuid: { set: MS.NOSUID },
  suid: { clear: MS.NOSUID },
  nodev: { set: MS.NODEV },
  dev: { clear: MS.NODEV },
  noexec: { set: MS.NOEXEC },
  exec: { clear: MS.NOEXEC },
  sync: { set: MS.SYNCHRONOUS },
  dirsync: { set: MS.DIRSYNC },
  noatime: { set: MS.NOATIME },
  nodiratime: { set: MS.NODIRATIME },
  relatime: { set: MS.RELATIME },
  strictatime: { set: MS.STRICTATIME },
  bind: { set: MS.BIND },
  rbind: { set: MS.BIND | MS.REC },
  private: {},
  rprivate: {},
  slave: {},
  rslave: {},
  shared: {},
  rshared: {},
  unbindable: {},
  runbindable: {},
};

/** Splits OCI mount options into mount(2) flags and the data string, as runc does. */
export function mountOptions(
  options: string[],
  type?: string,
): { flags: number; data: string; bind: boolean; readonly: boolean } {
  let flags = 0;
  const data: string[] = [];
  for (const option of options) {
    const known = FLAG_OPTIONS[option];
    if (known === undefined) data.push(option);
    else flags = (flags | (known.set ?? 0)) & ~(known.clear ?? 0);
  }
  if (type === 'bind') flags |= MS.BIND;
  return { flags, data: data.join(','), bind: (flags & MS.BIND) !== 0, readonly: (flags & MS.RDONLY) !== 0 };
}
