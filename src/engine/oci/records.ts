import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import type { Spec } from '../../runtime/spec.js';
import type { CgroupInfo } from '../../cgroups/cgroup.js';
import { atomicWriteFile, withLock } from '../../sys/fs.js';
import { isSameProcess, processStartTime } from '../../sys/proc.js';
import { runHooks, type OciStateJson } from './hooks.js';
import { removeOciCgroup } from './cgroup.js';

/** A process told from a later one that got its pid again. */
export interface ProcessId {
  pid: number;
  start?: number;
}

/** One container of the OCI face: ROOT/<id>/state.json. */
export interface OciRecord {
  id: string;
  bundle: string;
  spec: Spec;
  pid: number;
  pidStart?: number;
  created: string;
  /** What was last recorded; `stopped` is read from /proc. */
  status: 'creating' | 'created' | 'running';
  /** The container's cgroup, when the host gave one (removed by delete). */
  cgroup?: CgroupInfo;
  /**
   * The hutch process that removes the entry itself: `create` while it creates, a foreground `run`
   * until the container ends. Its container dies with it (parent-death signal), so once both are
   * gone the entry is a leftover of a killed runtime, removed by whichever command sees it next.
   */
  owner?: ProcessId;
}

export function thisProcess(): ProcessId {
  return { pid: process.pid, start: processStartTime(process.pid) };
}

export function ociStatus(record: OciRecord): OciStateJson['status'] {
  if (record.status === 'creating') return 'creating';
  return isSameProcess(record.pid, record.pidStart) ? record.status : 'stopped';
}

/** The state as the runtime spec's `state` operation prints it. */
export function stateJson(record: OciRecord): OciStateJson {
  const status = ociStatus(record);
  // Never pid 0 (creating): a caller that signals it would signal its own process group.
  return {
    ociVersion: record.spec.ociVersion,
    id: record.id,
    status,
    ...(status === 'stopped' || record.pid <= 0 ? {} : { pid: record.pid }),
    bundle: record.bundle,
    annotations: record.spec.annotations ?? {},
  };
}

/** Left by a runtime that was killed: its owner and its container are both gone. */
export function isLeftover(record: OciRecord): boolean {
  return (
    record.owner !== undefined &&
    !isSameProcess(record.owner.pid, record.owner.start) &&
    !isSameProcess(record.pid, record.pidStart)
  );
}

/** The record as stored, leftovers included. */
export function readRecord(root: string, id: string): OciRecord {
  checkId(id);
  try {
    return JSON.parse(readFileSync(join(root, id, 'state.json'), 'utf8')) as OciRecord;
  } catch (error) {
    throw notFound(id, error);
  }
}

/** A container's record; a leftover is removed on sight and does not exist, as after its `run`. */
export async function read(root: string, id: string): Promise<OciRecord> {
  const record = readRecord(root, id);
  if (!isLeftover(record)) return record;
  await removeEntry(root, record);
  throw notFound(id);
}

/** Every container under the root (leftovers removed). */
export async function listOci(root: string): Promise<OciRecord[]> {
  if (!existsSync(root)) return [];
  const out: OciRecord[] = [];
  for (const id of readdirSync(root).filter((e) => !e.startsWith('.'))) {
    try {
      out.push(await read(root, id));
    } catch {
      // being deleted, or a leftover just removed
    }
  }
  return out;
}

export function writeRecord(root: string, record: OciRecord): void {
  atomicWriteFile(join(root, record.id, 'state.json'), JSON.stringify(record) + '\n', 0o600);
}

/**
 * Makes ROOT/<id> with `record` (status creating) under the root's lock: a leftover of the id is
 * removed first, a live one refused, and a folder without state.json (a runtime killed before it
 * wrote one, runc's "aborted start") taken over.
 */
export async function reserve(root: string, record: OciRecord): Promise<void> {
  checkId(record.id);
  const dir = join(root, record.id);
  let gone: { path: string; old: OciRecord } | undefined;
  await withLock(lockOf(root), () => {
    if (existsSync(join(dir, 'state.json'))) {
      const old = readRecord(root, record.id);
      if (!isLeftover(old))
        throw new UsageError('CONTAINER_EXISTS', `container ${record.id} already exists`, {
          hint: `delete it first: hutch runtime delete ${record.id}`,
        });
      const path = claim(root, old);
      if (path !== undefined) gone = { path, old };
    } else rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeRecord(root, record);
  });
  if (gone !== undefined) await finish(gone.path, gone.old);
}

/**
 * Removes a container's entry, its cgroup, then runs its poststop hooks (once it had a process).
 * The entry is claimed under the lock by renaming it, so of a runtime and a `delete` that end the
 * same container only one does this. Returns false when the entry was already gone or replaced.
 */
export async function removeEntry(root: string, record: OciRecord): Promise<boolean> {
  const path = await withLock(lockOf(root), () => claim(root, record));
  if (path === undefined) return false;
  await finish(path, record);
  return true;
}

/** Removes a folder left without state.json (runc's delete does the same); false when there is none. */
export async function removeBareEntry(root: string, id: string): Promise<boolean> {
  checkId(id);
  const dir = join(root, id);
  return withLock(lockOf(root), () => {
    if (!existsSync(dir) || existsSync(join(dir, 'state.json'))) return false;
    rmSync(dir, { recursive: true, force: true });
    return true;
  });
}

/** Renames the entry out of the way when it is still `record`'s; call under the lock. */
function claim(root: string, record: OciRecord): string | undefined {
  let now: OciRecord;
  try {
    now = readRecord(root, record.id);
  } catch {
    return undefined;
  }
  if (now.created !== record.created || now.owner?.pid !== record.owner?.pid) return undefined;
  const path = join(root, `.gone-${record.id}-${process.pid}-${Date.now()}`);
  renameSync(join(root, record.id), path);
  return path;
}

async function finish(path: string, record: OciRecord): Promise<void> {
  await removeOciCgroup(record.cgroup).catch((error) =>
    warn(`cannot remove the cgroup of ${record.id}: ${(error as Error).message}`),
  );
  rmSync(path, { recursive: true, force: true });
  if (record.pid > 0)
    await runHooks('poststop', record.spec.hooks?.poststop, { ...stateJson(record), status: 'stopped' }).catch(
      (error) => warn((error as Error).message),
    );
}

export function checkId(id: string): void {
  if (!/^[\w][\w.+-]*$/.test(id) || id.length > 1024)
    throw new UsageError('CONTAINER_ID_INVALID', `invalid container id ${JSON.stringify(id)}`, {
      hint: 'use letters, digits, _ . + and -',
    });
}

function notFound(id: string, cause?: unknown): UsageError {
  return new UsageError('CONTAINER_NOT_FOUND', `container ${id} does not exist`, {
    hint: 'list containers with `hutch runtime list`',
    cause,
  });
}

function lockOf(root: string): string {
  return join(root, '.lock');
}

function warn(line: string): void {
  process.stderr.write(`hutch: warning: ${line}\n`);
}
