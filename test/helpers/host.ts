// What the host gives the test user. `requires(...)` fails (not skips) in CI when something
// the suite depends on is missing, so a broken CI host cannot pass by skipping everything.
import { accessSync, constants, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { execFileSync } from 'node:child_process';

export type Requirement =
  | 'fuse'
  | 'subuid'
  | 'newuidmap'
  | 'userns'
  | 'slirp4netns'
  | 'pasta'
  | 'tun'
  | 'registry'
  | 'podman'
  | 'busybox'
  | 'mpi'
  | 'slurm'
  | 'squashfs';

const checks: Record<Requirement, () => string | undefined> = {
  fuse: () => (canOpen('/dev/fuse') ? undefined : '/dev/fuse is not usable by this user'),
  tun: () => (canOpen('/dev/net/tun') ? undefined : '/dev/net/tun is not usable by this user'),
  subuid: () => (hasRange('/etc/subuid') ? undefined : `no /etc/subuid range for ${userInfo().username}`),
  newuidmap: () => onPath('newuidmap'),
  userns: () =>
    readFileSync('/proc/sys/user/max_user_namespaces', 'utf8').trim() === '0'
      ? 'user namespaces are disabled'
      : undefined,
  slirp4netns: () => onPath('slirp4netns'),
  pasta: () => onPath('pasta'),
  registry: () => (canExec('/usr/bin/docker-registry') ? undefined : 'docker-registry is not installed'),
  podman: () => onPath('podman'),
  busybox: () => (canExec('/bin/busybox') ? undefined : 'busybox-static is not installed'),
  mpi: () => onPath('mpirun') ?? onPath('mpicc'),
  slurm: () =>
    canExec('/usr/sbin/slurmd') && canExec('/usr/sbin/munged') ? undefined : 'slurmd or munge is not installed',
  squashfs: () => onPath('mksquashfs') ?? onPath('squashfuse'),
};

/** Names the first missing requirement, or undefined when all are there. */
export function missing(...needs: Requirement[]): string | undefined {
  for (const need of needs) {
    const why = checks[need]();
    if (why !== undefined) return why;
  }
  return undefined;
}

/** Throws when a requirement is missing: the suite must not pass by skipping. */
export function requires(...needs: Requirement[]): void {
  const why = missing(...needs);
  if (why !== undefined)
    throw new Error(`test host is missing a prerequisite: ${why} (run \`npm test\` as root to prepare the host)`);
}

function canOpen(path: string): boolean {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
function canExec(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
function onPath(tool: string): string | undefined {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return undefined;
  } catch {
    return `${tool} is not installed`;
  }
}
function hasRange(file: string): boolean {
  const me = userInfo();
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .some((line) => {
        const [owner] = line.split(':');
        return owner === me.username || owner === String(me.uid);
      });
  } catch {
    return false;
  }
}
