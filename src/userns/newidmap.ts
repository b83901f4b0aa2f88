import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { BugError, UserNsError } from '../errors.js';
import { findOnPath } from '../sys/on-path.js';
import type { IdMapping } from './idmap.js';
import { mapArgs, mapText, needsHelper } from './idmap.js';

/** newuidmap or newgidmap (an absolute path) with its arguments after the pid: CONTAINER HOST SIZE... */
export interface IdMapTool {
  kind: 'uid' | 'gid';
  tool: string;
  args: string[];
}

/** Who writes the maps: the ids of the user running hutch (the namespace's owner). */
export interface MapWriter {
  uid: number;
  gid: number;
}

/**
 * The maps of a new user namespace that need the setuid newuidmap/newgidmap (which check
 * /etc/subuid and /etc/subgid): the helper runs these on its child right after the clone, both
 * at once (native/nsexec.c, ID_MAP), where each was a fork of hutch's own large process. The tool
 * is found on PATH now, so a missing one fails before anything starts.
 */
export function idMapTools(
  uidMaps: IdMapping[],
  gidMaps: IdMapping[],
  me: MapWriter,
  status = readFileSync('/proc/self/status', 'utf8'),
): IdMapTool[] {
  const tools: IdMapTool[] = [];
  for (const [kind, maps, myId] of [
    ['uid', uidMaps, me.uid],
    ['gid', gidMaps, me.gid],
  ] as const) {
    if (mapWay(kind, maps, myId, status) !== 'tool') continue;
    const tool = kind === 'uid' ? 'newuidmap' : 'newgidmap';
    tools.push({ kind, tool: onPath(tool), args: mapArgs(maps) });
  }
  return tools;
}

/**
 * Writes the uid and gid maps of the user namespace of process `pid` that the helper's tools
 * (`byHelper`, idMapTools) did not. A map of the caller's own id alone is written directly (the
 * kernel allows it, after "deny" to setgroups); so is any map by root of our own user namespace.
 */
export function writeIdMaps(
  pid: number,
  uidMaps: IdMapping[],
  gidMaps: IdMapping[],
  me: MapWriter,
  byHelper: IdMapTool[],
): void {
  for (const [kind, maps, myId] of [
    ['uid', uidMaps, me.uid],
    ['gid', gidMaps, me.gid],
  ] as const) {
    if (byHelper.some((t) => t.kind === kind)) continue;
    const way = mapWay(kind, maps, myId);
    if (way === 'tool')
      throw new BugError(`the ${kind} map of process ${pid} needs its tool, which the helper was not given`);
    // An unprivileged gid_map write needs setgroups denied first (user_namespaces(7)).
    if (way === 'own' && kind === 'gid') writeProc(pid, 'setgroups', 'deny');
    writeProc(pid, `${kind}_map`, mapText(maps));
  }
}

/** How a map is written: by root of our own user namespace with CAP_SETUID/SETGID (rootless podman calls the runtime so: the kernel takes any map of ids mapped here), our own id alone, or the setuid tool. */
function mapWay(
  kind: 'uid' | 'gid',
  maps: IdMapping[],
  myId: number,
  status = readFileSync('/proc/self/status', 'utf8'),
): 'capable' | 'own' | 'tool' {
  if (hasCapability(kind === 'uid' ? CAP_SETUID : CAP_SETGID, status)) return 'capable';
  return needsHelper(maps, myId) ? 'tool' : 'own';
}

/** The tool the helper's ID_MAP failure names, as hutch says it (the tool's last line of stderr is why). */
export function mapToolFailed(tool: IdMapTool, stderr: string): UserNsError {
  const name = basename(tool.tool);
  const why = stderr.trim().split('\n').pop() || 'it failed without a word';
  return new UserNsError('IDMAP_FAILED', `cannot map ${tool.kind}s with ${name}: ${why}`, {
    hint: `check your range in /etc/sub${tool.kind} and that ${name} is setuid root or has file capabilities (\`ls -l $(command -v ${name})\`)`,
  });
}

function onPath(tool: 'newuidmap' | 'newgidmap'): string {
  const found = findOnPath(tool);
  if (found !== undefined) return found;
  throw new UserNsError('NEWUIDMAP_MISSING', `cannot map ids: ${tool} is not installed`, {
    hint: 'install the uidmap package (`apt install uidmap` or `dnf install shadow-utils`), or run with no /etc/subuid range',
  });
}

const CAP_SETGID = 6;
const CAP_SETUID = 7;

/** Whether this process has `cap` in its effective set (/proc/self/status CapEff). */
export function hasCapability(cap: number, status = readFileSync('/proc/self/status', 'utf8')): boolean {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return hex !== undefined && ((BigInt(`0x${hex}`) >> BigInt(cap)) & 1n) === 1n;
}

function writeProc(pid: number, file: string, text: string): void {
  try {
    writeFileSync(`/proc/${pid}/${file}`, text);
  } catch (error) {
    throw new UserNsError(
      'IDMAP_FAILED',
      `cannot write /proc/${pid}/${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      {
        hint: 'run `hutch system info` to see whether this host allows user namespaces',
        cause: error,
      },
    );
  }
}
