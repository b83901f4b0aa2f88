import { MS } from './linux.js';
import type { Spec } from './spec.js';
import type { FsStep } from './fs-step.js';

/** The devices the runtime-spec says every container gets (config-linux.md, "Default Devices"). */
export const DEFAULT_DEVICES = ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty'];

const DEV_LINKS: [string, string][] = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
  ['pts/ptmx', '/dev/ptmx'],
  ['/proc/kcore', '/dev/core'],
];

/**
 * What /dev gets besides the spec's mounts: linux.devices and the default devices it does not
 * list, bound from the host (mknod needs CAP_MKNOD in the initial user namespace), a devpts and a
 * /dev/shm when the spec mounts none, and runc's links. Pure.
 */
export function devSteps(spec: Spec, inside: (p: string) => string): FsStep[] {
  const listed = spec.linux?.devices ?? [];
  // Rootless podman binds the host's devices itself, as mounts: those need no default.
  const bound = (path: string): boolean =>
    listed.some((d) => d.path === path) || (spec.mounts ?? []).some((m) => m.destination === path);
  const paths = [...listed.map((d) => d.path), ...DEFAULT_DEVICES.filter((p) => !bound(p))];
  const steps: FsStep[] = paths.map((path) => ({
    kind: 'mount',
    source: path,
    target: inside(path),
    fstype: '',
    flags: MS.BIND,
    data: '',
    mkfile: true,
    what: `device ${path}`,
  }));
  const mounted = (dest: string): boolean =>
    (spec.mounts ?? []).some((m) => m.destination.replace(/\/+$/, '') === dest);
  if (!mounted('/dev/pts'))
    steps.push({
      kind: 'mount',
      source: 'devpts',
      target: inside('/dev/pts'),
      fstype: 'devpts',
      flags: MS.NOSUID | MS.NOEXEC,
      data: 'newinstance,ptmxmode=0666,mode=0620',
      mkdir: true,
      what: 'devpts at /dev/pts',
    });
  if (!mounted('/dev/shm'))
    steps.push({
      kind: 'mount',
      source: 'shm',
      target: inside('/dev/shm'),
      fstype: 'tmpfs',
      flags: MS.NOSUID | MS.NOEXEC | MS.NODEV,
      data: 'mode=1777,size=65536k',
      mkdir: true,
      what: 'tmpfs at /dev/shm',
    });
  for (const [target, link] of DEV_LINKS) steps.push({ kind: 'symlink', target, linkpath: inside(link) });
  return steps;
}

/** Without a /dev mount of its own, the rootfs's /dev gets the devices alone (runc creates them there). */
export function bareDevSteps(spec: Spec, inside: (p: string) => string): FsStep[] {
  return devSteps({ ...spec, mounts: [{ destination: '/dev/pts' }, { destination: '/dev/shm' }] }, inside).filter(
    (s) => s.kind === 'mount',
  );
}
