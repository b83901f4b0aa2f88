/**
 * The helper's plan records in one table: their numbers and the length rule of their payloads.
 * src/runtime/nsexec.ts encodes from it (TAG); native/wire.h (enum wire_tag and wire_rules, which
 * check_plan applies) and docs/wire.md are checked against it by test/unit/runtime/nsexec.test.ts,
 * tag by tag. A new record is added here first, then to the header and the page.
 */

/** How long a payload may be: exactly N bytes; a multiple of N; a u32 count then count x N; N bytes then strings. */
export type PayloadRule =
  | { kind: 'exact'; bytes: number }
  | { kind: 'multiple'; bytes: number }
  | { kind: 'counted'; bytes: number }
  | { kind: 'strings'; bytes: number; strings: number };

const exact = (bytes: number): PayloadRule => ({ kind: 'exact', bytes });
const strings = (count: number, bytes = 0): PayloadRule => ({ kind: 'strings', bytes, strings: count });

/** Record name -> tag number and payload rule (tag 2 is retired: WAIT_MAPS). */
export const WIRE_RECORDS = {
  CLONE_FLAGS: { tag: 1, rule: exact(4) },
  ROOTFS: { tag: 3, rule: strings(1) },
  MOUNT: { tag: 4, rule: strings(4, 8) },
  SYMLINK: { tag: 5, rule: strings(2) },
  MASK: { tag: 6, rule: strings(1) },
  READONLY: { tag: 7, rule: strings(1) },
  HOSTNAME: { tag: 8, rule: strings(1) },
  LOOPBACK: { tag: 9, rule: exact(0) },
  RLIMIT: { tag: 10, rule: exact(20) },
  CWD: { tag: 11, rule: strings(1) },
  USER: { tag: 12, rule: exact(8) },
  GROUPS: { tag: 13, rule: { kind: 'counted', bytes: 4 } },
  CAPS: { tag: 14, rule: exact(40) },
  NO_NEW_PRIVS: { tag: 15, rule: exact(0) },
  SECCOMP: { tag: 16, rule: { kind: 'multiple', bytes: 8 } },
  ARG: { tag: 17, rule: strings(1) },
  ENV: { tag: 18, rule: strings(1) },
  TERMINAL: { tag: 19, rule: exact(0) },
  INIT: { tag: 20, rule: exact(0) },
  READONLY_ROOT: { tag: 21, rule: exact(0) },
  PROPAGATION: { tag: 22, rule: exact(4) },
  PDEATHSIG: { tag: 23, rule: exact(4) },
  UMASK: { tag: 24, rule: exact(4) },
  SETNS: { tag: 25, rule: strings(1, 4) },
  DETACH: { tag: 26, rule: exact(0) },
  START_FIFO: { tag: 27, rule: strings(1) },
  CONSOLE_SOCKET: { tag: 28, rule: strings(1) },
  TAP: { tag: 29, rule: strings(1) },
  PRESERVE_FDS: { tag: 30, rule: exact(8) },
  ROOT_PROPAGATION: { tag: 31, rule: exact(4) },
  SYSCTL: { tag: 32, rule: strings(2) },
  HOME: { tag: 33, rule: exact(0) },
  SECCOMP_FLAGS: { tag: 34, rule: exact(4) },
  CHOWN_NOTIFY: { tag: 35, rule: exact(0) },
  DIR: { tag: 36, rule: strings(1, 4) },
  SYMLINK_IN_ROOT: { tag: 37, rule: strings(2) },
  FILE: { tag: 38, rule: strings(2, 8) },
  CHMOD: { tag: 39, rule: strings(1, 4) },
  REMOUNT_RO: { tag: 40, rule: strings(1) },
  ARGV_ZERO: { tag: 41, rule: strings(1) },
  ID_MAP: { tag: 42, rule: strings(2, 4) },
  ON_ITS_OWN: { tag: 43, rule: exact(0) },
} as const satisfies Record<string, { tag: number; rule: PayloadRule }>;

export type RecordName = keyof typeof WIRE_RECORDS;

/** Record name -> tag number: what the encoder writes. */
export const TAG = Object.fromEntries(Object.entries(WIRE_RECORDS).map(([name, r]) => [name, r.tag])) as {
  readonly [K in RecordName]: (typeof WIRE_RECORDS)[K]['tag'];
};
