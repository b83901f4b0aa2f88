import { readFileSync } from 'node:fs';

/**
 * The metadata index of one unpacked layer: what the tarball said about every entry (owner,
 * mode, device numbers, xattrs, whiteouts) while the files on disk belong to the user.
 * Written by src/image/unpack.ts, read by the union filesystem. Format "HLI1" (little endian):
 *   magic "HLI1" | u32 count | count records of
 *   u8 kind | u8 flags | u16 pathLen | u16 linkLen | u16 xattrCount | u32 mode | u32 uid | u32 gid |
 *   u32 rdev | u64 size | i64 mtimeSec | u32 mtimeNsec | path | link | xattrs (u16 nameLen name u32 valLen value)*
 * Paths are relative to the layer root, without a leading slash, as raw bytes.
 */
export const enum EntryKind {
  File = 1,
  Dir,
  Symlink,
  Hardlink,
  Char,
  Block,
  Fifo,
  Socket,
  Whiteout,
}
export const OPAQUE = 1;

export interface IndexEntry {
  path: string;
  kind: EntryKind;
  /** Permission bits with setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeSec: number;
  mtimeNsec: number;
  /** Device number (makedev) for Char and Block. */
  rdev: number;
  /** Symlink target, or the layer path a Hardlink points at. */
  link: string;
  /** OPAQUE for a directory that hides everything below it in lower layers. */
  flags: number;
  xattrs: ReadonlyMap<string, Buffer>;
}

const MAGIC = Buffer.from('HLI1');
/** The xattrs of every decoded entry that has none: one map, not one each (an index holds ~10^5). */
const NO_XATTRS: ReadonlyMap<string, Buffer> = new Map();
const FIXED = 1 + 1 + 2 + 2 + 2 + 4 * 4 + 4 + 8 + 8 + 4;

/** Serialises entries into the HLI1 format. */
export function encodeLayerIndex(entries: Iterable<IndexEntry>): Buffer {
  const parts: Buffer[] = [MAGIC, Buffer.alloc(4)];
  let count = 0;
  for (const e of entries) {
    const path = Buffer.from(e.path);
    const link = Buffer.from(e.link);
    const head = Buffer.alloc(FIXED);
    let o = head.writeUInt8(e.kind, 0);
    o = head.writeUInt8(e.flags, o);
    o = head.writeUInt16LE(path.length, o);
    o = head.writeUInt16LE(link.length, o);
    o = head.writeUInt16LE(e.xattrs.size, o);
    o = head.writeUInt32LE(e.mode, o);
    o = head.writeUInt32LE(e.uid, o);
    o = head.writeUInt32LE(e.gid, o);
    o = head.writeUInt32LE(e.rdev, o);
    o = head.writeBigUInt64LE(BigInt(e.size), o);
    o = head.writeBigInt64LE(BigInt(e.mtimeSec), o);
    head.writeUInt32LE(e.mtimeNsec, o);
    parts.push(head, path, link);
    for (const [name, value] of e.xattrs) {
      const n = Buffer.from(name);
      const lens = Buffer.alloc(6);
      lens.writeUInt16LE(n.length, 0);
      lens.writeUInt32LE(value.length, 2);
      parts.push(lens.subarray(0, 2), n, lens.subarray(2), value);
    }
    count++;
  }
  parts[1]!.writeUInt32LE(count, 0);
  return Buffer.concat(parts);
}

/** Parses an HLI1 buffer; throws on a bad magic or a truncated record. */
export function decodeLayerIndex(buf: Buffer): IndexEntry[] {
  if (buf.length < 8 || !buf.subarray(0, 4).equals(MAGIC)) throw new Error('not a hutch layer index (bad magic)');
  const count = buf.readUInt32LE(4);
  const entries: IndexEntry[] = new Array(count);
  let o = 8;
  for (let i = 0; i < count; i++) {
    if (o + FIXED > buf.length) throw new Error(`layer index truncated at entry ${i}`);
    const kind = buf.readUInt8(o) as EntryKind;
    const flags = buf.readUInt8(o + 1);
    const pathLen = buf.readUInt16LE(o + 2);
    const linkLen = buf.readUInt16LE(o + 4);
    const xattrCount = buf.readUInt16LE(o + 6);
    const mode = buf.readUInt32LE(o + 8);
    const uid = buf.readUInt32LE(o + 12);
    const gid = buf.readUInt32LE(o + 16);
    const rdev = buf.readUInt32LE(o + 20);
    const size = Number(buf.readBigUInt64LE(o + 24));
    const mtimeSec = Number(buf.readBigInt64LE(o + 32));
    const mtimeNsec = buf.readUInt32LE(o + 40);
    o += FIXED;
    const path = buf.toString('utf8', o, o + pathLen);
    o += pathLen;
    const link = buf.toString('utf8', o, o + linkLen);
    o += linkLen;
    let xattrs = NO_XATTRS;
    if (xattrCount > 0) {
      const read = new Map<string, Buffer>();
      for (let x = 0; x < xattrCount; x++) {
        const nameLen = buf.readUInt16LE(o);
        const name = buf.toString('utf8', o + 2, o + 2 + nameLen);
        o += 2 + nameLen;
        const valueLen = buf.readUInt32LE(o);
        read.set(name, Buffer.from(buf.subarray(o + 4, o + 4 + valueLen)));
        o += 4 + valueLen;
      }
      xattrs = read;
    }
    if (o > buf.length) throw new Error(`layer index truncated at entry ${i}`);
    entries[i] = { path, kind, flags, mode, uid, gid, rdev, size, mtimeSec, mtimeNsec, link, xattrs };
  }
  return entries;
}

/** Reads a layer's index file. */
export function readLayerIndex(file: string): IndexEntry[] {
  return decodeLayerIndex(readFileSync(file));
}
