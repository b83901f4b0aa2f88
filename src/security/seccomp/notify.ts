import type { Arch } from './arch.js';

/** SECCOMP_RET_USER_NOTIF: the call waits for the listener's answer. */
export const RET_USER_NOTIF = 0x7fc00000;
/** SECCOMP_FILTER_FLAG_NEW_LISTENER: seccomp(2) returns the listener's fd. */
export const FLAG_NEW_LISTENER = 8;
const RET_ALLOW = 0x7fff0000;

/**
 * The chown family as hutch-nsexec's supervisor decodes it (native/chown-notify.c): native
 * numbers only; a compat arch's (i386's chown32) keeps the profile's action.
 */
export const CHOWN_FAMILY = ['chown', 'lchown', 'fchown', 'fchownat'];

interface Rule {
  args: unknown[];
  action: number;
}

/**
 * Sends `names` to the listener where the profile would let them run: every allowing rule of
 * theirs becomes a notification, and with no rule, an allowing default does. A profile that
 * refuses them still refuses them.
 */
export function withNotify<R extends Rule>(
  byNr: Map<number, R[]>,
  arch: Arch,
  names: string[],
  fallback: number,
): void {
  for (const name of names) {
    const nr = arch.syscalls.get(name);
    if (nr === undefined) continue; // aarch64 has no chown or lchown, only fchownat
    const rules = byNr.get(nr + arch.nrBase);
    if (rules === undefined) {
      if (fallback === RET_ALLOW) byNr.set(nr + arch.nrBase, [{ args: [], action: RET_USER_NOTIF } as unknown as R]);
      continue;
    }
    for (const r of rules) if (r.action === RET_ALLOW) r.action = RET_USER_NOTIF;
  }
}
