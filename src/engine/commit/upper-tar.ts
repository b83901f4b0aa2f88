import { createReadStream, lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { isWhiteoutDevice, OPAQUE_MARKER, WH_PREFIX } from '../../../fuse/whiteout.js';
import { isOpaque, linkOwner } from '../../../fuse/upper.js';
import { isPrivateXattr, OVERRIDE_STAT, parseOverrideStat, RDEV_XATTR } from '../../../fuse/xattr.js';
import { lgetxattr, llistxattr } from '../../sys/xattr.js';
import { XATTR_ENCODING } from '../../image/pax.js';

const S_IFMT = 0o170000;
/** tar-stream fills the fields a header leaves out. */
type Head = Partial<tar.Header> & { name: string };
const TYPES: Record<number, tar.Header['type']> = {
  0o100000: 'file',
  0o040000: 'directory',
  0o120000: 'symlink',
  0o020000: 'character-device',
  0o060000: 'block-device',
  0o010000: 'fifo',
};

/**
 * Writes a container's upper layer (the union filesystem's writable directory) as an OCI layer tar
 * to `out`: whiteouts (0/0 character devices and `.wh.` files) as `.wh.NAME` entries, opaque
 * directories (xattr or marker file) as `DIR/.wh..wh..opq`, ownership and mode from
 * `user.containers.override_stat` where the union kept them there, else from lstat (run inside a
 * user namespace with the container's id maps, lstat shows the container's ids), device nodes
 * kept as placeholder files as devices again, hard links as links, the union's own xattrs left
 * out. Names are sorted, so the same upper gives the same tar. Sockets have no tar form: skipped.
 * Empty files and directories at `mountpoints` (the container's mount destinations) are left out.
 */
export async function packUpper(upper: string, out: Writable, mountpoints: string[] = []): Promise<void> {
  // What the runtime made to mount over (/etc/hosts, a volume's directory) is no change of the container's.
  const skip = new Set(mountpoints.map((m) => m.replace(/^\/+/, '')));
  const pack = tar.pack();
  const piped = pipeline(pack, out);
  const links = new Map<string, string>();
  const walk = async (rel: string): Promise<void> => {
    for (const name of readdirSync(join(upper, rel)).sort()) {
      if (name === OPAQUE_MARKER) continue; // written after its directory, below
      const path = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(join(upper, path));
      if (skip.has(path) && isEmpty(join(upper, path), st)) continue;
      if (isWhiteoutDevice(st.mode, Number(st.rdev)))
        await add(pack, {
          name: rel === '' ? `${WH_PREFIX}${name}` : `${rel}/${WH_PREFIX}${name}`,
          type: 'file',
          mode: 0o644,
          size: 0,
          mtime: st.mtime,
        });
      else if (name.startsWith(WH_PREFIX))
        await add(pack, { name: path, type: 'file', mode: 0o644, size: 0, mtime: st.mtime });
      else await entry(pack, upper, path, st, links, walk);
    }
  };
  await walk('');
  pack.finalize();
  await piped;
}

async function entry(
  pack: tar.Pack,
  upper: string,
  path: string,
  st: Stats,
  links: Map<string, string>,
  walk: (rel: string) => Promise<void>,
): Promise<void> {
  const full = join(upper, path);
  const bytes = Buffer.from(full); // the xattr calls take a string as latin1: a UTF-8 name must go as its bytes
  const override = parseOverrideStat(lgetxattr(bytes, OVERRIDE_STAT) ?? '');
  const owner = (st.isSymbolicLink() ? linkOwner(bytes) : undefined) ?? override;
  const typeBits = override !== undefined && (override.mode & S_IFMT) !== 0 ? override.mode & S_IFMT : st.mode & S_IFMT;
  const type = TYPES[typeBits];
  if (type === undefined) return; // a socket
  const header: Head = {
    name: type === 'directory' ? `${path}/` : path,
    type,
    size: 0,
    mtime: st.mtime,
    mode: (override?.mode ?? st.mode) & 0o7777,
    uid: owner?.uid ?? st.uid,
    gid: owner?.gid ?? st.gid,
    pax: xattrs(bytes),
  };
  if (type === 'character-device' || type === 'block-device') {
    const rdev = Number(lgetxattr(bytes, RDEV_XATTR)?.toString() ?? st.rdev);
    Object.assign(header, { devmajor: (rdev >> 8) & 0xfff, devminor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00) });
  }
  const key = `${st.dev}:${st.ino}`;
  if (type === 'file' && st.nlink > 1 && links.has(key)) {
    await add(pack, { ...header, type: 'link', linkname: links.get(key)! });
    return;
  }
  if (type === 'file' && st.nlink > 1) links.set(key, path);
  if (type === 'symlink') header.linkname = readlinkSync(full);
  if (type === 'file' && typeBits === (st.mode & S_IFMT)) {
    header.size = st.size;
    const stream = pack.entry(header as tar.Header);
    await pipeline(createReadStream(full), stream);
    return;
  }
  await add(pack, header);
  if (type !== 'directory') return;
  if (isOpaque(full))
    await add(pack, { name: `${path}/${OPAQUE_MARKER}`, type: 'file', mode: 0o644, size: 0, mtime: st.mtime });
  await walk(path);
}

function isEmpty(path: string, st: Stats): boolean {
  return st.isDirectory() ? readdirSync(path).length === 0 : st.isFile() && st.size === 0;
}

/** The file's own xattrs as PAX records (latin1 strings: pax.ts writes them back as bytes). */
function xattrs(path: Buffer): Record<string, string> | undefined {
  const names = llistxattr(path).filter((n) => !isPrivateXattr(n));
  if (names.length === 0) return undefined;
  return Object.fromEntries(
    names.map((n) => [`SCHILY.xattr.${n}`, (lgetxattr(path, n) ?? Buffer.alloc(0)).toString(XATTR_ENCODING)]),
  );
}

/** An entry without content (a file here is empty: tar-stream waits for the body of one given none). */
function add(pack: tar.Pack, header: Head): Promise<void> {
  const done =
    (resolve: () => void, reject: (e: Error) => void) =>
    (error?: Error | null): void =>
      error ? reject(error) : resolve();
  return new Promise((resolve, reject) => {
    if (header.type === 'file') pack.entry(header as tar.Header, Buffer.alloc(0), done(resolve, reject));
    else pack.entry(header as tar.Header, done(resolve, reject));
  });
}
