import { lgetxattr, llistxattr, lremovexattr, lsetxattr } from '../src/sys/xattr.js';
import { ENODATA, EPERM, FsError } from './errno.js';
import { isPrivateXattr } from './xattr.js';
import { OWNER_REQUEST, recordOwner } from './setattr.js';
import { reachable } from '../src/sys/longpath.js';
import type { Node } from './node.js';
import type { Union } from './union.js';

/**
 * Extended attributes through the union: user.* and security.* pass through (copied up on
 * change); trusted.* and the union's own bookkeeping names are neither shown nor settable.
 */
/** An xattr's value, or undefined (ENODATA: the kernel asks for security.capability on every write). */
export function getXattr(u: Union, n: Node, name: string): Buffer | undefined {
  if (isPrivateXattr(name) || (n.fresh && name === 'security.capability')) return undefined;
  let v: Buffer | undefined;
  if (n.upper) v = lgetxattr(u.upperPath(n), name);
  else if (n.lower!.meta !== undefined) v = n.lower!.meta.xattrs.get(Buffer.from(name, 'latin1').toString('utf8'));
  else v = lgetxattr(reachable(n.lower!.real), name);
  return v;
}

export function listXattr(u: Union, n: Node): Buffer {
  let names: string[];
  if (n.upper) names = llistxattr(u.upperPath(n));
  else if (n.lower!.meta !== undefined)
    names = [...n.lower!.meta.xattrs.keys()].map((k) => Buffer.from(k).toString('latin1'));
  else names = llistxattr(reachable(n.lower!.real));
  const shown = names.filter((x) => !isPrivateXattr(x));
  return Buffer.from(shown.map((x) => x + '\0').join(''), 'latin1');
}

export function setXattr(u: Union, n: Node, name: string, value: Buffer, flags: number): void {
  if (name === OWNER_REQUEST) return recordOwner(u, n, value);
  if (isPrivateXattr(name)) throw new FsError(EPERM);
  u.copyUp(n);
  n.fresh = false;
  lsetxattr(u.upperPath(n), name, value, flags);
}

export function removeXattr(u: Union, n: Node, name: string): void {
  if (isPrivateXattr(name)) throw new FsError(ENODATA);
  u.copyUp(n);
  if (!lremovexattr(u.upperPath(n), name)) throw new FsError(ENODATA);
}
