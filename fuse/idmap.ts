import { readFileSync } from 'node:fs';
import { UsageError } from '../src/errors.js';
import { EINVAL, FsError } from './errno.js';

/**
 * fuse-overlayfs's `uidmapping=`/`gidmapping=`: ids shifted between the layers (on disk, as the
 * daemon sees them) and the mount (what stat shows, what chown and the creating process give).
 * Each range `DISK:MOUNT:LEN` maps DISK..DISK+LEN-1 to MOUNT..MOUNT+LEN-1; several ranges follow
 * one another in the same colon list (`0:1000:1:1:100000:65536`). An id on disk outside every
 * range shows as the overflow id; an id of the mount outside every range cannot be stored.
 * Everything inside the union (attributes, override_stat, copy-up) stays in disk ids: only
 * replies and the ids the kernel sends are shifted. Pure but for `overflowIds`.
 */
export interface IdRange {
  disk: number;
  mount: number;
  len: number;
}

/** The shift of a mount; a list left out maps those ids one to one (fuse-overlayfs's default). */
export interface IdShift {
  uids?: IdRange[];
  gids?: IdRange[];
  /** The kernel's overflow ids (/proc/sys/kernel/overflow{u,g}id, 65534 by default). */
  overflowUid: number;
  overflowGid: number;
}

const MAX_ID = 0xffffffff;

/** Parses one option's value; a malformed or overlapping list is a usage error naming it. */
export function parseIdRanges(key: string, value: string): IdRange[] {
  const bad = (why: string): UsageError =>
    new UsageError('FS_USAGE', `hutch-fs cannot use -o ${key}=${value}: ${why}`, {
      hint: `give ${key}=DISK:MOUNT:LEN[:DISK:MOUNT:LEN...] in decimal, ranges not overlapping (fuse-overlayfs's syntax)`,
    });
  // Empty fields are skipped, as fuse-overlayfs's strtok does: podman writes `uidmapping=:0:1:1024`.
  const parts = value.split(':').filter((p) => p !== '');
  if (parts.length === 0 || parts.length % 3 !== 0) throw bad('the list is not made of DISK:MOUNT:LEN triples');
  const nums = parts.map((p) => (/^\d{1,10}$/.test(p) ? Number(p) : NaN));
  if (nums.some((n) => !(n <= MAX_ID))) throw bad('an id or length is not a decimal number below 2^32');
  const out: IdRange[] = [];
  for (let i = 0; i < nums.length; i += 3) {
    const r = { disk: nums[i]!, mount: nums[i + 1]!, len: nums[i + 2]! };
    if (r.len === 0 || r.disk + r.len - 1 >= MAX_ID || r.mount + r.len - 1 >= MAX_ID)
      throw bad(`the range ${r.disk}:${r.mount}:${r.len} is empty or passes 2^32-2`);
    for (const o of out)
      if (overlaps(o.disk, o.len, r.disk, r.len) || overlaps(o.mount, o.len, r.mount, r.len))
        throw bad(`the ranges ${o.disk}:${o.mount}:${o.len} and ${r.disk}:${r.mount}:${r.len} overlap`);
    out.push(r);
  }
  return out;
}

const overlaps = (a: number, alen: number, b: number, blen: number): boolean => a < b + blen && b < a + alen;

/** The id the mount shows for an id on disk; `overflow` when no range holds it. */
export function toMount(ranges: readonly IdRange[] | undefined, id: number, overflow: number): number {
  if (ranges === undefined) return id;
  for (const r of ranges) if (id >= r.disk && id < r.disk + r.len) return r.mount + (id - r.disk);
  return overflow;
}

/** The id on disk for an id of the mount; undefined when no range holds it. */
export function toDisk(ranges: readonly IdRange[] | undefined, id: number): number | undefined {
  if (ranges === undefined) return id;
  for (const r of ranges) if (id >= r.mount && id < r.mount + r.len) return r.disk + (id - r.mount);
  return undefined;
}

/** The disk id for an id a chown gives; EINVAL outside the mapping (as chown(2) to an id a user namespace lacks). */
export function diskId(ranges: readonly IdRange[] | undefined, id: number): number {
  const d = toDisk(ranges, id);
  if (d === undefined) throw new FsError(EINVAL, `id ${id} is outside the mount's uidmapping/gidmapping`);
  return d;
}

/**
 * The disk owner of what a process creates: its id shifted back, or the overflow id when it is
 * outside the mapping, as fuse-overlayfs stores it (podman, root of its namespace and outside a
 * --userns=auto mapping, creates /etc/mtab and mount points in the mount before the container starts).
 */
export function creatorId(shift: IdShift | undefined, id: number, kind: 'uid' | 'gid'): number {
  if (shift === undefined) return id;
  const d = toDisk(kind === 'uid' ? shift.uids : shift.gids, id);
  return d ?? (kind === 'uid' ? shift.overflowUid : shift.overflowGid);
}

/** The kernel's overflow ids, as fuse-overlayfs reads them (65534 when unreadable). */
export function overflowIds(): { uid: number; gid: number } {
  const read = (f: string): number => {
    try {
      const n = Number(readFileSync(`/proc/sys/kernel/${f}`, 'utf8').trim());
      return Number.isInteger(n) && n > 0 ? n : 65534;
    } catch {
      return 65534;
    }
  };
  return { uid: read('overflowuid'), gid: read('overflowgid') };
}
