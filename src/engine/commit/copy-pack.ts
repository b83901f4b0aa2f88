import { createReadStream, lstatSync, readdirSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { basename, join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { devMajor, devMinor } from '../../sys/fsx.js';

/** How `hutch cp` packs a source: ids rewritten (host ids into the container's), the link followed. */
export interface PackOptions {
  /** -L: the source itself is followed when it is a symlink (never what lies below it). */
  follow?: boolean;
  /** Rewrites each entry's owner (the host's ids as the container sees them); kept when absent. */
  ids?: (uid: number, gid: number) => { uid: number; gid: number };
}

/**
 * The tar name of a `hutch cp` source's top entry: its base name, or "." for SRC/. (its content
 * only), as docker and podman read a source path.
 */
export function topName(source: string): string {
  return /(^|\/)\.$/.test(source) ? '.' : basename(source.replace(/\/+$/, '')) || '.';
}

/**
 * Writes `source` (a file, link or tree, walked with lstat: no symlink below it is followed) as a
 * tar to `out`, its top entry named topName(source). Sockets are left out, as tar leaves them.
 */
export async function packPath(source: string, out: Writable, options: PackOptions = {}): Promise<void> {
  const pack = tar.pack();
  const piped = pipeline(pack, out);
  const top = topName(source);
  const st = options.follow === true ? statSync(source) : lstatSync(source);
  const links = new Map<string, string>();
  try {
    await packEntry(pack, source, top, st, options, links);
  } catch (error) {
    pack.destroy(error as Error);
    await piped.catch(() => undefined);
    throw error;
  }
  pack.finalize();
  await piped;
}

async function packEntry(
  pack: tar.Pack,
  path: string,
  name: string,
  st: Stats,
  options: PackOptions,
  links: Map<string, string>,
): Promise<void> {
  const ids = options.ids?.(st.uid, st.gid) ?? { uid: st.uid, gid: st.gid };
  const head = { name, mode: st.mode & 0o7777, uid: ids.uid, gid: ids.gid, mtime: st.mtime };
  if (st.isDirectory()) {
    await entry(pack, { ...head, name: name === '.' ? './' : `${name}/`, type: 'directory' });
    for (const child of readdirSync(path).sort()) {
      const at = join(path, child);
      await packEntry(pack, at, name === '.' ? child : `${name}/${child}`, lstatSync(at), options, links);
    }
    return;
  }
  const inode = `${st.dev}:${st.ino}`;
  const first = st.nlink > 1 && !st.isDirectory() ? links.get(inode) : undefined;
  if (first !== undefined) return entry(pack, { ...head, type: 'link', linkname: first });
  if (st.nlink > 1) links.set(inode, name);
  if (st.isFile()) {
    // Only the size stat saw: a file a running container grows meanwhile must not break the tar.
    const stream = pack.entry({ ...head, type: 'file', size: st.size } as tar.Header);
    if (st.size === 0) stream.end(Buffer.alloc(0));
    else await pipeline(createReadStream(path, { end: st.size - 1 }), stream);
  } else if (st.isSymbolicLink()) await entry(pack, { ...head, type: 'symlink', linkname: readlinkSync(path) });
  else if (st.isFIFO()) await entry(pack, { ...head, type: 'fifo' });
  else if (st.isCharacterDevice() || st.isBlockDevice()) {
    const type = st.isCharacterDevice() ? 'character-device' : 'block-device';
    await entry(pack, { ...head, type, devmajor: devMajor(st.rdev), devminor: devMinor(st.rdev) });
  }
}

function entry(pack: tar.Pack, header: Partial<tar.Header> & { name: string }): Promise<void> {
  return new Promise((resolve, reject) =>
    pack.entry(header as tar.Header, (error) => (error ? reject(error) : resolve())),
  );
}
