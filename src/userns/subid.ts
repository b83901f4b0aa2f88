import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserNsError } from '../errors.js';
import { childProcess } from '../sys/on-use.js';

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

/** A user's ranges as a run uses them (merged), with where they came from and what was merged. */
export interface SubidLookup {
  ranges: SubidRange[];
  /** The ranges as listed, before merging (equal to `ranges` when nothing overlapped or touched). */
  listed: SubidRange[];
  source: 'file' | 'getsubids' | 'none';
}

export interface SubidOptions {
  /** '/' on a real host, a temporary directory in tests. */
  root?: string;
  /** The getsubids command to ask when the file has no entry; false: do not ask. Default: on '/' only. */
  getsubids?: string | false;
}

/** The ranges of `owner` in a subuid/subgid file's text, in file order. Malformed lines are skipped. */
export function parseSubid(text: string, owner: SubidOwner): SubidRange[] {
  const ranges: SubidRange[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(':');
    if (fields.length !== 3 || (fields[0] !== owner.name && fields[0] !== String(owner.id))) continue;
    const range = toRange(fields[1]!, fields[2]!);
    if (range !== undefined) ranges.push(range);
  }
  return ranges;
}

/** getsubids' output ("0: alice 100000 65536" per range) as ranges; other lines are skipped. */
export function parseGetsubids(text: string): SubidRange[] {
  return text
    .split('\n')
    .map((line) => /^\s*\d+:\s+\S+\s+(\d+)\s+(\d+)\s*$/.exec(line))
    .flatMap((m) => (m === null ? [] : [toRange(m[1]!, m[2]!)].filter((r) => r !== undefined)));
}

function toRange(startText: string, countText: string): SubidRange | undefined {
  const start = Number(startText);
  const count = Number(countText);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || start < 0 || count <= 0) return undefined;
  return { start, count };
}

/**
 * Overlapping and adjacent ranges as one, sorted by start: an admin's `usermod --add-subuids`
 * over useradd's automatic range would otherwise map one host id twice (the kernel refuses).
 * newuidmap accepts a map spanning such ranges (shadow's have_range walks from one to the next).
 */
export function mergeRanges(ranges: SubidRange[]): SubidRange[] {
  const merged: SubidRange[] = [];
  for (const r of [...ranges].sort((a, b) => a.start - b.start)) {
    const last = merged.at(-1);
    if (last !== undefined && r.start <= last.start + last.count) {
      last.count = Math.max(last.count, r.start + r.count - last.start);
    } else merged.push({ ...r });
  }
  return merged;
}

/**
 * `owner`'s ranges from ROOT/etc/subuid (kind 'uid') or ROOT/etc/subgid, merged; where the file
 * has no entry, from `getsubids` (shadow 4.13+, which also serves SSSD/LDAP subids); else none.
 */
export function lookupSubid(kind: 'uid' | 'gid', owner: SubidOwner, options: SubidOptions = {}): SubidLookup {
  const root = options.root ?? '/';
  let listed = parseSubid(readSubidFile(join(root, 'etc', `sub${kind}`)), owner);
  let source: SubidLookup['source'] = 'file';
  if (listed.length === 0) {
    const command = options.getsubids ?? (root === '/' ? 'getsubids' : false);
    listed = command === false ? [] : askGetsubids(command, kind, owner.name);
    source = listed.length > 0 ? 'getsubids' : 'none';
  }
  return { ranges: mergeRanges(listed), listed, source };
}

/** The merged ranges alone (see lookupSubid). */
export function readSubid(kind: 'uid' | 'gid', owner: SubidOwner, root = '/'): SubidRange[] {
  return lookupSubid(kind, owner, { root }).ranges;
}

/** A missing file means no ranges. */
function readSubidFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new UserNsError('SUBID_UNREADABLE', `cannot read ${file}: ${(error as Error).message}`, {
      hint: `make ${file} readable (mode 0644)`,
      cause: error,
    });
  }
}

/**
 * Asks getsubids; an absent tool (shadow before 4.13), a user it does not know ("Error fetching
 * ranges", status 1) or a hung NSS backend all mean no ranges, quietly: the user alone is mapped.
 */
function askGetsubids(command: string, kind: 'uid' | 'gid', name: string): SubidRange[] {
  const args = kind === 'gid' ? ['-g', name] : [name];
  const result = childProcess().spawnSync(command, args, {
    encoding: 'utf8',
    timeout: 5000,
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  if (result.error !== undefined || result.status !== 0) return [];
  return parseGetsubids(result.stdout);
}

/** Total ids in the ranges. */
export function rangeSize(ranges: SubidRange[]): number {
  return ranges.reduce((sum, r) => sum + r.count, 0);
}
