/**
 * The C structures libfuse 3.14 exchanges with us, packed by hand in Buffers (x86_64 layouts,
 * checked with offsetof against libfuse3-dev; see docs/architecture.md, "Binary layouts"). Pure: no koffi, no I/O.
 */
import type { RawStat } from '../src/sys/stat.js';

/** What getattr reports (a struct stat's fields; times split in seconds and nanoseconds). */
export type Attr = RawStat;

export const STAT_SIZE = 144;
export const ENTRY_SIZE = 176;
export const FILE_INFO_SIZE = 40;

/** Writes a 64-bit integer (|v| < 2^53) without a BigInt: the read path packs millions. */
export function put64(buf: Buffer, v: number, at: number): void {
  if (v >>> 0 === v) {
    // the common case (sizes, counts, most times): no division
    buf.writeUInt32LE(v, at);
    buf.writeUInt32LE(0, at + 4);
    return;
  }
  const lo = v % 0x100000000;
  const hi = Math.floor(v / 0x100000000);
  buf.writeUInt32LE(lo < 0 ? lo + 0x100000000 : lo, at);
  buf.writeInt32LE(hi, at + 4);
}

/** Writes a struct stat at `at` in `buf`. */
export function packStat(buf: Buffer, at: number, a: Attr): void {
  buf.fill(0, at, at + STAT_SIZE);
  put64(buf, a.ino, at + 8);
  put64(buf, a.nlink, at + 16);
  buf.writeUInt32LE(a.mode >>> 0, at + 24);
  buf.writeUInt32LE(a.uid >>> 0, at + 28);
  buf.writeUInt32LE(a.gid >>> 0, at + 32);
  put64(buf, a.rdev, at + 40);
  put64(buf, a.size, at + 48);
  put64(buf, 4096, at + 56);
  put64(buf, a.blocks, at + 64);
  put64(buf, a.atimeSec, at + 72);
  put64(buf, a.atimeNsec, at + 80);
  put64(buf, a.mtimeSec, at + 88);
  put64(buf, a.mtimeNsec, at + 96);
  put64(buf, a.ctimeSec, at + 104);
  put64(buf, a.ctimeNsec, at + 112);
}

/** The fields of a struct stat that setattr may carry. */
export interface SetAttrIn {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  atimeSec: number;
  atimeNsec: number;
  mtimeSec: number;
  mtimeNsec: number;
}

const i64 = (buf: Buffer, at: number): number => buf.readUInt32LE(at) + buf.readInt32LE(at + 4) * 0x100000000;

/** Reads the setattr-relevant fields of a struct stat. */
export function unpackSetAttr(buf: Buffer): SetAttrIn {
  return {
    mode: buf.readUInt32LE(24),
    uid: buf.readUInt32LE(28),
    gid: buf.readUInt32LE(32),
    size: i64(buf, 48),
    atimeSec: i64(buf, 72),
    atimeNsec: i64(buf, 80),
    mtimeSec: i64(buf, 88),
    mtimeNsec: i64(buf, 96),
  };
}

/** The fields of a struct fuse_entry_param around its struct stat (packed at 16 by packStat or a stat call). */
export function packEntryHead(buf: Buffer, nodeId: number, timeout: number): Buffer {
  put64(buf, nodeId, 0);
  put64(buf, 1, 8);
  buf.writeDoubleLE(timeout, 160);
  buf.writeDoubleLE(timeout, 168);
  return buf;
}

/** A struct fuse_entry_out's size: the head of each entry of a READDIRPLUS reply. */
export const ENTRY_OUT_SIZE = 128;

/**
 * Converts a struct fuse_entry_param (as packEntryHead and a stat left it) to the struct
 * fuse_entry_out at `at` in `out`, as libfuse's fill_entry does for a LOOKUP's reply: node id,
 * generation, both timeouts split in seconds and nanoseconds, and the struct fuse_attr.
 */
export function packEntryOut(param: Buffer, out: Buffer, at: number): void {
  // Moved as 32-bit words: a Buffer.copy per field costs more than the field (millions a tree).
  const w = (from: number, to: number): void => void out.writeUInt32LE(param.readUInt32LE(from), at + to);
  const w64 = (from: number, to: number): void => (w(from, to), w(from + 4, to + 4));
  w64(0, 0); // nodeid
  w64(8, 8); // generation
  const entry = param.readDoubleLE(168);
  const attr = param.readDoubleLE(160);
  put64(out, Math.floor(entry), at + 16);
  put64(out, Math.floor(attr), at + 24);
  out.writeUInt32LE(Math.floor((entry % 1) * 1e9), at + 32);
  out.writeUInt32LE(Math.floor((attr % 1) * 1e9), at + 36);
  // struct fuse_attr at 40, from the struct stat at 16 of the param
  w64(24, 40); // ino
  w64(64, 48); // size
  w64(80, 56); // blocks
  w64(88, 64); // atime
  w64(104, 72); // mtime
  w64(120, 80); // ctime
  w(96, 88); // atimensec
  w(112, 92); // mtimensec
  w(128, 96); // ctimensec
  w(40, 100); // mode
  w(32, 104); // nlink
  w(44, 108); // uid
  w(48, 112); // gid
  w(56, 116); // rdev
  w(72, 120); // blksize
  out.writeUInt32LE(0, at + 124); // flags
}

export interface OpenFlags {
  keepCache?: boolean;
  cacheReaddir?: boolean;
  directIo?: boolean;
}

/** A struct fuse_file_info carrying our handle and caching bits (bitfield word at 4). */
export function packFileInfo(fh: number, flags: OpenFlags, buf = Buffer.alloc(FILE_INFO_SIZE)): Buffer {
  buf.fill(0);
  let bits = 0;
  if (flags.directIo) bits |= 1 << 1;
  if (flags.keepCache) bits |= 1 << 2;
  if (flags.cacheReaddir) bits |= 1 << 6;
  buf.writeUInt32LE(bits, 4);
  put64(buf, fh, 16);
  return buf;
}

/** struct statvfs (112 bytes). */
export function packStatvfs(s: {
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
}): Buffer {
  const buf = Buffer.alloc(112);
  const put = (v: number, at: number): void => void buf.writeBigUInt64LE(BigInt(Math.max(0, Math.floor(v))), at);
  put(s.bsize, 0);
  put(s.bsize, 8);
  put(s.blocks, 16);
  put(s.bfree, 24);
  put(s.bavail, 32);
  put(s.files, 40);
  put(s.ffree, 48);
  put(s.ffree, 56);
  put(255, 80);
  return buf;
}

/** A struct fuse_bufvec of one fd-backed buffer: libfuse reads `size` bytes at `pos` itself. */
export function packFdBufvec(fd: number, size: number, pos: number, buf = Buffer.alloc(64)): Buffer {
  buf.fill(0);
  put64(buf, 1, 0);
  put64(buf, size, 24);
  buf.writeUInt32LE(2 | 4, 32); // FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK
  buf.writeInt32LE(fd, 48);
  put64(buf, pos, 56);
  return buf;
}

/** A directory listing packed once as struct fuse_dirents; entry i ends at byte ends[i]. */
export interface PackedDir {
  buf: Buffer;
  ends: Uint32Array;
  /** The offset its last entry hands out: a reader past it asks from there once more, for the end. */
  end: number;
}

/**
 * Packs a listing for readdir (offset = `base` + entries already read): one buffer per listing,
 * each READDIR replied with a slice of it (no allocation per request; the kernel asks for
 * getdents' buffer size, 32 KiB for glibc's readdir).
 */
export function packListing(entries: readonly { name: string; ino: number; type: number }[], base = 0): PackedDir {
  const ends = new Uint32Array(entries.length);
  let total = 0;
  for (let i = 0; i < entries.length; i++) ends[i] = total += (24 + entries[i]!.name.length + 7) & ~7;
  const buf = Buffer.alloc(total);
  let at = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    put64(buf, e.ino, at);
    put64(buf, base + i + 1, at + 8);
    buf.writeUInt32LE(e.name.length, at + 16);
    buf.writeUInt32LE((e.type >>> 12) & 0xf, at + 20);
    buf.write(e.name, at + 24, 'latin1');
    at = ends[i]!;
  }
  return { buf, ends, end: base + entries.length };
}

/** The bytes of a packed listing from entry `off` that fit in `size`: [start, end). */
export function listingSlice(d: PackedDir, off: number, size: number): [number, number] {
  const start = off === 0 ? 0 : (d.ends[off - 1] ?? d.buf.length);
  let end = start;
  for (let i = off; i < d.ends.length && d.ends[i]! - start <= size; i++) end = d.ends[i]!;
  return [start, end];
}
