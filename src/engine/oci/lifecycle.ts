import { chmodSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import type { Spec } from '../../runtime/spec.js';
import { parseSpec } from '../../runtime/validate.js';
import { atomicWriteFile } from '../../sys/fs.js';
import { mkfifo } from '../../sys/pipe.js';
import { processStartTime } from '../../sys/proc.js';
import { createContainer, runHooks, type OciStateJson } from '../launch/index.js';
import { ociCgroup } from './cgroup.js';
import { applyOomScoreAdj, unappliedSettings } from './extras.js';
import { reserve } from './entries.js';
import { checkId, thisProcess, writeRecord, type OciRecord } from './state.js';

/** `create` and loading a bundle (state.ts has the record store and the lighter verbs). */
export interface OciCreateOptions {
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds: number;
  /** --systemd-cgroup: linux.cgroupsPath is slice:prefix:name and the cgroup a systemd scope. */
  systemdCgroup?: boolean;
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
  const created = new Date().toISOString();
  await reserve(root, { id, bundle, spec, pid: 0, created, status: 'creating', owner: thisProcess() });
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
      created,
      status: 'created',
    };
    const info = cgroup.info();
    if (info !== undefined) record.cgroup = info;
    writeRecord(root, record);
    if (options.pidFile !== undefined) atomicWriteFile(resolve(options.pidFile), String(container.pid), 0o644, false);
    return record;
  } catch (error) {
    // The detached process has no parent-death signal: a failed create must end it itself.
    if (child > 0) process.kill(child, 'SIGKILL');
    await cgroup.abandon().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

function requireConsole(socket: string | undefined): string {
  if (socket === undefined)
    throw new UsageError('CONSOLE_SOCKET_MISSING', 'cannot create a container with a terminal: no --console-socket', {
      hint: 'give --console-socket, or set process.terminal to false',
    });
  if (!isAbsolute(socket)) return resolve(socket);
  return socket;
}
