import type { Mount, Spec } from '../../runtime/spec.js';
import { DEFAULT_PATH, MASKED_PATHS, READONLY_PATHS, systemMounts } from '../spec/index.js';

/** The config.json `runc spec --rootless` writes: the user alone mapped to root, a shell on a terminal. */
export function rootlessSpec(uid: number, gid: number): Spec {
  const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
  return {
    ociVersion: '1.2.0',
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: [`PATH=${DEFAULT_PATH}`, 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'hutch',
    mounts: rootlessMounts(),
    linux: {
      uidMappings: [{ containerID: 0, hostID: uid, size: 1 }],
      gidMappings: [{ containerID: 0, hostID: gid, size: 1 }],
      namespaces: [
        { type: 'pid' },
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'mount' },
        { type: 'cgroup' },
        { type: 'user' },
      ],
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
    },
  };
}

/**
 * The user face's system mounts as runc's `spec --rootless` writes them: /sys bound from the host
 * (sysfs needs a network namespace of the container's own, which the spec does not promise) and
 * devpts without gid=5 (only the user is mapped).
 */
function rootlessMounts(): Mount[] {
  const sys: Mount = {
    destination: '/sys',
    type: 'none',
    source: '/sys',
    options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'],
  };
  return systemMounts().map((m) =>
    m.destination === '/sys'
      ? sys
      : m.destination === '/dev/pts'
        ? { ...m, options: m.options?.filter((o) => o !== 'gid=5') }
        : m,
  );
}
