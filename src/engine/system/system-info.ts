import { cgroupReport, type CgroupReport } from '../../cgroups/info.js';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { release, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { describeCause } from '../../errors.js';
import { helperPath } from '../../runtime/nsexec.js';
import { rootMaps } from '../../userns/idmap.js';
import { lookupSubid, rangeSize, type SubidLookup, type SubidRange } from '../../userns/subid.js';
import { createContainer } from '../launch/index.js';
import { readTextIfPresent } from '../../sys/text.js';
import { findOnPath } from '../../sys/on-path.js';

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
  const checks = [
    await userNamespaces(root),
    ...subidChecks(me, root),
    ...['newuidmap', 'newgidmap'].map(idTool),
    fuseDevice(root),
    networkTool(['slirp4netns', 'pasta']),
  ];
  const cgroups = await cgroupReport(process.env, root);
  checks.push(cgroupCheck(cgroups), systemdUser(cgroups));
  return { kernel: release(), user: { name: me.username, uid: me.uid, gid: me.gid }, checks, cgroups };
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
  if (max === 0)
    return {
      name,
      ok: false,
      detail: 'user.max_user_namespaces is 0',
      fix: '`sudo sysctl user.max_user_namespaces=15000`',
    };
  if (clone === 0)
    return {
      name,
      ok: false,
      detail: 'kernel.unprivileged_userns_clone is 0',
      fix: '`sudo sysctl kernel.unprivileged_userns_clone=1`',
    };
  try {
    const uid = process.getuid!(),
      gid = process.getgid!();
    const probe = await createContainer(
      {
        ociVersion: '1.2.0',
        process: { user: { uid: 0, gid: 0 }, args: ['/bin/true'], cwd: '/' },
        linux: {
          namespaces: [{ type: 'user' }, { type: 'mount' }],
          uidMappings: rootMaps(uid, []),
          gidMappings: rootMaps(gid, []),
        },
      },
      { stdio: ['ignore', 'ignore', 'ignore'] },
    );
    await probe.start();
    await probe.wait();
    return {
      name,
      ok: true,
      detail: apparmor === 1 ? 'allowed (AppArmor restricts them, but a profile lets hutch-nsexec through)' : 'allowed',
    };
  } catch (error) {
    const fix = apparmor === 1 ? apparmorFix() : 'ask an administrator to allow unprivileged user namespaces';
    return {
      name,
      ok: false,
      detail: `cannot create one: ${describeCause(error)}${apparmor === 1 ? ' (kernel.apparmor_restrict_unprivileged_userns is 1)' : ''}`,
      fix,
    };
  }
}

function subidChecks(me: { username: string; uid: number }, root: string): HostCheck[] {
  return (['uid', 'gid'] as const).map((kind) => {
    const found = lookupSubid(kind, { name: me.username, id: me.uid }, { root });
    const size = rangeSize(found.ranges);
    const file = `/etc/sub${kind}`;
    if (size === 0)
      return {
        name: `${file} range`,
        ok: false,
        detail: `none for ${me.username}: containers map only your own id (to root)`,
        fix: `\`sudo usermod --add-sub${kind}s 100000-165535 ${me.username}\``,
      };
    const detail = rangeText(found.ranges) + subidNote(found);
    if (size < 65536)
      return {
        name: `${file} range`,
        ok: false,
        detail: `${detail}: ${size} ids, fewer than the 65536 most images expect`,
        fix: `ask for a range of 65536 ids in ${file}`,
      };
    return { name: `${file} range`, ok: true, detail };
  });
}

const rangeText = (ranges: SubidRange[]): string => ranges.map((r) => `${r.start}-${r.start + r.count - 1}`).join(', ');

/** Where the ranges came from when not the file, and what overlapping or adjacent ranges were merged. */
function subidNote(found: SubidLookup): string {
  const from = found.source === 'getsubids' ? ' (from getsubids)' : '';
  const merged =
    found.listed.length === found.ranges.length
      ? ''
      : ` (merged from ${found.listed.length} overlapping or adjacent ranges: ${rangeText(found.listed)})`;
  return from + merged;
}

function idTool(tool: string): HostCheck {
  const path = findOnPath(tool);
  if (path === undefined)
    return {
      name: tool,
      ok: false,
      detail: 'not installed',
      fix: 'install the uidmap package (`sudo apt install uidmap`)',
    };
  const setuid = (statSync(path).mode & 0o4000) !== 0;
  return {
    name: tool,
    ok: true,
    detail: `${path}${setuid ? ' (setuid root)' : ' (not setuid: needs file capabilities)'}`,
  };
}

function fuseDevice(root: string): HostCheck {
  const dev = join(root, 'dev/fuse');
  if (!existsSync(dev))
    return {
      name: '/dev/fuse',
      ok: false,
      detail: 'missing: images cannot be mounted',
      fix: '`sudo modprobe fuse` and install fuse3',
    };
  try {
    accessSync(dev, constants.R_OK | constants.W_OK);
    return { name: '/dev/fuse', ok: true, detail: 'usable' };
  } catch {
    return {
      name: '/dev/fuse',
      ok: false,
      detail: 'not readable and writable by you',
      fix: '`sudo chmod 0666 /dev/fuse` (the mode distributions ship)',
    };
  }
}

function networkTool(tools: string[]): HostCheck {
  const found = tools.map((t) => [t, findOnPath(t)] as const).filter(([, p]) => p !== undefined);
  if (found.length === 0)
    return {
      name: 'userspace networking',
      ok: false,
      detail: 'neither slirp4netns nor pasta: only --network none|host',
      fix: '`sudo apt install slirp4netns` (or passt for pasta)',
    };
  return { name: 'userspace networking', ok: true, detail: found.map(([t, p]) => `${t} (${p})`).join(', ') };
}

/** The cgroups line, from the cgroups module's report (one source for the check and the details). */
function cgroupCheck(report: CgroupReport): HostCheck {
  const layout = `${report.version}${report.layout === 'hybrid' ? ' (hybrid)' : ''}`;
  if (report.manager === 'none')
    return {
      name: 'cgroups',
      ok: false,
      detail: `${layout}: resource limits are not available rootless`,
      fix: report.hint,
    };
  const ok = report.missingControllers.length === 0;
  const detail = `${layout}, ${report.manager === 'systemd' ? 'systemd scopes' : 'a delegated subtree'}, controllers [${report.delegatedControllers.join(', ')}]${ok ? '' : `, not delegated: ${report.missingControllers.join(', ')}`}`;
  return { name: 'cgroups', ok, detail, fix: report.hint };
}

function systemdUser(report: CgroupReport): HostCheck {
  const manager = report.userManager;
  if (manager.reachable)
    return {
      name: 'systemd user manager',
      ok: true,
      detail: `systemd ${manager.version ?? ''} (${manager.controlGroup ?? 'no cgroup'})`,
    };
  return {
    name: 'systemd user manager',
    ok: false,
    detail: `not reachable${manager.error ? `: ${manager.error}` : ''}`,
    fix: '`sudo loginctl enable-linger $USER`, or log in through a systemd session',
  };
}

function readNumber(path: string): number | undefined {
  const text = readTextIfPresent(path);
  return text === undefined ? undefined : Number(text.trim());
}
