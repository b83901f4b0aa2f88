import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import { privateTmpDir } from '../../paths.js';
import type { Hook, Process, Spec } from '../../runtime/spec.js';
import { atomicWriteFile } from '../../sys/atomic-write.js';
import { isSameProcess, processStartTime } from '../../sys/proc.js';
import type { CgroupInfo } from '../../cgroups/cgroup.js';
import type { OciStateJson } from '../launch/index.js';

/**
 * The OCI runtime face's record store and the verbs that touch only a record and its process
 * (state, start, kill, delete): engines call them several times per container, so this file
 * loads no launcher, cgroup or foreign-call code; hooks and cgroups load when a record has them.
 *
 * runc's model: no monitor. `create` leaves the container process waiting on a fifo and exits;
 * the caller (conmon, scrun, a shell) adopts the process as its subreaper; `start` opens the
 * fifo; state is read from ROOT/<id>/state.json and /proc.
 *
 * This file owns the store's format (docs/oci-records.md). native/hutch-runtime-front, what
 * bin/hutch-runtime runs, reads and writes the same files for state, start, kill and delete: a
 * change here (a field, a step) goes there too; test/integration/runtime-front.test.ts compares
 * the two on the same records.
 */
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

/**
 * Every field a record may have: the C front hands a record with any other field to Node, so a
 * new field here goes into its list too (test/unit/engine/oci-record-fields.test.ts).
 */
export const RECORD_FIELDS: Record<keyof OciRecord, true> = {
  ...{ id: true, bundle: true, spec: true, pid: true, pidStart: true, created: true, status: true },
  ...{ cgroup: true, owner: true },
};

/** A process told from a later one that got its pid again. */
export interface ProcessId {
  pid: number;
  start?: number;
}

export function thisProcess(): ProcessId {
  return { pid: process.pid, start: processStartTime(process.pid) };
}

/** Left by a runtime that was killed: its owner and its container are both gone. */
export function isLeftover(record: OciRecord): boolean {
  return (
    record.owner !== undefined &&
    !isSameProcess(record.owner.pid, record.owner.start) &&
    !isSameProcess(record.pid, record.pidStart)
  );
}

/** runc's default state root, made rootless: $XDG_RUNTIME_DIR/hutch-runtime. */
export function defaultOciRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.XDG_RUNTIME_DIR
    ? join(env.XDG_RUNTIME_DIR, 'hutch-runtime')
    : privateTmpDir(`/tmp/hutch-runtime-${process.getuid?.()}`);
}

/** `start`: lets the created process exec, then runs the poststart hooks. */
export async function ociStart(root: string, id: string): Promise<void> {
  const record = await read(root, id);
  const status = ociStatus(record);
  if (status !== 'created')
    throw new UsageError('CONTAINER_STATE', `cannot start container ${id}: it is ${status}`, {
      hint: status === 'stopped' ? `delete it and create it again` : 'only a created container can be started',
    });
  const inside = record.spec.hooks?.startContainer;
  if (hasHooks(inside)) await startContainerHooks(record, inside);
  const fifo = openSync(join(root, id, 'exec.fifo'), 'r'); // the process waits to open it for writing
  try {
    readSync(fifo, Buffer.alloc(1));
  } finally {
    closeSync(fifo);
  }
  rmSync(join(root, id, 'exec.fifo'), { force: true });
  const running: OciRecord = { ...record, status: 'running' };
  writeRecord(root, running);
  await runOutsideHooks('poststart', record.spec.hooks?.poststart, stateJson(running));
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

export function ociStatus(record: OciRecord): OciStateJson['status'] {
  if (record.status === 'creating') return 'creating';
  return isSameProcess(record.pid, record.pidStart) ? record.status : 'stopped';
}

export async function ociKill(root: string, id: string, signal: number): Promise<void> {
  const record = await read(root, id);
  const status = ociStatus(record);
  if (status !== 'created' && status !== 'running')
    throw new UsageError('CONTAINER_NOT_RUNNING', `cannot signal container ${id}: it is ${status}`, {
      hint: 'the container has ended; delete it',
    });
  process.kill(record.pid, signal);
}

/**
 * `delete`: a running container only with --force (killed first); then the poststop hooks. A
 * container being created is ended, with --force, by killing the runtime that creates it (its
 * process dies with it); a folder left without state.json is removed, as runc does.
 */
export async function ociDelete(root: string, id: string, force: boolean): Promise<void> {
  let record: OciRecord;
  try {
    record = await read(root, id);
  } catch (error) {
    if ((error as UsageError).code === 'CONTAINER_NOT_FOUND') await removeBareEntry(root, id);
    if (force) return;
    throw error;
  }
  const status = ociStatus(record);
  if ((status === 'running' || status === 'creating') && !force)
    throw new UsageError(
      'CONTAINER_RUNNING',
      `cannot delete container ${id}: it is ${status === 'creating' ? 'being created' : status}`,
      { hint: `stop it first (hutch runtime kill ${id} KILL), or use delete --force` },
    );
  if (status === 'creating' && record.owner !== undefined) await killAndWait(record.owner);
  if (status === 'running' || status === 'created') await killAndWait({ pid: record.pid, start: record.pidStart });
  await removeEntry(root, record);
}

async function killAndWait(target: ProcessId): Promise<void> {
  if (!isSameProcess(target.pid, target.start)) return;
  process.kill(target.pid, 'SIGKILL');
  for (let i = 0; i < 200 && isSameProcess(target.pid, target.start); i++) await new Promise((r) => setTimeout(r, 25));
}

/**
 * Removes a container's entry, its cgroup, then runs its poststop hooks (once it had a process).
 * The entry is claimed by renaming it away (atomic, no lock and so no foreign-call code on this
 * path): of a runtime and a `delete` that end the same container only one does the rest. Returns
 * false when the entry was already gone or replaced.
 */
export async function removeEntry(root: string, record: OciRecord): Promise<boolean> {
  const rest = takeEntry(root, record);
  if (rest === undefined) return false;
  await rest();
  return true;
}

/**
 * Claims a container's entry (renamed away: from here no command sees it) and returns the rest of
 * its removal (cgroup, files, poststop hooks), which a caller holding the root's lock runs after
 * releasing it: a hook may itself call the runtime on this root. Undefined when not ours to remove.
 */
export function takeEntry(root: string, record: OciRecord): (() => Promise<void>) | undefined {
  const path = claimEntry(root, record);
  if (path === undefined) return undefined;
  return async () => {
    if (record.cgroup !== undefined)
      await (
        await import('./cgroup.js')
      )
        .removeOciCgroup(record.cgroup)
        .catch((error) => warn(`cannot remove the cgroup of ${record.id}: ${(error as Error).message}`));
    rmSync(path, { recursive: true, force: true });
    if (record.pid > 0)
      await runOutsideHooks('poststop', record.spec.hooks?.poststop, { ...stateJson(record), status: 'stopped' });
  };
}

/** Renames ROOT/<id> out of the way when it still holds `record`; undefined when it does not. */
function claimEntry(root: string, record: OciRecord): string | undefined {
  if (!sameEntry(join(root, record.id), record)) return undefined;
  const path = join(root, `.gone-${record.id}-${process.pid}-${Date.now()}`);
  try {
    renameSync(join(root, record.id), path);
  } catch {
    return undefined; // another command claimed it first
  }
  if (sameEntry(path, record)) return path;
  renameSync(path, join(root, record.id)); // a new container of that id came in between: not ours
  return undefined;
}

function sameEntry(dir: string, record: OciRecord): boolean {
  try {
    const now = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as OciRecord;
    return now.created === record.created && now.owner?.pid === record.owner?.pid;
  } catch {
    return false;
  }
}

/** Hooks run after the fact (poststart, poststop): a failure is a warning, as runc's. */
async function runOutsideHooks(kind: string, hooks: Hook[] | undefined, state: OciStateJson): Promise<void> {
  if (!hasHooks(hooks)) return;
  await (
    await import('../launch/index.js')
  )
    .runHooks(kind, hooks, state)
    .catch((error) => process.stderr.write(`hutch: warning: ${(error as Error).message}\n`));
}

/** startContainer hooks run inside the created container; the launcher loads only when there are some. */
async function startContainerHooks(record: OciRecord, hooks: Hook[]): Promise<void> {
  const [{ runHooksInside }, { joinCreatedSpec }] = await Promise.all([
    import('../launch/index.js'),
    import('../spec/index.js'),
  ]);
  const joining = (p: Process): Spec => joinCreatedSpec(record.spec, record.pid, p);
  await runHooksInside('startContainer', hooks, { spec: record.spec, joining }, stateJson(record));
}

function hasHooks(hooks: Hook[] | undefined): hooks is Hook[] {
  return hooks !== undefined && hooks.length > 0;
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

/** Removes a folder left without state.json (runc's delete does the same); false when there is none. */
async function removeBareEntry(root: string, id: string): Promise<boolean> {
  const dir = join(root, id);
  const { withLock } = await import('../../sys/fs.js'); // flock: foreign-call code, loaded on this path only
  // reserve (entries.ts) makes a folder and its state.json together under this lock.
  return withLock(ociLockFile(root), () => {
    if (!existsSync(dir) || existsSync(join(dir, 'state.json'))) return false;
    rmSync(dir, { recursive: true, force: true });
    return true;
  });
}

/** The root's lock: reserving an id and clearing a bare folder take it. */
export function ociLockFile(root: string): string {
  return join(root, '.lock');
}

function notFound(id: string, cause?: unknown): UsageError {
  return new UsageError('CONTAINER_NOT_FOUND', `container ${id} does not exist`, {
    hint: 'list containers with `hutch runtime list`',
    cause,
  });
}

function warn(line: string): void {
  process.stderr.write(`hutch: warning: ${line}\n`);
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

/** Not synced to disk: the record lives in a runtime folder and dies with its process at a crash. */
export function writeRecord(root: string, record: OciRecord): void {
  atomicWriteFile(join(root, record.id, 'state.json'), JSON.stringify(record) + '\n', 0o600, false);
}

export function checkId(id: string): void {
  if (!/^[\w][\w.+-]*$/.test(id) || id.length > 1024)
    throw new UsageError('CONTAINER_ID_INVALID', `invalid container id ${JSON.stringify(id)}`, {
      hint: 'use letters, digits, _ . + and -',
    });
}
