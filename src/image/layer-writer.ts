import {
  closeSync,
  constants,
  linkSync,
  lstatSync,
  mkdir,
  mkdirSync,
  open,
  rmSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import type { Header } from 'tar-stream';

type Headers = Header;
import { EntryKind, OPAQUE, type IndexEntry } from '../../fuse/layer-index.js';
import { StoreError } from '../errors.js';
import { XATTR_ENCODING } from './pax.js';
import { SparseWriter, sparseInfo, type SparseInfo } from './sparse.js';

const WHITEOUT = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
const KINDS: Record<string, EntryKind> = {
  file: EntryKind.File,
  'contiguous-file': EntryKind.File,
  directory: EntryKind.Dir,
  symlink: EntryKind.Symlink,
  link: EntryKind.Hardlink,
  'character-device': EntryKind.Char,
  'block-device': EntryKind.Block,
  fifo: EntryKind.Fifo,
};

/**
 * Turns tar entries of one layer into files under `root` (owned by the user, owner rw kept) and
 * index entries carrying what the tarball said. Never follows a symlink of the layer: a parent
 * of every entry must be a directory of this layer (or one made implicitly here).
 */
export class LayerWriter {
  readonly entries = new Map<string, IndexEntry>();
  private readonly pendingOpaque = new Set<string>();
  private fd = -1;
  private sparse: SparseWriter | undefined;

  constructor(
    private readonly root: string,
    private readonly where: string,
    private readonly maxFileSize: number,
  ) {}

  /** Starts an entry; returns true when its contents must be fed to `write` then `endFile`. */
  async begin(header: Headers): Promise<boolean> {
    const sparse = this.sparseOf(header);
    const h = sparse === undefined ? header : { ...header, name: sparse.name, size: sparse.realSize };
    const path = this.cleanPath(h.name);
    if (path === '') return false; // the layer root itself: its attributes are the lower layer's
    const base = path.slice(path.lastIndexOf('/') + 1);
    const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
    if (base === OPAQUE_MARKER) return (this.markOpaque(parent), false);
    if (base.startsWith(WHITEOUT)) return (this.whiteout(h, parent, base.slice(WHITEOUT.length)), false);
    const kind = h.type === null || h.type === undefined ? undefined : KINDS[h.type];
    if (kind === undefined) throw this.hostile(`entry ${path} has an unsupported type ${String(h.type)}`);
    this.prepare(path, kind);
    const entry = this.entry(h, path, kind);
    const disk = join(this.root, path);
    if (kind === EntryKind.Dir) {
      if (this.pendingOpaque.delete(path)) entry.flags |= OPAQUE;
      await makeDir(disk, (entry.mode & 0o777) | 0o700);
    } else if (kind === EntryKind.Symlink) {
      replacing(disk, () => symlinkSync(entry.link, disk));
    } else if (kind === EntryKind.Hardlink) {
      this.hardlink(entry, disk);
    } else {
      if (entry.size > this.maxFileSize) throw this.tooBig(path, entry.size);
      const mode = kind === EntryKind.File ? (entry.mode & 0o777) | 0o600 : 0o600;
      // Opens run on libuv's pool: layers unpacking at once then create files in parallel.
      this.fd = await replacingAsync(disk, () =>
        openAsync(disk, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode),
      );
      this.entries.set(path, entry);
      this.sparse = sparse === undefined ? undefined : new SparseWriter(sparse);
      if (kind === EntryKind.File && header.size > 0) return true;
      this.endFile();
      return false;
    }
    this.entries.set(path, entry);
    return false;
  }

  write(chunk: Buffer): void {
    if (this.sparse !== undefined) this.sparse.write(this.fd, chunk);
    else writeSync(this.fd, chunk);
  }

  /** Closes the current file. Disk mtimes are left alone: the index keeps the true ones. */
  endFile(): void {
    this.sparse?.finish(this.fd);
    this.sparse = undefined;
    closeSync(this.fd);
    this.fd = -1;
  }

  /** Closes a file left open by a failure (a long-lived engine must not leak fds). */
  abort(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  /** Completes pending opaque markers and returns the index. */
  finish(): IndexEntry[] {
    if (this.fd >= 0) closeSync(this.fd);
    for (const path of this.pendingOpaque) {
      // An opaque marker whose directory has no entry of its own in this layer.
      this.entries.set(path, { ...blank(path, EntryKind.Dir), mode: 0o755, flags: OPAQUE });
      mkdirSync(join(this.root, path), { recursive: true, mode: 0o755 });
    }
    return [...this.entries.values()];
  }

  private sparseOf(h: Headers): SparseInfo | undefined {
    try {
      return sparseInfo((h.pax ?? {}) as Record<string, string>);
    } catch (error) {
      throw this.hostile(`entry ${h.name}: ${(error as Error).message}`);
    }
  }

  private cleanPath(name: string): string {
    if (name.startsWith('/')) throw this.hostile(`entry ${JSON.stringify(name)} has an absolute path`);
    const parts = name.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) throw this.hostile(`entry ${JSON.stringify(name)} climbs out of the layer with ..`);
    return parts.join('/');
  }

  /** Checks the parents, makes implicit ones, and clears whatever this layer had at `path`. */
  private prepare(path: string, kind: EntryKind): void {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const seen = this.entries.get(parent);
      if (seen?.kind === EntryKind.Whiteout) {
        // Deleted then refilled in one layer: a fresh directory hiding the lower one, i.e. opaque.
        this.entries.set(parent, {
          ...blank(parent, EntryKind.Dir),
          mode: 0o755,
          uid: seen.uid,
          gid: seen.gid,
          flags: OPAQUE,
        });
        mkdirSync(join(this.root, parent), { mode: 0o755 });
        continue;
      }
      if (seen !== undefined && seen.kind !== EntryKind.Dir) {
        throw this.hostile(`entry ${path} goes through ${parent}, which is not a directory in this layer`);
      }
      if (seen === undefined && !isDir(join(this.root, parent))) mkdirSync(join(this.root, parent), { mode: 0o755 });
    }
    const old = this.entries.get(path);
    if (old === undefined || (old.kind === EntryKind.Dir && kind === EntryKind.Dir)) return;
    this.entries.delete(path);
    if (old.kind !== EntryKind.Whiteout) rmSync(join(this.root, path), { recursive: true, force: true });
  }

  private hardlink(entry: IndexEntry, disk: string): void {
    const target = this.cleanPath(entry.link);
    let seen = this.entries.get(target);
    if (seen?.kind === EntryKind.Hardlink) seen = this.entries.get(seen.link);
    if (seen === undefined || seen.kind === EntryKind.Dir || seen.kind === EntryKind.Whiteout) {
      throw this.hostile(
        `hardlink ${entry.path} points at ${JSON.stringify(entry.link)}, which is not a file earlier in this layer`,
      );
    }
    replacing(disk, () => linkSync(join(this.root, seen!.path), disk));
    Object.assign(entry, {
      link: seen.path,
      mode: seen.mode,
      uid: seen.uid,
      gid: seen.gid,
      size: seen.size,
      rdev: seen.rdev,
    });
  }

  private markOpaque(dir: string): void {
    const entry = this.entries.get(dir);
    if (entry?.kind === EntryKind.Dir) entry.flags |= OPAQUE;
    else this.pendingOpaque.add(dir);
  }

  private whiteout(h: Headers, parent: string, name: string): void {
    if (name === '') throw this.hostile(`whiteout ${h.name} names nothing`);
    const path = parent === '' ? name : `${parent}/${name}`;
    this.prepare(path, EntryKind.Whiteout);
    this.entries.set(path, { ...this.entry(h, path, EntryKind.Whiteout), mode: 0, size: 0 });
  }

  private entry(h: Headers, path: string, kind: EntryKind): IndexEntry {
    const pax = (h.pax ?? {}) as Record<string, string>;
    const xattrs = new Map<string, Buffer>();
    for (const [key, value] of Object.entries(pax)) {
      if (key.startsWith('SCHILY.xattr.')) xattrs.set(key.slice(13), Buffer.from(value, XATTR_ENCODING));
    }
    const mtime = pax.mtime !== undefined ? Number(pax.mtime) : (h.mtime?.getTime() ?? 0) / 1000;
    const sec = Math.floor(Number.isFinite(mtime) ? mtime : 0);
    return {
      path,
      kind,
      flags: 0,
      xattrs,
      link: h.linkname ?? '',
      mode: (h.mode ?? 0) & 0o7777,
      uid: pax.uid !== undefined ? Number(pax.uid) : (h.uid ?? 0),
      gid: pax.gid !== undefined ? Number(pax.gid) : (h.gid ?? 0),
      size: kind === EntryKind.File ? (h.size ?? 0) : 0,
      mtimeSec: sec,
      mtimeNsec: Math.min(999_999_999, Math.max(0, Math.round((mtime - sec) * 1e9))) || 0,
      rdev: kind === EntryKind.Char || kind === EntryKind.Block ? makedev(h.devmajor ?? 0, h.devminor ?? 0) : 0,
    };
  }

  /** A file larger than the store's free space: a full disk, or a layer that lies about a size. */
  private tooBig(path: string, size: number): StoreError {
    return new StoreError(
      'STORE_FULL',
      `cannot unpack layer ${this.where}: entry ${path} declares ${size} bytes, and the store's filesystem has ${this.maxFileSize} bytes free`,
      { hint: 'free space (hutch image prune) and pull again, unless the layer lies; nothing of it was stored' },
    );
  }

  private hostile(why: string): StoreError {
    return new StoreError('LAYER_HOSTILE', `refusing layer ${this.where}: ${why}`, {
      hint: 'the image is malformed or malicious; nothing of it was stored',
    });
  }
}

/** Linux's makedev for the 32-bit encoding the index stores. */
export function makedev(major: number, minor: number): number {
  return (((major & 0xfff) << 8) | (minor & 0xff) | ((minor & 0xfff00) << 12)) >>> 0;
}

function blank(path: string, kind: EntryKind): IndexEntry {
  return {
    path,
    kind,
    flags: 0,
    mode: 0,
    uid: 0,
    gid: 0,
    size: 0,
    mtimeSec: 0,
    mtimeNsec: 0,
    rdev: 0,
    link: '',
    xattrs: new Map(),
  };
}

/** Runs `create`; when something this layer made implicitly is in the way, removes it and retries. */
function replacing<T>(disk: string, create: () => T): T {
  try {
    return create();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    rmSync(disk, { recursive: true, force: true });
    return create();
  }
}

const openAsync = promisify(open);
const mkdirAsync = promisify(mkdir);

async function replacingAsync<T>(disk: string, create: () => Promise<T>): Promise<T> {
  try {
    return await create();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    rmSync(disk, { recursive: true, force: true });
    return create();
  }
}

/** mkdir that keeps a directory already there (a duplicate entry) and replaces anything else. */
async function makeDir(disk: string, mode: number): Promise<void> {
  try {
    await mkdirAsync(disk, { mode });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || isDir(disk)) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return;
    }
    rmSync(disk, { force: true });
    mkdirSync(disk, { mode });
  }
}

function isDir(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}
