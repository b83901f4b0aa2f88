// A busybox-static root filesystem for tests: built once per user into a cache directory (under a
// lock, since test files may race), then copied per test so each test may write to its own.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  copyFileSync,
  chmodSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { withLock } from '../../src/sys/fs.js';

const VERSION = 'busybox-rootfs-v3';
const BUSYBOX = '/bin/busybox';

export const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'user:x:1000:1000:user:/home/user:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
  '',
].join('\n');
/** `staff` (gid 50) has `user` as a supplementary member. */
export const GROUP = ['root:x:0:', 'tty:x:5:', 'staff:x:50:user', 'user:x:1000:', 'nogroup:x:65534:', ''].join('\n');

function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'hutch-test');
}

/** The cached rootfs (built on first use); read-only by convention: copy it with `busyboxRootfs`. */
export async function cachedRootfs(): Promise<string> {
  const dir = join(cacheDir(), VERSION);
  if (existsSync(join(dir, 'bin', 'sh'))) return dir;
  return withLock(join(cacheDir(), `${VERSION}.lock`), () => {
    if (existsSync(join(dir, 'bin', 'sh'))) return dir;
    const temp = mkdtempSync(join(cacheDir(), `.${VERSION}-`));
    buildRootfs(temp);
    rmSync(dir, { recursive: true, force: true });
    renameSync(temp, dir);
    return dir;
  });
}

function buildRootfs(root: string): void {
  chmodSync(root, 0o755); // mkdtemp made it 0700: container users other than root could not enter
  for (const d of ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'home/user', 'var', 'run', 'usr/bin'])
    mkdirSync(join(root, d), { recursive: true });
  chmodSync(join(root, 'tmp'), 0o1777);
  copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'));
  chmodSync(join(root, 'bin', 'busybox'), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter((a) => a && a !== 'busybox');
  for (const applet of applets) symlinkSync('busybox', join(root, 'bin', applet));
  writeFileSync(join(root, 'etc', 'passwd'), PASSWD);
  writeFileSync(join(root, 'etc', 'group'), GROUP);
  // The files hutch mounts over: a tree lacking them runs on a writable layer (run-rootfs-tree.test.ts).
  for (const f of ['hosts', 'hostname', 'resolv.conf']) writeFileSync(join(root, 'etc', f), '');
}

/** A private copy of the busybox rootfs at DIR/rootfs; returns its path. */
export async function busyboxRootfs(dir: string): Promise<string> {
  const source = await cachedRootfs();
  const dest = join(dir, 'rootfs');
  cpSync(source, dest, { recursive: true, verbatimSymlinks: true });
  return dest;
}
