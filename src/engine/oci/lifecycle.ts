import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
} from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { privateTmpDir } from '../../paths.js';
import type { Process, Spec } from '../../runtime/spec.js';
import { parseSpec } from '../../runtime/validate.js';
import { atomicWriteFile, withLock } from '../../sys/fs.js';
import { mkfifo } from '../../sys/pipe.js';
import { isSameProcess, processStartTime } from '../../sys/proc.js';
import { createContainer, runHooks, runHooksInside, type OciStateJson } from '../launch/index.js';
import { execSpec, unstartedSpec } from '../spec/index.js';
import { ociCgroup, removeOciCgroup } from './cgroup.js';
import type { CgroupInfo } from '../../cgroups/cgroup.js';
import { applyOomScoreAdj, unappliedSettings } from './extras.js';

/**
 * The OCI runtime face (`hutch runtime`), runc's model: no monitor. `create` leaves the container
 * process waiting on a fifo and exits; the caller (conmon, scrun, a shell) adopts the process as
 * its subreaper; `start` opens the fifo; state is read from ROOT/<id>/state.json and /proc.
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
  checkId(id);
  const bundle = resolve(options.bundle);
  const spec = loadBundle(bundle);
  const cgroup = ociCgroup(id, spec, options.systemdCgroup ?? false); // checks cgroupsPath before anything exists
  for (const line of unappliedSettings(spec)) process.stderr.write(`hutch: warning: ${line}\n`);
  const dir = join(root, id);
  await withLock(join(root, '.lock'), () => {
    if (existsSync(join(dir, 'state.json')))
      throw new UsageError('CONTAINER_EXISTS', `container ${id} already exists`, {
        hint: `delete it first: hutch runtime delete ${id}`,
      });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    write(root, { id, bundle, spec, pid: 0, created: new Date().toISOString(), status: 'creating' });
  });
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
      created: new Date().toISOString(),
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
  const record = read(root, id);
  const status = ociStatus(record);
  if (status !== 'created')
    throw new UsageError('CONTAINER_STATE', `cannot start container ${id}: it is ${status}`, {
      hint: status === 'stopped' ? `delete it and create it again` : 'only a created container can be started',
    });
  const joining = { spec: record.spec, joining: (p: Process) => execSpec(unstartedSpec(record.spec), record.pid, p) };
  await runHooksInside('startContainer', record.spec.hooks?.startContainer, joining, stateJson(record));
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
  await removeOciCgroup(record.cgroup).catch((error) =>
    process.stderr.write(`hutch: warning: cannot remove the cgroup of ${id}: ${(error as Error).message}\n`),
  );
  rmSync(join(root, id), { recursive: true, force: true });
  await runHooks('poststop', record.spec.hooks?.poststop, { ...stateJson(record), status: 'stopped' }).catch((error) =>
    process.stderr.write(`hutch: warning: ${(error as Error).message}\n`),
  );
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
  for (const id of readdirIds(root)) {
    try {
      out.push(read(root, id));
    } catch {
      // being deleted
    }
  }
  return out;
}

function readdirIds(root: string): string[] {
  return readdirSync(root).filter((e) => !e.startsWith('.'));
}

function write(root: string, record: OciRecord): void {
  atomicWriteFile(join(root, record.id, 'state.json'), JSON.stringify(record) + '\n', 0o600);
}

function checkId(id: string): void {
  if (!/^[\w][\w.+-]*$/.test(id) || id.length > 1024)
    throw new UsageError('CONTAINER_ID_INVALID', `invalid container id ${JSON.stringify(id)}`, {
      hint: 'use letters, digits, _ . + and -',
    });
}

function requireConsole(socket: string | undefined): string {
  if (socket === undefined)
    throw new UsageError('CONSOLE_SOCKET_MISSING', 'cannot create a container with a terminal: no --console-socket', {
      hint: 'give --console-socket, or set process.terminal to false',
    });
  if (!isAbsolute(socket)) return resolve(socket);
  return socket;
}
