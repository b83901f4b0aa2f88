import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserNsError } from '../errors.js';

/** A subordinate id range of /etc/subuid or /etc/subgid: `count` ids from `start`. */
export interface SubidRange {
  start: number;
  count: number;
}

/** Who the ranges are for: a line may name the user or its numeric id. */
export interface SubidOwner {
  name: string;
  id: number;
}

/** The ranges of `owner` in a subuid/subgid file's text, in file order. Malformed lines are skipped. */
export function parseSubid(text: string, owner: SubidOwner): SubidRange[] {
  const ranges: SubidRange[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(':');
    if (fields.length !== 3 || (fields[0] !== owner.name && fields[0] !== String(owner.id))) continue;
    const start = Number(fields[1]);
    const count = Number(fields[2]);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || start < 0 || count <= 0) continue;
    ranges.push({ start, count });
  }
  return ranges;
}

/**
 * Reads `owner`'s ranges from ROOT/etc/subuid (kind 'uid') or ROOT/etc/subgid; `root` is '/' on
 * a real host and a temporary directory in tests. A missing file means no ranges.
 */
export function readSubid(kind: 'uid' | 'gid', owner: SubidOwner, root = '/'): SubidRange[] {
  const file = join(root, 'etc', `sub${kind}`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new UserNsError('SUBID_UNREADABLE', `cannot read ${file}: ${(error as Error).message}`, { hint: `make ${file} readable (mode 0644)`, cause: error });
  }
  return parseSubid(text, owner);
}

/** Total ids in the ranges. */
export function rangeSize(ranges: SubidRange[]): number {
  return ranges.reduce((sum, r) => sum + r.count, 0);
}
