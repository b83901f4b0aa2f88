import { writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { readTextIfPresent } from '../../sys/text.js';
import { userDbIn, withHostUser, type HostUser } from '../spec/index.js';

/**
 * The calling user as --userns keep-id shows it inside: name, ids and home from the host's user
 * database (getpwuid, so NSS users of a cluster's directory service too), the group's name from
 * the host's /etc/group when it is there.
 */
export function callingUser(): HostUser {
  const me = userInfo();
  const line = (readTextIfPresent('/etc/group') ?? '').split('\n').find((l) => l.split(':')[2] === String(me.gid));
  return { name: me.username, uid: me.uid, gid: me.gid, home: me.homedir, group: line?.split(':')[0] };
}

/**
 * Writes the container's /etc/passwd and /etc/group with the keep-id user in them into the
 * container's runtime folder (bound over the image's, as podman does) and returns their paths.
 * `db` is the image's user database; a --rootfs tree's is read from it.
 */
export function writeUserDb(
  runDir: string,
  user: HostUser,
  db: { passwd: string; group: string } | undefined,
  rootfs: string,
): { passwd: string; group: string } {
  const text = withHostUser(db ?? userDbIn(rootfs), user);
  const files = { passwd: join(runDir, 'passwd'), group: join(runDir, 'group') };
  writeFileSync(files.passwd, text.passwd, { mode: 0o644 });
  writeFileSync(files.group, text.group, { mode: 0o644 });
  return files;
}
