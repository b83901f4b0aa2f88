import { describeCause } from '../errors.js';
import {
  controllersOf,
  detectHost,
  userManagerCgroup,
  userManagerSockets,
  writableSubtree,
  type CgroupLayout,
} from './detect.js';
import { DELEGATE_DROPIN } from './degrade.js';
import { connectUserManager } from './systemd.js';

/** The cgroup part of `hutch system info`. */
export interface CgroupReport {
  /** v2 (unified), v1 (legacy or hybrid: limits go through v1 controllers hutch does not use), none. */
  version: 'v2' | 'v1' | 'none';
  layout: CgroupLayout;
  /** What `hutch run` would use: a systemd scope, a delegated subtree, or nothing. */
  manager: 'systemd' | 'cgroupfs' | 'none';
  userManager: { reachable: boolean; version?: string; controlGroup?: string; error?: string };
  ownCgroup: string | undefined;
  /** Controllers a container can be limited with. */
  delegatedControllers: string[];
  /** Of memory, pids, cpu, io, cpuset: those a limit would warn about. */
  missingControllers: string[];
  /** What an administrator can do, when something is missing. */
  hint?: string;
}

const WANTED = ['cpu', 'cpuset', 'io', 'memory', 'pids'];

/** Looks at the host and asks the user manager (when there is one) what it delegates. */
export async function cgroupReport(env: NodeJS.ProcessEnv = process.env, root = '/'): Promise<CgroupReport> {
  const host = detectHost(root);
  const version = host.layout === 'unified' ? 'v2' : host.layout === 'none' ? 'none' : 'v1';
  const report: CgroupReport = {
    version,
    layout: host.layout,
    manager: 'none',
    userManager: { reachable: false },
    ownCgroup: host.ownCgroup,
    delegatedControllers: [],
    missingControllers: WANTED,
  };
  if (host.layout !== 'unified' || host.v2Mount === undefined) {
    report.hint =
      host.layout === 'none'
        ? 'mount cgroup2 at /sys/fs/cgroup'
        : 'limits need cgroup v2: an administrator boots with systemd.unified_cgroup_hierarchy=1';
    return report;
  }
  let delegated: string[] | undefined;
  const subtree = writableSubtree(root, host);
  try {
    const manager = connectUserManager(userManagerSockets(env, root));
    manager.bus.close();
    report.userManager = { reachable: true, version: manager.version, controlGroup: manager.controlGroup };
    report.manager = 'systemd';
    delegated = controllersOf(root, host.v2Mount, manager.controlGroup || userManagerCgroup(process.getuid?.() ?? 0));
  } catch (error) {
    report.userManager.error = describeCause(error);
  }
  // The choice place.ts makes: a subtree delegated by someone else (a Slurm job) is kept.
  const cg = report.userManager.controlGroup;
  if (subtree !== undefined && (cg === undefined || !(subtree === cg || subtree.startsWith(`${cg}/`)))) {
    report.manager = 'cgroupfs';
    delegated = controllersOf(root, host.v2Mount, subtree);
  }
  report.delegatedControllers = delegated ?? [];
  report.missingControllers = WANTED.filter((c) => !report.delegatedControllers.includes(c));
  if (report.manager === 'none')
    report.hint =
      'log in through a session with `systemd --user` (or `loginctl enable-linger USER`), or run inside a cgroup delegated to you';
  else if (report.missingControllers.length > 0 && report.manager === 'cgroupfs')
    report.hint = `whoever delegated ${subtree} (e.g. Slurm's cgroup.conf) must enable ${report.missingControllers.join(', ')} in it`;
  else if (report.missingControllers.length > 0)
    report.hint = `an administrator delegates ${report.missingControllers.join(', ')} with: ${DELEGATE_DROPIN}`;
  return report;
}

/** The report as `system info` prints it: podman's key names, one per line. */
export function formatCgroupReport(report: CgroupReport): string[] {
  const lines = [
    `cgroupVersion: ${report.version}${report.layout === 'hybrid' ? ' (hybrid)' : ''}`,
    `cgroupManager: ${report.manager}`,
    `cgroupControllers: [${report.delegatedControllers.join(', ')}]`,
    `systemdUserManager: ${report.userManager.reachable ? `${report.userManager.version} (${report.userManager.controlGroup})` : `unreachable${report.userManager.error ? `: ${report.userManager.error}` : ''}`}`,
  ];
  if (report.missingControllers.length > 0) lines.push(`cgroupNotEnforced: [${report.missingControllers.join(', ')}]`);
  if (report.hint !== undefined) lines.push(`cgroupHint: ${report.hint}`);
  return lines;
}
