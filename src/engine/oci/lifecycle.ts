import { chmodSync, closeSync, existsSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { privateTmpDir } from '../../paths.js';
import type { Spec } from '../../runtime/spec.js';
import { parseSpec } from '../../runtime/validate.js';
import { atomicWriteFile } from '../../sys/fs.js';
import { mkfifo } from '../../sys/pipe.js';
import { isSameProcess, processStartTime } from '../../sys/proc.js';
import { runHooks, runHooksInside, type OciStateJson } from './hooks.js';
import { createContainer } from '../launch/index.js';
import { ociCgroup } from './cgroup.js';
import { applyOomScoreAdj, unappliedSettings } from './extras.js';
import {
  ociStatus,
  read,
  removeBareEntry,
  removeEntry,
  reserve,
  stateJson,
  thisProcess,
  writeRecord as write,
  type OciRecord,
} from './records.js';

export { listOci, ociStatus, read, stateJson, type OciRecord } from './records.js';

/**
 * The OCI runtime face (`hutch runtime`), runc's model: no monitor. `create` leaves the container
 * process waiting on a fifo and exits; the caller (conmon, scrun, a shell) adopts the process as
 * its subreaper; `start` opens the fifo; state is read from ROOT/<id>/state.json and /proc.
 */
export interface OciCreateOptions {
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds: number;
  /** --systemd-cgroup: linux.cgroupsPath is slice:prefix:name and the cgroup a systemd scope. */
  systemdCgroup?: boolean;
}

/** runc's default state root, made rootless: $XDG_RUNTIME_DIR/hutch-runtime. */
export function defaultOciRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.XDG_RUNTIME_DIR
    ? join(env.XDG_RUNTIME_DIR, 'hutch-runtime')
    : privateTmpDir(`/tmp/hutch-runtime-${process.getuid?.()}`);
}

/** Reads and validates BUNDLE/config.json; root.path is resolved against the bundle. */
export function loadBundle(bundle: string): Spec {
  const file = join(bundle, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError('BUNDLE_UNREADABLE', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code}`, {
      hint: 'give --bundle a directory holding config.json (`hutch runtime spec --rootless` writes one)',
      cause: error,
    });
  }
  const spec = parseSpec(text, file);
  spec.root!.path = resolve(bundle, spec.root!.path);
  if (!existsSync(spec.root!.path))
    throw new UsageError('SPEC_INVALID', `invalid ${file}: root.path: ${spec.root!.path} does not exist`, {
      hint: 'make the root filesystem directory, or fix root.path',
    });
  return spec;
}

/** `create`: namespaces, mounts and createRuntime hooks; the process waits for `start`. */
export async function ociCreate(root: string, id: string, options: OciCreateOptions): Promise<OciRecord> {
  const bundle = resolve(options.bundle);
  const spec = loadBundle(bundle);
  const cgroup = ociCgroup(id, spec, options.systemdCgroup ?? false); // checks cgroupsPath before anything exists
  for (const line of unappliedSettings(spec)) process.stderr.write(`hutch: warning: ${line}\n`);
  const dir = join(root, id);
  const creating = { id, bundle, spec, pid: 0, created: new Date().toISOString(), status: 'creating' as const };
  await reserve(root, { ...creating, owner: thisProcess() });
  let child = 0;
  try {
    mkfifo(join(dir, 'exec.fifo'));
    // Writable by the container's root, which may be none of our ids (runc's mode too): it opens the fifo by a held fd.
    chmodSync(join(dir, 'exec.fifo'), 0o622);
    const state = (pid: number): OciStateJson => ({
      ociVersion: spec.ociVersion,
      id,
      status: 'created',
      pid,
      bundle,
      annotations: spec.annotations,
    });
    const container = await createContainer(spec, {
      stdio: ['inherit', 'inherit', 'inherit'],
      detach: true,
      startFifo: join(dir, 'exec.fifo'),
      consoleSocket: spec.process?.terminal ? requireConsole(options.consoleSocket) : undefined,
      preserveFds: options.preserveFds,
      hooks: [
        async (pid) => void (child = pid),
        async (pid) => applyOomScoreAdj(pid, spec.process?.oomScoreAdj),
        cgroup.hook,
        async (pid) => runHooks('prestart', spec.hooks?.prestart, state(pid)),
        async (pid) => runHooks('createRuntime', spec.hooks?.createRuntime, state(pid)),
        async (pid) => runHooks('createContainer', spec.hooks?.createContainer, state(pid)),
      ],
    });
    const record: OciRecord = {
      id,
      bundle,
      spec,
      pid: container.pid,
      pidStart: processStartTime(container.pid),
      created: creating.created,
      status: 'created',
    };
    const info = cgroup.info();
    if (info !== undefined) record.cgroup = info;
    write(root, record);
    if (options.pidFile !== undefined) atomicWriteFile(resolve(options.pidFile), String(container.pid));
    return record;
  } catch (error) {
    // The detached process has no parent-death signal: a failed create must end it itself.
    if (child > 0) process.kill(child, 'SIGKILL');
    await cgroup.abandon().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** `start`: lets the created process exec, then runs the poststart hooks. */
export async function ociStart(root: string, id: string): Promise<void> {
  const record = await read(root, id);
  const status = ociStatus(record);
  if (status !== 'created')
    throw new UsageError('CONTAINER_STATE', `cannot start container ${id}: it is ${status}`, {
      hint: status === 'stopped' ? `delete it and create it again` : 'only a created container can be started',
    });
  await runHooksInside('startContainer', record.spec.hooks?.startContainer, record, stateJson(record));
  const fifo = openSync(join(root, id, 'exec.fifo'), 'r'); // the process waits to open it for writing
  try {
    readSync(fifo, Buffer.alloc(1));
  } finally {
    closeSync(fifo);
  }
  rmSync(join(root, id, 'exec.fifo'), { force: true });
  const running: OciRecord = { ...record, status: 'running' };
  write(root, running);
  await runHooks('poststart', record.spec.hooks?.poststart, stateJson(running)).catch((error) =>
    process.stderr.write(`hutch: warning: ${(error as Error).message}\n`),
  );
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
      {
        hint: `stop it first (hutch runtime kill ${id} KILL), or use delete --force`,
      },
    );
  if (status === 'creating' && record.owner !== undefined) await killAndWait(record.owner);
  if (status === 'running' || status === 'created') await killAndWait({ pid: record.pid, start: record.pidStart });
  await removeEntry(root, record);
}

async function killAndWait(target: { pid: number; start?: number }): Promise<void> {
  if (!isSameProcess(target.pid, target.start)) return;
  process.kill(target.pid, 'SIGKILL');
  for (let i = 0; i < 200 && isSameProcess(target.pid, target.start); i++) await new Promise((r) => setTimeout(r, 25));
}

function requireConsole(socket: string | undefined): string {
  if (socket === undefined)
    throw new UsageError('CONSOLE_SOCKET_MISSING', 'cannot create a container with a terminal: no --console-socket', {
      hint: 'give --console-socket, or set process.terminal to false',
    });
  if (!isAbsolute(socket)) return resolve(socket);
  return socket;
}
