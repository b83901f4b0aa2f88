import { UsageError, UserNsError } from '../errors.js';
import { rangeSize, type SubidRange } from './subid.js';

/**
 * Id-map arithmetic (pure). Maps use the OCI names: `size` ids from `containerID` inside map to
 * ids from `hostID` outside.
 */
export type UsernsMode = 'auto' | 'keep-id';

/** The user's own id maps to container root; container ids 1.. map to the ranges in order. */
export function rootMaps(hostId: number, ranges: SubidRange[]): IdMapping[] {
  const maps: IdMapping[] = [{ containerID: 0, hostID: hostId, size: 1 }];
  let next = 1;
  for (const r of ranges) {
    maps.push({ containerID: next, hostID: r.start, size: r.count });
    next += r.count;
  }
  return maps;
}

/**
 * --userns=keep-id: the user keeps its id inside; the ranges fill container ids 0.. around it
 * (podman's layout), so root and the image's users still exist when the host gives a range.
 */
export function keepIdMaps(hostId: number, ranges: SubidRange[]): IdMapping[] {
  const maps: IdMapping[] = [];
  let next = 0;
  for (const r of ranges) {
    let { start, count } = r;
    if (next <= hostId && hostId < next + count) {
      const before = hostId - next;
      if (before > 0) maps.push({ containerID: next, hostID: start, size: before });
      start += before;
      count -= before;
      next = hostId + 1;
    }
    if (count > 0) maps.push({ containerID: next, hostID: start, size: count });
    next += count;
  }
  maps.push({ containerID: hostId, hostID: hostId, size: 1 });
  return maps.sort((a, b) => a.containerID - b.containerID);
}

/** The maps for a mode, given the user's id and its ranges (none: the user alone). */
export function chooseMaps(mode: UsernsMode, hostId: number, ranges: SubidRange[]): IdMapping[] {
  return mode === 'keep-id' ? keepIdMaps(hostId, ranges) : rootMaps(hostId, ranges);
}

/** The host id a container id maps to, or undefined when it is not mapped. */
export function toHost(maps: IdMapping[], id: number): number | undefined {
  const m = maps.find((m) => id >= m.containerID && id < m.containerID + m.size);
  return m === undefined ? undefined : m.hostID + (id - m.containerID);
}

/** Whether the maps need newuidmap (anything beyond the caller's own id, which it may write itself). */
export function needsHelper(maps: IdMapping[], hostId: number): boolean {
  return !(maps.length === 1 && maps[0]!.hostID === hostId && maps[0]!.size === 1);
}

/** Parses podman's --uidmap CONTAINER:HOST:SIZE. */
export function parseMapFlag(flag: string, value: string): IdMapping {
  const parts = value.split(':').map(Number);
  if (parts.length !== 3 || parts.some((n) => !Number.isSafeInteger(n) || n < 0) || parts[2] === 0) {
    throw new UsageError('IDMAP_FLAG', `invalid ${flag} ${value}: expected CONTAINER:HOST:SIZE`, {
      hint: `e.g. ${flag} 0:100000:65536`,
    });
  }
  return { containerID: parts[0]!, hostID: parts[1]!, size: parts[2]! };
}

/** Throws when two maps overlap inside or outside (the kernel would refuse them with EINVAL). */
export function checkMaps(kind: 'uid' | 'gid', maps: IdMapping[]): void {
  for (const [i, a] of maps.entries()) {
    for (const b of maps.slice(i + 1)) {
      const inside = a.containerID < b.containerID + b.size && b.containerID < a.containerID + a.size;
      const outside = a.hostID < b.hostID + b.size && b.hostID < a.hostID + a.size;
      if (inside || outside)
        throw new UsageError('IDMAP_OVERLAP', `invalid ${kind} map: ${fmt(a)} overlaps ${fmt(b)}`, {
          hint: 'give ranges that do not overlap',
        });
    }
  }
}

/** Arguments of newuidmap/newgidmap after the pid: "inside outside size" triples. */
export function mapArgs(maps: IdMapping[]): string[] {
  return maps.flatMap((m) => [String(m.containerID), String(m.hostID), String(m.size)]);
}

/** The text written to /proc/PID/uid_map. */
export function mapText(maps: IdMapping[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

/** Throws when a container user needs more ids than the ranges give. */
export function requireMapped(kind: 'uid' | 'gid', maps: IdMapping[], id: number, ranges: SubidRange[]): void {
  if (toHost(maps, id) !== undefined) return;
  const file = `/etc/sub${kind}`;
  const have = rangeSize(ranges);
  throw new UserNsError(
    have === 0 ? 'SUBID_MISSING' : 'SUBID_TOO_SMALL',
    `cannot run as ${kind} ${id}: it is not mapped in the container (${file} gives ${have === 0 ? 'no range' : `${have} ids`})`,
    {
      hint: `ask an administrator to add a range of 65536 ids for you to ${file} (e.g. \`usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER\`)`,
    },
  );
}

function fmt(m: IdMapping): string {
  return `${m.containerID}:${m.hostID}:${m.size}`;
}

/** Parses the text of /proc/PID/uid_map or gid_map ("inside outside size" lines). */
export function parseMapText(text: string): IdMapping[] {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter((f) => f.length === 3 && f.every(Number.isSafeInteger))
    .map(([containerID, hostID, size]) => ({ containerID: containerID!, hostID: hostID!, size: size! }));
}

/** One line of /proc/PID/uid_map: `size` ids from `containerID` map to ids from `hostID`. */
export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}
