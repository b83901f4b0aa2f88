import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import { privateTmpDir } from '../../paths.js';
import type { Hook, Process, Spec } from '../../runtime/spec.js';
import { atomicWriteFile } from '../../sys/atomic-write.js';
import { isSameProcess } from '../../sys/proc.js';
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
}

/** runc's default state root, made rootless: $XDG_RUNTIME_DIR/hutch-runtime. */
export function defaultOciRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.XDG_RUNTIME_DIR
    ? join(env.XDG_RUNTIME_DIR, 'hutch-runtime')
    : privateTmpDir(`/tmp/hutch-runtime-${process.getuid?.()}`);
}

/** `start`: lets the created process exec, then runs the poststart hooks. */
export async function ociStart(root: string, id: string): Promise<void> {
  const record = read(root, id);
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

export function ociKill(root: string, id: string, signal: number): void {
  const record = read(root, id);
  const status = ociStatus(record);
  if (status !== 'created' && status !== 'running')
    throw new UsageError('CONTAINER_NOT_RUNNING', `cannot signal container ${id}: it is ${status}`, {
      hint: 'the container has ended; delete it',
    });
  process.kill(record.pid, signal);
}

/** `delete`: a running container only with --force (killed first); then the poststop hooks. */
export async function ociDelete(root: string, id: string, force: boolean): Promise<void> {
  let record: OciRecord;
  try {
    record = read(root, id);
  } catch (error) {
    if (force) return;
    throw error;
  }
  const status = ociStatus(record);
  if (status === 'running' && !force)
    throw new UsageError('CONTAINER_RUNNING', `cannot delete container ${id}: it is running`, {
      hint: `stop it first (hutch runtime kill ${id} KILL), or use delete --force`,
    });
  if (status === 'running' || status === 'created') {
    process.kill(record.pid, 'SIGKILL');
    for (let i = 0; i < 200 && isSameProcess(record.pid, record.pidStart); i++)
      await new Promise((r) => setTimeout(r, 25));
  }
  if (record.cgroup !== undefined)
    await (
      await import('./cgroup.js')
    )
      .removeOciCgroup(record.cgroup)
      .catch((error) =>
        process.stderr.write(`hutch: warning: cannot remove the cgroup of ${id}: ${(error as Error).message}\n`),
      );
  rmSync(join(root, id), { recursive: true, force: true });
  await runOutsideHooks('poststop', record.spec.hooks?.poststop, { ...stateJson(record), status: 'stopped' });
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
  const [{ runHooksInside }, { execSpec, unstartedSpec }] = await Promise.all([
    import('../launch/index.js'),
    import('../spec/index.js'),
  ]);
  const joining = (p: Process): Spec => execSpec(unstartedSpec(record.spec), record.pid, p);
  await runHooksInside('startContainer', hooks, { spec: record.spec, joining }, stateJson(record));
}

function hasHooks(hooks: Hook[] | undefined): hooks is Hook[] {
  return hooks !== undefined && hooks.length > 0;
}

export function read(root: string, id: string): OciRecord {
  checkId(id);
  try {
    return JSON.parse(readFileSync(join(root, id, 'state.json'), 'utf8')) as OciRecord;
  } catch (error) {
    throw new UsageError('CONTAINER_NOT_FOUND', `container ${id} does not exist`, {
      hint: 'list containers with `hutch runtime list`',
      cause: error,
    });
  }
}

/** Every container under the root. */
export function listOci(root: string): OciRecord[] {
  if (!existsSync(root)) return [];
  const out: OciRecord[] = [];
  for (const id of readdirSync(root).filter((e) => !e.startsWith('.'))) {
    try {
      out.push(read(root, id));
    } catch {
      // being deleted
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
