import { UsageError } from '../../errors.js';
import { readFileInRoot } from '../../sys/in-root.js';

/** A user as the container's /etc/passwd and /etc/group define it. */
export interface ContainerUser {
  uid: number;
  gid: number;
  /** Supplementary groups: every group of /etc/group listing the user by name. */
  additionalGids: number[];
  name?: string;
  home?: string;
}

/**
 * Resolves `-u USER[:GROUP]` (names or numbers) against the passwd and group text of the
 * container, as docker does: a numeric user absent from passwd runs with gid 0 (or the group given).
 */
export function resolveUser(spec: string, passwd: string, group: string): ContainerUser {
  const [userPart = '', groupPart] = spec.split(':');
  const users = parseTable(passwd);
  const groups = parseTable(group);
  const entry =
    users.find((u) => u[0] === userPart) ?? (isId(userPart) ? users.find((u) => u[2] === userPart) : undefined);
  if (entry === undefined && !isId(userPart)) {
    throw new UsageError(
      'USER_UNKNOWN',
      `cannot run as user ${userPart}: no such user in the container's /etc/passwd`,
      { hint: 'give a user that exists in the image, or a numeric uid' },
    );
  }
  const uid = entry ? Number(entry[2]) : Number(userPart);
  let gid = entry ? Number(entry[3]) : 0;
  if (groupPart !== undefined && groupPart !== '') {
    const g =
      groups.find((row) => row[0] === groupPart) ??
      (isId(groupPart) ? groups.find((row) => row[2] === groupPart) : undefined);
    if (g === undefined && !isId(groupPart)) {
      throw new UsageError(
        'GROUP_UNKNOWN',
        `cannot run as group ${groupPart}: no such group in the container's /etc/group`,
        { hint: 'give a group that exists in the image, or a numeric gid' },
      );
    }
    gid = g ? Number(g[2]) : Number(groupPart);
  }
  const name = entry?.[0];
  const additionalGids =
    name === undefined
      ? []
      : groups
          .filter((g) => (g[3] ?? '').split(',').includes(name))
          .map((g) => Number(g[2]))
          .filter((g) => g !== gid);
  return { uid, gid, additionalGids, name, home: entry?.[5] };
}

/** Reads ROOTFS/etc/passwd and ROOTFS/etc/group (missing files are empty) and resolves. */
export function resolveUserIn(rootfs: string, spec: string): ContainerUser {
  const db = userDbIn(rootfs);
  return resolveUser(spec, db.passwd, db.group);
}

/**
 * ROOTFS/etc/passwd and ROOTFS/etc/group as text (missing files are empty), resolved inside the
 * tree: a hostile tree's links never make hutch read the host's files.
 */
export function userDbIn(rootfs: string): { passwd: string; group: string } {
  return {
    passwd: readFileInRoot(rootfs, '/etc/passwd') ?? '',
    group: readFileInRoot(rootfs, '/etc/group') ?? '',
  };
}

function parseTable(text: string): string[][] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

function isId(s: string): boolean {
  return /^\d+$/.test(s);
}

/** The calling user as --userns keep-id shows it inside (from the host's user database). */
export interface HostUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** The name of the user's primary group on the host; default: the user's name. */
  group?: string;
}

/**
 * The container's passwd and group text with the keep-id user added when its uid (its gid) has
 * no line yet, as podman does: the host's name and home, /bin/sh (the host's shell may not exist
 * inside). A name that would break the file's format is left out.
 */
export function withHostUser(db: { passwd: string; group: string }, user: HostUser): { passwd: string; group: string } {
  const safe = (s: string): boolean => !/[:\n]/.test(s);
  const append = (text: string, line: string): string =>
    (text === '' || text.endsWith('\n') ? text : text + '\n') + line + '\n';
  const groupName = user.group ?? user.name;
  let { passwd, group } = db;
  if (safe(user.name) && safe(user.home) && !parseTable(passwd).some((u) => u[2] === String(user.uid)))
    passwd = append(passwd, `${user.name}:*:${user.uid}:${user.gid}:${user.name}:${user.home}:/bin/sh`);
  if (safe(groupName) && safe(user.name) && !parseTable(group).some((g) => g[2] === String(user.gid)))
    group = append(group, `${groupName}:x:${user.gid}:${user.name}`);
  return { passwd, group };
}
