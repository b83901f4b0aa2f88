import { readFileSync, writeFileSync } from 'node:fs';
import { execFile, type ExecFileException } from 'node:child_process';
import { UserNsError } from '../errors.js';
import type { IdMapping } from './idmap.js';
import { mapArgs, mapText, needsHelper } from './idmap.js';

/** Who writes the maps: the ids of the user running hutch (the namespace's owner). */
export interface MapWriter {
  uid: number;
  gid: number;
}

/**
 * Writes the uid and gid maps of the user namespace of process `pid`. A map of the caller's own
 * id alone is written directly (the kernel allows it, after "deny" to setgroups); anything else
 * goes through the setuid newuidmap/newgidmap, which check /etc/subuid and /etc/subgid.
 */
export async function writeIdMaps(
  pid: number,
  uidMaps: IdMapping[],
  gidMaps: IdMapping[],
  me: MapWriter,
): Promise<void> {
  // The two maps are independent: write them at once (each tool is a process start of its own).
  const results = await Promise.allSettled([
    writeMap(pid, 'uid', uidMaps, me.uid),
    writeMap(pid, 'gid', gidMaps, me.gid),
  ]);
  // Report the uid side first, whichever failed first: the same cause gives the same message.
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}

async function writeMap(pid: number, kind: 'uid' | 'gid', maps: IdMapping[], myId: number): Promise<void> {
  // Root of our own user namespace with CAP_SETUID/SETGID (rootless podman calls the runtime so):
  // the kernel lets us write any map of ids mapped here, where newuidmap would check /etc/subuid.
  if (hasCapability(kind === 'uid' ? CAP_SETUID : CAP_SETGID)) return writeProc(pid, `${kind}_map`, mapText(maps));
  if (needsHelper(maps, myId)) return runTool(kind === 'uid' ? 'newuidmap' : 'newgidmap', pid, maps, kind);
  // An unprivileged gid_map write needs setgroups denied first (user_namespaces(7)).
  if (kind === 'gid') writeProc(pid, 'setgroups', 'deny');
  writeProc(pid, `${kind}_map`, mapText(maps));
}

const CAP_SETGID = 6;
const CAP_SETUID = 7;

/** Whether this process has `cap` in its effective set (/proc/self/status CapEff). */
export function hasCapability(cap: number, status = readFileSync('/proc/self/status', 'utf8')): boolean {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return hex !== undefined && ((BigInt(`0x${hex}`) >> BigInt(cap)) & 1n) === 1n;
}

// node:child_process rather than execa: execa costs ~70 ms to load, on every `hutch run`.
async function runTool(
  tool: 'newuidmap' | 'newgidmap',
  pid: number,
  maps: IdMapping[],
  kind: 'uid' | 'gid',
): Promise<void> {
  const result = await new Promise<{ error: ExecFileException | null; stderr: string }>((resolve) => {
    execFile(tool, [String(pid), ...mapArgs(maps)], { encoding: 'utf8' }, (error, _stdout, stderr) =>
      resolve({ error, stderr }),
    );
  });
  if (result.error === null) return;
  if (result.error.code === 'ENOENT') throw toolMissing(tool, result.error);
  const why = (result.stderr || result.error.message).trim().split('\n').pop();
  throw new UserNsError('IDMAP_FAILED', `cannot map ${kind}s with ${tool}: ${why}`, {
    hint: `check your range in /etc/sub${kind} and that ${tool} is setuid root or has file capabilities (\`ls -l $(command -v ${tool})\`)`,
  });
}

function toolMissing(tool: string, cause: unknown): UserNsError {
  return new UserNsError('NEWUIDMAP_MISSING', `cannot map ids: ${tool} is not installed`, {
    hint: 'install the uidmap package (`apt install uidmap` or `dnf install shadow-utils`), or run with no /etc/subuid range',
    cause,
  });
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
