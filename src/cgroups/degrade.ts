import { CgroupError } from '../errors.js';
import type { CgroupWrite } from './resources.js';

/**
 * Honest degradation: when a limit cannot be enforced, one line says which and how an
 * administrator fixes it; `--cgroups=required` turns that line into an error. Pure.
 */
export type DegradeReason =
  | { kind: 'layout'; layout: string }
  | { kind: 'no-cgroup'; detail: string }
  | { kind: 'not-delegated'; controllers: string[]; subtree?: string }
  | { kind: 'missing-file'; files: string[] };

/** The drop-in that makes systemd delegate every controller to user managers. */
export const DELEGATE_DROPIN =
  "mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' > /etc/systemd/system/user@.service.d/delegate.conf && systemctl daemon-reload";

const FLAGS: Record<string, string> = {
  'memory.limit': '--memory',
  'memory.swap': '--memory-swap',
  'memory.reservation': '--memory-reservation',
  'cpu.shares': '--cpu-shares',
  'cpu.quota': '--cpus',
  'cpu.burst': 'cpu burst',
  'cpu.idle': 'cpu idle',
  'cpu.cpus': '--cpuset-cpus',
  'cpu.mems': '--cpuset-mems',
  'pids.limit': '--pids-limit',
  'blockIO.weight': '--blkio-weight',
  'blockIO.weightDevice': '--blkio-weight-device',
  'blockIO.throttle': '--device-read/write-bps/iops',
  'unified.cpu.weight': '--cpu-weight',
};

/** The flags (or OCI settings) behind a list of writes, deduplicated: "--memory, --pids-limit". */
export function settingNames(writes: CgroupWrite[]): string {
  // --memory implies a swap limit (podman's default of twice the memory): name --memory alone.
  const hasLimit = writes.some((w) => w.setting === 'memory.limit');
  const named = writes.filter((w) => !(hasLimit && w.setting === 'memory.swap'));
  return [...new Set(named.map((w) => FLAGS[w.setting] ?? w.setting))].join(', ');
}

/** The one-line warning (without the "hutch: warning: " prefix). */
export function degradeLine(writes: CgroupWrite[], reason: DegradeReason): string {
  const what =
    writes.length === 0
      ? 'the container gets no cgroup of its own (no stats, pause or whole-container kill)'
      : `not enforced: ${settingNames(writes)}`;
  return `${what}: ${explain(reason)}; ${fix(reason)}`;
}

/** What `--cgroups=required` throws instead of the warning. */
export function requiredError(writes: CgroupWrite[], reason: DegradeReason): CgroupError {
  const what = writes.length === 0 ? 'cannot give the container a cgroup' : `cannot enforce ${settingNames(writes)}`;
  return new CgroupError('CGROUP_REQUIRED', `${what} (--cgroups=required): ${explain(reason)}`, { hint: fix(reason) });
}

/** Warns, or throws when the mode requires enforcement. */
export function degrade(
  writes: CgroupWrite[],
  reason: DegradeReason,
  required: boolean,
  warn: (line: string) => void,
): void {
  if (required) throw requiredError(writes, reason);
  warn(degradeLine(writes, reason));
}

function explain(reason: DegradeReason): string {
  switch (reason.kind) {
    case 'layout':
      return reason.layout === 'none'
        ? 'this host has no cgroup filesystem mounted'
        : `this host runs cgroup v1 (${reason.layout}) and hutch enforces limits only through a delegated cgroup v2 subtree`;
    case 'no-cgroup':
      return reason.detail;
    case 'not-delegated':
      return `the ${reason.controllers.join(', ')} controller${reason.controllers.length > 1 ? 's are' : ' is'} not delegated to your user`;
    case 'missing-file':
      return `the kernel offers no ${reason.files.join(', ')}`;
  }
}

function fix(reason: DegradeReason): string {
  switch (reason.kind) {
    case 'layout':
      return 'an administrator enables cgroup v2 by booting with systemd.unified_cgroup_hierarchy=1';
    case 'no-cgroup':
      return 'log in through a session with `systemd --user` (an administrator can run `loginctl enable-linger USER`), or run inside a cgroup delegated to you';
    case 'not-delegated':
      return reason.subtree === undefined
        ? `an administrator delegates them with: ${DELEGATE_DROPIN}`
        : `whoever delegated ${reason.subtree} (e.g. Slurm's cgroup.conf) must enable them in its cgroup.subtree_control`;
    case 'missing-file':
      return 'an administrator enables the kernel feature (e.g. swapaccount=1 for memory.swap.max)';
  }
}
