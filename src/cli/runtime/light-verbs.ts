import { parseSignalNumber } from '../../engine/launch/signals.js';
import { listOci, ociDelete, ociKill, ociStart, ociStatus, read, stateJson } from '../../engine/oci/state.js';
import { runtimeRoot } from './outcome.js';
import type { DeleteArgs, IdArgs, KillArgs, ListArgs, PsArgs, TextOut } from './verb-args.js';

/**
 * The verbs engines call on every container beside create (state, start, kill, delete) and
 * list and ps: they read and write the record store and signal a process, nothing more, so they load no
 * launcher, image or foreign-call code (src/cli/runtime-main.ts loads this file alone for them).
 */
export async function stateVerb(args: IdArgs, out: TextOut): Promise<number> {
  const record = await read(runtimeRoot(args), args.id);
  out.write(
    JSON.stringify({ ...stateJson(record), rootfs: record.spec.root?.path, created: record.created }, null, 2) + '\n',
  );
  return 0;
}

/** runc's default signal is SIGTERM. */
export async function killVerb(args: KillArgs): Promise<number> {
  await ociKill(runtimeRoot(args), args.id, parseSignalNumber(args.signal ?? 'TERM'));
  return 0;
}

export async function deleteVerb(args: DeleteArgs): Promise<number> {
  await ociDelete(runtimeRoot(args), args.id, args.force);
  return 0;
}

export async function startVerb(args: IdArgs): Promise<number> {
  await ociStart(runtimeRoot(args), args.id);
  return 0;
}

/** runc's table, or --format json. */
export async function listVerb(args: ListArgs, out: TextOut): Promise<number> {
  const rows = (await listOci(runtimeRoot(args))).map((r) => ({
    ...stateJson(r),
    created: r.created,
    owner: String(process.getuid?.()),
  }));
  if (args.quiet) rows.forEach((r) => out.write(r.id + '\n'));
  else if (args.format === 'json') out.write(JSON.stringify(rows) + '\n');
  else {
    out.write('ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n');
    rows.forEach((r) => out.write(`${r.id}\t${r.pid ?? 0}\t${r.status}\t${r.bundle}\t${r.created}\t${r.owner}\n`));
  }
  return 0;
}

/** The container's processes (--format json: their pids). */
export async function psVerb(args: PsArgs, out: TextOut): Promise<number> {
  const record = await read(runtimeRoot(args), args.id);
  // The container engine's file, loaded for ps alone.
  const { containerProcesses } = await import('../../engine/container/list.js');
  const procs = ociStatus(record) === 'stopped' ? [] : containerProcesses(record.pid);
  if (args.format === 'json') out.write(JSON.stringify(procs.map((p) => p.pid)) + '\n');
  else
    out.write(
      ['PID\tPPID\tUID\tCMD', ...procs.map((p) => `${p.pid}\t${p.ppid}\t${p.uid}\t${p.args}`)].join('\n') + '\n',
    );
  return 0;
}
