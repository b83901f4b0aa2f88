/**
 * Extended attribute rules of the union: which names belong to us (hidden from the container),
 * and the `user.containers.override_stat` convention of containers/storage and fuse-overlayfs
 * ("uid:gid:mode", mode in octal, type bits optional) for ownership the host cannot store.
 * Pure: no I/O.
 */
export const OVERRIDE_STAT = 'user.containers.override_stat';
export const OPAQUE_XATTRS = ['trusted.overlay.opaque', 'user.overlay.opaque', 'user.fuseoverlayfs.opaque'];
/** The device number of a device node kept as a placeholder file. */
export const RDEV_XATTR = 'user.hutch.rdev';

const PRIVATE_PREFIXES = [
  'trusted.',
  'user.overlay.',
  'user.fuseoverlayfs.',
  'user.hutch.',
  'user.containers.',
  'security.hutch.',
];

/** Names the container must neither see nor set. */
export function isPrivateXattr(name: string): boolean {
  return PRIVATE_PREFIXES.some((p) => name.startsWith(p));
}

export interface OverrideStat {
  uid: number;
  gid: number;
  /** Permission bits, plus the type bits when the value carried them (else 0 there). */
  mode: number;
}

/** Parses an override_stat value; undefined when malformed. */
export function parseOverrideStat(value: Buffer | string): OverrideStat | undefined {
  const m = /^(\d+):(\d+):(0?[0-7]+)/.exec(value.toString('latin1'));
  if (m === null) return undefined;
  return { uid: Number(m[1]), gid: Number(m[2]), mode: parseInt(m[3]!, 8) };
}

/** Formats an override_stat value (mode with its type bits, as fuse-overlayfs writes it). */
export function formatOverrideStat(s: OverrideStat): Buffer {
  return Buffer.from(`${s.uid}:${s.gid}:0${s.mode.toString(8)}`);
}

/** Applies an override to a real st_mode: its permission bits always, its type when it has one. */
export function applyOverrideMode(realMode: number, o: OverrideStat): number {
  const type = (o.mode & 0o170000) !== 0 ? o.mode & 0o170000 : realMode & 0o170000;
  return type | (o.mode & 0o7777);
}

/**
 * A symlink's recorded owner (user.* xattrs cannot sit on a symlink): on its directory, under
 * this prefix + its name, "uid:gid:ino:ctimeNs" of the link it was set for, so that a link made
 * later under the same name (another inode or ctime) does not inherit it.
 */
export const LINK_OWNER_PREFIX = 'user.hutch.linkowner.';

export interface LinkStamp {
  ino: bigint;
  ctimeNs: bigint;
}

export function formatLinkOwner(uid: number, gid: number, link: LinkStamp): Buffer {
  return Buffer.from(`${uid}:${gid}:${link.ino}:${link.ctimeNs}`);
}

/** The owner a LINK_OWNER value gives `link`, or undefined when malformed or set for another link. */
export function parseLinkOwner(value: Buffer, link: LinkStamp): { uid: number; gid: number } | undefined {
  const m = /^(\d+):(\d+):(\d+):(\d+)$/.exec(value.toString('latin1'));
  if (m === null || BigInt(m[3]!) !== link.ino || BigInt(m[4]!) !== link.ctimeNs) return undefined;
  return { uid: Number(m[1]), gid: Number(m[2]) };
}

/** Whether an opaque-marker xattr value means "opaque". */
export function isOpaqueValue(v: Buffer | undefined): boolean {
  return v !== undefined && v.length > 0 && (v[0] === 0x79 /* y */ || v[0] === 0x31); /* 1 */
}
