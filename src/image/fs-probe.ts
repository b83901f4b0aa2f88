import { linkSync, mkdtempSync, readFileSync, rmSync, statfsSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StoreError } from '../errors.js';
import { atomicWriteFile } from '../sys/fs.js';
import { lsetxattr } from '../sys/xattr.js';

/**
 * What a store's filesystem can keep, found once by trying it (NFSv3 and older NFSv4 have no
 * user xattrs; some network filesystems refuse hard links). The image store needs hard links and
 * symlinks (a layer's files; ownership and modes live in the layer's index, never in xattrs or
 * chown). A container's writable layer needs user xattrs: where chown is refused (root_squash,
 * ids other than the user's own) the union keeps ownership in `user.containers.override_stat`.
 */
export interface StoreFs {
  /** The filesystem's name (statfs f_type), e.g. `nfs`, `ext4`, or its magic in hex. */
  type: string;
  userXattrs: boolean;
  hardLinks: boolean;
  symlinks: boolean;
}

const CACHE = '.fs-probe.json';

const NAMES: Record<number, string> = {
  0x6969: 'nfs',
  0x858458f6: 'ramfs',
  0x01021994: 'tmpfs',
  0xef53: 'ext4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x65735546: 'fuse',
  0x0bd00bd0: 'lustre',
  0x794c7630: 'overlay',
  0xff534d42: 'cifs',
  0xfe534d42: 'smb2',
  0x47504653: 'gpfs',
  0x19830326: 'beegfs',
  0x2011bab0: 'exfat',
  0x4d44: 'vfat',
};

/**
 * Probes the filesystem of `dir` (which must exist and be writable), cached in `cacheDir`'s
 * .fs-probe.json by device and filesystem type, so a store moved to another filesystem is probed anew.
 */
export function storeFs(cacheDir: string, dir: string): StoreFs {
  const key = `${statSync(dir).dev}:${statfsSync(dir).type}`;
  const cache = readCache(cacheDir);
  const known = cache[key];
  if (known !== undefined) return known;
  const found = probe(dir);
  try {
    atomicWriteFile(join(cacheDir, CACHE), JSON.stringify({ ...cache, [key]: found }));
  } catch {
    // a cache that cannot be written only costs the next command another probe
  }
  return found;
}

function readCache(cacheDir: string): Record<string, StoreFs> {
  try {
    return JSON.parse(readFileSync(join(cacheDir, CACHE), 'utf8')) as Record<string, StoreFs>;
  } catch {
    return {};
  }
}

/** Tries each thing in a scratch folder under `dir` and removes it. */
export function probe(dir: string): StoreFs {
  const magic = statfsSync(dir).type;
  const scratch = mkdtempSync(join(dir, '.probe-'));
  try {
    const file = join(scratch, 'f');
    writeFileSync(file, '');
    return {
      type: NAMES[magic] ?? `0x${magic.toString(16)}`,
      userXattrs: works(() => lsetxattr(file, 'user.hutch.probe', Buffer.from('1'))),
      hardLinks: works(() => linkSync(file, join(scratch, 'l'))),
      symlinks: works(() => symlinkSync('f', join(scratch, 's'))),
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function works(fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}

const LOCAL_HINT =
  'keep the store on a local disk: hutch --root /local/dir (or HUTCH_ROOT=/local/dir); see docs/hpc.md, "Stores on shared filesystems"';

/** The image store's layers need hard links and symlinks on the store's filesystem. */
export function requireLayerFs(cacheDir: string, dir: string): void {
  const fs = storeFs(cacheDir, dir);
  const lacks = [fs.hardLinks ? '' : 'hard links', fs.symlinks ? '' : 'symlinks'].filter((x) => x !== '');
  if (lacks.length === 0) return;
  throw new StoreError(
    'STORE_FS_UNSUPPORTED',
    `cannot keep image layers in ${dir}: its filesystem (${fs.type}) refuses ${lacks.join(' and ')}`,
    { hint: LOCAL_HINT },
  );
}

/**
 * A container's writable layer (the union's upper directory) needs user xattrs: without them,
 * the owner of a file the container chowns (or copies up from an image) would be lost.
 */
export function requireUpperFs(cacheDir: string, dir: string): void {
  const fs = storeFs(cacheDir, dir);
  if (fs.userXattrs) return;
  throw new StoreError(
    'UPPER_FS_NO_XATTRS',
    `cannot keep the container's writable layer in ${dir}: its filesystem (${fs.type}) stores no user xattrs, where the layer keeps the owners it cannot chown to`,
    {
      hint: `run it in the foreground (hutch run without -d puts its layer in the runtime folder where that has user xattrs), or ${LOCAL_HINT}`,
    },
  );
}
