import type { Namespace, NamespaceType, Process, Spec } from '../../runtime/spec.js';

/** Where each namespace type lives under /proc/PID/ns. */
const NS_FILE: Record<NamespaceType, string> = {
  user: 'user',
  mount: 'mnt',
  pid: 'pid',
  uts: 'uts',
  ipc: 'ipc',
  network: 'net',
  cgroup: 'cgroup',
  time: 'time',
};

/**
 * A process spec that joins every namespace of the container process `pid` by path, and is
 * confined as the container's own process: same capabilities, rlimits, no_new_privs, umask.
 * Pure, given the container's spec; the helper does the joining (never Node: setns into a user
 * namespace needs a single-threaded process).
 */
export function execSpec(base: Spec, pid: number, process: Process): Spec {
  const namespaces: Namespace[] = (base.linux?.namespaces ?? [])
    .filter((ns) => ns.type !== 'time')
    .map((ns) => ({ type: ns.type, path: ns.path ?? `/proc/${pid}/ns/${NS_FILE[ns.type]}` }));
  return { ociVersion: base.ociVersion, process, linux: { namespaces, seccomp: base.linux?.seccomp } };
}

/**
 * A process spec that joins a container that is created but not started (startContainer hooks):
 * its cgroup namespace is made only once it starts (native/nsexec.c, after GO), so it is not joined.
 */
export function joinCreatedSpec(spec: Spec, pid: number, process: Process): Spec {
  const namespaces = (spec.linux?.namespaces ?? []).filter((ns) => ns.type !== 'cgroup');
  return execSpec({ ...spec, linux: { ...spec.linux, namespaces } }, pid, process);
}
