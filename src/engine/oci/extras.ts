import { readFileSync, writeFileSync } from 'node:fs';
import { attachContainerCgroup, type CgroupInfo } from '../../cgroups/cgroup.js';
import type { LinuxResources } from '../../cgroups/resources.js';
import { CgroupError, RuntimeError, UsageError } from '../../errors.js';
import type { Spec } from '../../runtime/spec.js';

/**
 * What config.json asks that hutch accepts without applying, each named in one warning line (runc
 * would apply them or fail): security labels (hutch runs no LSM policy) and the network-class
 * cgroup limits (cgroup v2 has no net_cls or net_prio). Pure.
 */
export function unappliedSettings(spec: Spec): string[] {
  const out: string[] = [];
  const proc = spec.process;
  if (proc?.apparmorProfile)
    out.push(
      `process.apparmorProfile ${proc.apparmorProfile} is not applied: hutch loads no AppArmor profile (the host's confinement of hutch stays)`,
    );
  if (proc?.selinuxLabel)
    out.push(`process.selinuxLabel ${proc.selinuxLabel} is not applied: hutch sets no SELinux label`);
  if (spec.linux?.mountLabel)
    out.push(`linux.mountLabel ${spec.linux.mountLabel} is not applied: hutch sets no SELinux label`);
  const network = (spec.linux?.resources as { network?: unknown } | undefined)?.network;
  if (network !== undefined)
    out.push(
      'not enforced: linux.resources.network (classID, priorities): cgroup v2 has no net_cls or net_prio controller; shape traffic in the network namespace instead',
    );
  return out;
}

/**
 * process.oomScoreAdj on the created process. Without CAP_SYS_RESOURCE a user can only raise
 * it; a lower value fails as it does with runc, naming both values.
 */
export function applyOomScoreAdj(pid: number, value: number | undefined): void {
  if (value === undefined) return;
  const file = `/proc/${pid}/oom_score_adj`;
  try {
    writeFileSync(file, String(value));
  } catch (error) {
    const current = readFileSync(file, 'utf8').trim();
    throw new RuntimeError(
      'OOM_SCORE_ADJ_DENIED',
      `cannot set process.oomScoreAdj to ${value}: writing ${file} failed with ${(error as NodeJS.ErrnoException).code} (it is ${current}; without privileges it can only be raised)`,
      {
        hint: `give a value of ${current} or more, or leave oomScoreAdj out`,
        cause: error,
      },
    );
  }
}

/** `hutch runtime update`: new limits on the container's cgroup (what the host cannot enforce warns). */
export function ociUpdate(
  id: string,
  cgroup: CgroupInfo | undefined,
  resources: LinuxResources,
  warn: (line: string) => void,
): void {
  if (Object.keys(resources).length === 0)
    throw new UsageError('UPDATE_NO_LIMITS', `cannot update container ${id}: no limit given`, {
      hint: 'give --memory, --pids-limit, ... or -r resources.json',
    });
  if (cgroup === undefined) {
    throw new CgroupError(
      'CGROUP_UPDATE_UNAVAILABLE',
      `cannot update container ${id}: it has no cgroup of its own, so its limits cannot change`,
      {
        hint: 'this needs a delegated cgroup v2 subtree (a systemd user session, or `loginctl enable-linger`); `hutch system info` shows what this host gives',
      },
    );
  }
  for (const line of unappliedSettings({ ociVersion: '', linux: { resources } })) warn(line);
  attachContainerCgroup(cgroup).update(resources, warn);
}
