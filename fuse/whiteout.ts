/**
 * Whiteout rules shared by lower layers and the upper layer, as overlayfs and fuse-overlayfs
 * write them: a character device 0/0 named like the hidden entry, or a `.wh.NAME` file; a
 * directory is opaque with an opaque xattr or a `.wh..wh..opq` file inside. Pure: no I/O.
 */
export const WH_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
const S_IFMT = 0o170000;
const S_IFCHR = 0o020000;

/** The hidden name of a `.wh.` file, or undefined for an ordinary name. */
export function whiteoutTarget(name: string): string | undefined {
  if (name === OPAQUE_MARKER || !name.startsWith(WH_PREFIX)) return undefined;
  return name.slice(WH_PREFIX.length);
}

/** A name the union never shows: whiteout files and markers, and the names of its own files. */
export function isReservedName(name: string): boolean {
  return name.startsWith(WH_PREFIX);
}

/** Whether a (mode, rdev) pair is an overlay whiteout: a character device 0/0. */
export function isWhiteoutDevice(mode: number, rdev: number): boolean {
  return (mode & S_IFMT) === S_IFCHR && rdev === 0;
}
