import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import type { Process, Spec } from '../../runtime/spec.js';
import { atomicWriteFile } from '../../sys/fs.js';
import { processStartTime } from '../../sys/proc.js';
import { execSpec } from '../spec/index.js';
import { loadBundle } from './lifecycle.js';
import { reserve } from './entries.js';
import { ociStatus, read, removeEntry, stateJson, thisProcess, writeRecord, type OciRecord } from './state.js';
import { createContainer, runHooks } from '../launch/index.js';
import { applyOomScoreAdj, unappliedSettings } from './extras.js';

/**
 * `hutch runtime run` without --detach: create, start and wait in the foreground; returns the
 * status. The entry is recorded first, with this process as its owner: when this process is
 * killed (slurmstepd's scancel), its container dies with it and the next command that looks at
 * the id removes the entry (state.ts isLeftover), as this process would have.
 */
export async function ociRunForeground(
  root: string,
  id: string,
  bundleDir: string,
  options: { pidFile?: string; consoleSocket?: string; preserveFds?: number },
): Promise<number> {
  const bundle = resolve(bundleDir);
  const spec = loadBundle(bundle);
  const created = new Date().toISOString();
  const record: OciRecord = { id, bundle, spec, pid: 0, created, status: 'creating', owner: thisProcess() };
  await reserve(root, record);
  for (const line of unappliedSettings(spec)) process.stderr.write(`hutch: warning: ${line}\n`);
  try {
    const c = await createContainer(spec, {
      stdio: ['inherit', 'inherit', 'inherit'],
      consoleSocket: spec.process?.terminal ? options.consoleSocket : undefined,
      preserveFds: options.preserveFds,
      forwardSignals: true,
      hooks: [async (pid) => applyOomScoreAdj(pid, spec.process?.oomScoreAdj)],
    });
    Object.assign(record, { pid: c.pid, pidStart: processStartTime(c.pid), status: 'created' });
    writeRecord(root, record);
    await runHooks('prestart', spec.hooks?.prestart, stateJson(record));
    await runHooks('createRuntime', spec.hooks?.createRuntime, stateJson(record));
    if (options.pidFile !== undefined) atomicWriteFile(resolve(options.pidFile), String(c.pid), 0o644, false);
    await c.start();
    record.status = 'running';
    writeRecord(root, record);
    await runHooks('poststart', spec.hooks?.poststart, stateJson(record)).catch(warn);
    return (await c.wait()).exitCode;
  } finally {
    await removeEntry(root, record); // unless a `delete` did it first
  }
}

/** runc exec's flags that shape the process when no --process file is given. */
export interface OciExecFlags {
  processFile?: string;
  args: string[];
  env: string[];
  cwd?: string;
  user?: string;
  tty: boolean;
  caps: string[];
  noNewPrivs: boolean;
  detach: boolean;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number;
}

/** `hutch runtime exec`: a process in the container's namespaces; detached, the caller adopts it. */
export async function ociExec(root: string, id: string, flags: OciExecFlags): Promise<number> {
  const record = await read(root, id);
  if (ociStatus(record) !== 'running' && ociStatus(record) !== 'created')
    throw new UsageError('CONTAINER_NOT_RUNNING', `cannot exec in container ${id}: it is ${ociStatus(record)}`, {
      hint: 'start it first',
    });
  const process = execProcess(record.spec, flags);
  const spec: Spec = execSpec(record.spec, record.pid, process);
  const c = await createContainer(spec, {
    stdio: ['inherit', 'inherit', 'inherit'],
    detach: flags.detach || undefined,
    consoleSocket: process.terminal ? flags.consoleSocket : undefined,
    preserveFds: flags.preserveFds,
    forwardSignals: !flags.detach,
  });
  if (flags.pidFile !== undefined) atomicWriteFile(resolve(flags.pidFile), String(c.pid), 0o644, false);
  await c.start();
  return flags.detach ? 0 : (await c.wait()).exitCode;
}

function execProcess(spec: Spec, flags: OciExecFlags): Process {
  if (flags.processFile !== undefined) {
    const p = JSON.parse(readFileSync(flags.processFile, 'utf8')) as Process;
    if (!Array.isArray(p.args) || p.args.length === 0)
      throw new UsageError('SPEC_INVALID', `invalid ${flags.processFile}: args: missing or empty`, {
        hint: 'give the command in args',
      });
    return { ...p, cwd: p.cwd || '/', user: p.user ?? { uid: 0, gid: 0 } };
  }
  if (flags.args.length === 0)
    throw new UsageError('EXEC_NO_COMMAND', 'cannot exec: no command given', {
      hint: 'give the command after the container id, or --process FILE',
    });
  const base = spec.process!;
  const [uid, gid] = (flags.user ?? `${base.user.uid}:${base.user.gid}`).split(':').map(Number);
  const caps =
    base.capabilities && flags.caps.length > 0
      ? Object.fromEntries(Object.entries(base.capabilities).map(([k, v]) => [k, [...(v as string[]), ...flags.caps]]))
      : base.capabilities;
  return {
    ...base,
    args: flags.args,
    env: [...(base.env ?? []), ...flags.env],
    cwd: flags.cwd ?? base.cwd,
    user: { uid: uid!, gid: gid ?? uid! },
    terminal: flags.tty,
    capabilities: caps,
    noNewPrivileges: base.noNewPrivileges || flags.noNewPrivs,
  };
}

function warn(error: unknown): void {
  process.stderr.write(`hutch: warning: ${(error as Error).message}\n`);
}
