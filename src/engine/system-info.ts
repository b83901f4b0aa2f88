import { cgroupReport, type CgroupReport } from '../cgroups/info.js';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { release, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { describeCause } from '../errors.js';
import { helperPath } from '../runtime/nsexec.js';
import { rootMaps } from '../userns/idmap.js';
import { rangeSize, readSubid } from '../userns/subid.js';
import { createContainer } from './run.js';

/** One thing a rootless user needs from the host, and the fix when it is missing. */
export interface HostCheck {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

export interface SystemInfo {
  kernel: string;
  user: { name: string; uid: number; gid: number };
  checks: HostCheck[];
  /** The cgroups module's own report: version, manager, delegated controllers. */
  cgroups: CgroupReport;
}

/** Probes what this host gives a rootless user (`hutch system info`). `root` is '/' but in tests. */
export async function systemInfo(root = '/'): Promise<SystemInfo> {
  const me = userInfo();
  const checks = [await userNamespaces(root), ...subidChecks(me, root), ...['newuidmap', 'newgidmap'].map(idTool), fuseDevice(root),
    networkTool(['slirp4netns', 'pasta']), cgroupCheck(root), systemdUser(me.uid, root)];
  return { kernel: release(), user: { name: me.username, uid: me.uid, gid: me.gid }, checks, cgroups: await cgroupReport(process.env, root) };
}

/** The commands that install the helper's AppArmor profile (docs/apparmor.md), with this install's paths. */
function apparmorFix(): string {
  const helper = helperPath();
  const profile = join(dirname(dirname(helper)), 'docs', 'apparmor', 'hutch-nsexec');
  return `as root: \`sed 's|/opt/hutch/native/hutch-nsexec|${helper}|' ${profile} > /etc/apparmor.d/hutch-nsexec && apparmor_parser -r /etc/apparmor.d/hutch-nsexec\` (docs/apparmor.md)`;
}

/** A real probe: /bin/true in a new user namespace through the helper, as every run does. */
async function userNamespaces(root: string): Promise<HostCheck> {
  const name = 'user namespaces';
  const max = readNumber(join(root, 'proc/sys/user/max_user_namespaces'));
  const clone = readNumber(join(root, 'proc/sys/kernel/unprivileged_userns_clone'));
  const apparmor = readNumber(join(root, 'proc/sys/kernel/apparmor_restrict_unprivileged_userns'));
  if (max === 0) return { name, ok: false, detail: 'user.max_user_namespaces is 0', fix: '`sudo sysctl user.max_user_namespaces=15000`' };
  if (clone === 0) return { name, ok: false, detail: 'kernel.unprivileged_userns_clone is 0', fix: '`sudo sysctl kernel.unprivileged_userns_clone=1`' };
  try {
    const uid = process.getuid!(), gid = process.getgid!();
    const probe = await createContainer({
      ociVersion: '1.2.0',
      process: { user: { uid: 0, gid: 0 }, args: ['/bin/true'], cwd: '/' },
      linux: { namespaces: [{ type: 'user' }, { type: 'mount' }], uidMappings: rootMaps(uid, []), gidMappings: rootMaps(gid, []) },
    }, { stdio: ['ignore', 'ignore', 'ignore'] });
    await probe.start();
    await probe.wait();
    return { name, ok: true, detail: apparmor === 1 ? 'allowed (AppArmor restricts them, but a profile lets hutch-nsexec through)' : 'allowed' };
  } catch (error) {
    const fix = apparmor === 1 ? apparmorFix() : 'ask an administrator to allow unprivileged user namespaces';
    return { name, ok: false, detail: `cannot create one: ${describeCause(error)}${apparmor === 1 ? ' (kernel.apparmor_restrict_unprivileged_userns is 1)' : ''}`, fix };
  }
}

function subidChecks(me: { username: string; uid: number }, root: string): HostCheck[] {
  return (['uid', 'gid'] as const).map((kind) => {
    const ranges = readSubid(kind, { name: me.username, id: me.uid }, root);
    const size = rangeSize(ranges);
    const file = `/etc/sub${kind}`;
    if (size === 0) return { name: `${file} range`, ok: false, detail: `none for ${me.username}: containers map only your own id (to root)`, fix: `\`sudo usermod --add-sub${kind}s 100000-165535 ${me.username}\`` };
    const detail = ranges.map((r) => `${r.start}-${r.start + r.count - 1}`).join(', ');
    if (size < 65536) return { name: `${file} range`, ok: false, detail: `${detail}: ${size} ids, fewer than the 65536 most images expect`, fix: `ask for a range of 65536 ids in ${file}` };
    return { name: `${file} range`, ok: true, detail };
  });
}

function idTool(tool: string): HostCheck {
  const path = onPath(tool);
  if (path === undefined) return { name: tool, ok: false, detail: 'not installed', fix: 'install the uidmap package (`sudo apt install uidmap`)' };
  const setuid = (statSync(path).mode & 0o4000) !== 0;
  return { name: tool, ok: true, detail: `${path}${setuid ? ' (setuid root)' : ' (not setuid: needs file capabilities)'}` };
}

function fuseDevice(root: string): HostCheck {
  const dev = join(root, 'dev/fuse');
  if (!existsSync(dev)) return { name: '/dev/fuse', ok: false, detail: 'missing: images cannot be mounted', fix: '`sudo modprobe fuse` and install fuse3' };
  try {
    accessSync(dev, constants.R_OK | constants.W_OK);
    return { name: '/dev/fuse', ok: true, detail: 'usable' };
  } catch {
    return { name: '/dev/fuse', ok: false, detail: 'not readable and writable by you', fix: '`sudo chmod 0666 /dev/fuse` (the mode distributions ship)' };
  }
}

function networkTool(tools: string[]): HostCheck {
  const found = tools.map((t) => [t, onPath(t)] as const).filter(([, p]) => p !== undefined);
  if (found.length === 0) return { name: 'userspace networking', ok: false, detail: 'neither slirp4netns nor pasta: only --network none|host', fix: '`sudo apt install slirp4netns` (or passt for pasta)' };
  return { name: 'userspace networking', ok: true, detail: found.map(([t, p]) => `${t} (${p})`).join(', ') };
}

function cgroupCheck(root: string): HostCheck {
  const fs = join(root, 'sys/fs/cgroup');
  if (existsSync(join(fs, 'cgroup.controllers'))) {
    const line = readText(join(root, 'proc/self/cgroup'))?.split('\n').find((l) => l.startsWith('0::'));
    const own = line === undefined ? undefined : join(fs, line.slice(3));
    const delegated = own !== undefined && writable(join(own, 'cgroup.procs'));
    return { name: 'cgroups', ok: delegated, detail: `v2${delegated ? ', your cgroup is delegated to you' : ', not delegated to you'}`, fix: delegated ? undefined : 'log in through systemd (a user session) so that user@.service delegates a subtree, or run under `systemd-run --user --scope`' };
  }
  const hybrid = existsSync(join(fs, 'unified'));
  return { name: 'cgroups', ok: false, detail: `v1${hybrid ? ' (hybrid)' : ''}: resource limits are not available rootless`, fix: 'boot with systemd.unified_cgroup_hierarchy=1 for cgroup v2' };
}

function systemdUser(uid: number, root: string): HostCheck {
  const socket = join(root, `run/user/${uid}/systemd/private`);
  if (existsSync(socket)) return { name: 'systemd user manager', ok: true, detail: `running (${socket})` };
  return { name: 'systemd user manager', ok: false, detail: 'not running for you', fix: '`sudo loginctl enable-linger $USER`, or log in through a systemd session' };
}

function onPath(tool: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const path = join(dir || '.', tool);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // next
    }
  }
  return undefined;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function readNumber(path: string): number | undefined {
  const text = readText(path);
  return text === undefined ? undefined : Number(text.trim());
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
