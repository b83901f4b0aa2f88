import { closeSync, mkdirSync, openSync, readdirSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { dupOnto } from '../src/sys/fdops.js';
import { mknod } from '../src/sys/fsx.js';
import { childProcess } from '../src/sys/on-use.js';
import { describeCause, HutchError } from '../src/errors.js';
import { openLowerTree } from './lookup.js';
import { mountSession } from './libfuse.js';
import { unionHandlers, type FastAnswers } from './ops.js';
import { decodeArgsLine, parseFsArgs, type FsOptions } from './options.js';
import { overflowIds, type IdShift } from './idmap.js';
import { mountSquashLowers } from './squash-lower.js';
import { Union } from './union.js';
import { entryCommand } from '../src/sys/entry-points.js';
import { readLineSync, readReadyLine } from '../src/sys/ready-line.js';
import { pageDropSettings, pagesLibraryPath, publishCalls, startPageDrops } from './pages.js';
import { trace } from '../src/sys/trace.js';

/**
 * bin/hutch-fs: mounts a union and serves it. Without -f it starts itself in the foreground as
 * a detached child and returns once the mount is up (fuse-overlayfs does the same; podman waits
 * for the mount program to exit). The child reports "ok" or its error on fd 3.
 */
export async function main(argv: string[]): Promise<number> {
  trace('fs main');
  let opts: FsOptions;
  try {
    if (process.env.HUTCH_FS_ARGS_FD !== undefined) {
      // A pre-started daemon (src/engine/setup/preheld-holder.ts): its Node start and bundle are
      // done, it is in its namespaces; it waits here, having touched nothing, for its arguments.
      const fd = Number(process.env.HUTCH_FS_ARGS_FD);
      const line = readLineSync(fd);
      closeSync(fd);
      delete process.env.HUTCH_FS_ARGS_FD;
      // The pipe ended without arguments: the run that started this daemon did not need it.
      if (line === undefined) return 0;
      trace('fs args');
      const given = decodeArgsLine(line);
      if (given.log !== undefined) stderrTo(given.log);
      argv = given.args;
    }
    opts = parseFsArgs(argv, process.cwd());
  } catch (e) {
    process.stderr.write(`hutch-fs: ${describeCause(e)}\n`);
    if (e instanceof HutchError && e.hint) process.stderr.write(`hint: ${e.hint}\n`);
    return 2;
  }
  if (!opts.foreground) return background(argv);
  try {
    await mountSquashLowers(opts.squashLowers);
  } catch (e) {
    return failed(opts, e);
  }
  return serve(opts);
}

/** The file given as fd 2 (appended), before anything is mounted: what the daemon says goes there. */
function stderrTo(log: string): void {
  const fd = openSync(log, 'a', 0o600);
  dupOnto(fd, 2);
  closeSync(fd);
}

/** Runs the daemon in the foreground: mounts, says "ok" on fd 3 when that is a pipe, serves. */
export function serve(opts: FsOptions): number {
  const ready = process.env.HUTCH_FS_READY_FD === undefined ? undefined : Number(process.env.HUTCH_FS_READY_FD);
  try {
    process.umask(0);
    const whiteoutFiles = prepareWork(opts.work);
    // Upper paths are relative to the upper directory from here on (see UnionConfig.upper).
    process.chdir(opts.upper);
    const union = new Union({
      lower: openLowerTree(opts.lowers),
      upper: opts.upper,
      work: opts.work,
      style: { overrideOnly: opts.overrideOnly, whiteoutFiles },
      squash: opts.squash,
      shift: idShift(opts),
    });
    const log = (e: unknown): void =>
      void process.stderr.write(
        `hutch-fs: unexpected error (replied EIO): ${e instanceof Error ? e.stack : String(e)}\n`,
      );
    const fast: FastAnswers = {};
    const session = mountSession(
      opts.mountpoint,
      sessionOptions(opts),
      unionHandlers(union, opts.timeout, log, fast),
      log,
      opts.debug,
    );
    union.invalidate = (id) => session.invalidate(id);
    trace('fs mounted');
    if (ready !== undefined) {
      writeSync(ready, 'ok\n');
      closeSync(ready);
    }
    // The start-up pages go once mounted and when idle (fuse/pages.ts; docs/fuse.md, "Memory").
    const warn = (line: string): void => void process.stderr.write(`hutch-fs: warning: ${line}\n`);
    const receive = startPageDrops(pageDropSettings(process.env, warn), warn, pagesLibraryPath());
    // The library's loop answers lower files' GETATTR and READ, and listings' ends, in C; -d shows every request to JS.
    if (receive !== undefined && !opts.debug) Object.assign(fast, publishCalls(pagesLibraryPath()));
    session.serve(receive);
    return 0;
  } catch (e) {
    return failed(opts, e);
  }
}

/** The mount's id shift with the kernel's overflow ids, when uidmapping=/gidmapping= were given. */
export function idShift(opts: FsOptions): IdShift | undefined {
  if (opts.idRanges === undefined) return undefined;
  const overflow = overflowIds();
  return { ...opts.idRanges, overflowUid: overflow.uid, overflowGid: overflow.gid };
}

/** Says why the union is not mounted, on stderr and on the ready fd (hutch reads that). */
function failed(opts: FsOptions, e: unknown): number {
  const ready = process.env.HUTCH_FS_READY_FD === undefined ? undefined : Number(process.env.HUTCH_FS_READY_FD);
  const msg = `hutch-fs: cannot mount ${opts.mountpoint}: ${describeCause(e)}\n`;
  process.stderr.write(msg);
  if (ready !== undefined) writeSync(ready, msg);
  return 1;
}

/**
 * libfuse's mount options: the generic flags as given (libfuse's defaults, nosuid and nodev,
 * stand for those not given: fuse-overlayfs's behaviour), named after mount(8)'s source if any.
 */
export function sessionOptions(opts: Pick<FsOptions, 'source' | 'mountFlags'>): string {
  const fsname = opts.source !== undefined && /^[^,\\]+$/.test(opts.source) ? opts.source : 'hutch-fs';
  return ['allow_other', 'default_permissions', `fsname=${fsname}`, 'subtype=hutch-fs', ...opts.mountFlags].join(',');
}

/** Empties the work directory of a previous run and probes whether 0/0 whiteouts can be made. */
export function prepareWork(work: string): boolean {
  mkdirSync(work, { recursive: true });
  for (const name of readdirSync(work)) rmSync(join(work, name), { recursive: true, force: true });
  const probe = join(work, 'whiteout-probe');
  try {
    mknod(probe, 0o020000, 0);
    unlinkSync(probe);
    return false;
  } catch {
    return true;
  }
}

function background(argv: string[]): Promise<number> {
  // Loaded on use: child_process (and node:net under it) is ~3 ms of every shared daemon's start, which never spawns.
  const { spawn } = childProcess();
  const child = spawn(process.execPath, [...entryCommand('fuseDaemon'), '-f', ...argv], {
    // The caller (podman) waits for our output pipes to close: the daemon must not hold them.
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    env: { ...process.env, HUTCH_FS_READY_FD: '3' },
  });
  return new Promise((resolve) => {
    child.on('error', (e) => {
      process.stderr.write(`hutch-fs: cannot start the daemon: ${e.message}\n`);
      resolve(1);
    });
    void readReadyLine(child.stdio[3] as NodeJS.ReadableStream).then((said) => {
      if (said.startsWith('ok')) {
        child.unref();
        resolve(0);
      } else {
        if (said !== '') process.stderr.write(said);
        resolve(1);
      }
    });
  });
}
