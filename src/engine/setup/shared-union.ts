import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeArgsLine, LEAVE_MESSAGE, lingerSetting, parseFsArgs } from '../../../fuse/options.js';
import { FuseError } from '../../errors.js';
import type { IdMapping } from '../../runtime/spec.js';
import { entryCommand } from '../../sys/entry-points.js';
import { nativeFile } from '../../sys/package-files.js';
import { pipe } from '../../sys/pipe.js';
import { readReadyLine } from '../../sys/ready-line.js';
import { sha256Hex } from '../../sys/sha256.js';
import { connectSeqpacket, receiveMessage, sendMessage, SUN_PATH_MAX } from '../../sys/seqpacket.js';
import { trace } from '../../sys/trace.js';
import { tryLock } from '../../sys/trylock.js';
import { type CreatedContainer, envList, launchInUserNamespace } from '../launch/index.js';

/**
 * The union through the shared daemon (issue 17; docs/storage.md, "The union's daemon"): one
 * Node daemon (fuse/shared.ts) per user, hutch build and id maps serves every container's union;
 * each container gets a small C holder (native/fs-holder.c) in its own new user and mount
 * namespaces, which mounts the union there and hands the /dev/fuse fd to the daemon. The holder
 * is what the container's helper joins and what the monitor watches, as the per-container
 * daemon was: the daemon's death closes every holder's connection, each holder exits 1, each
 * container ends. HUTCH_FS_SHARED=0 keeps a daemon per container. After its last container the
 * daemon lingers HUTCH_FS_LINGER seconds (fuse/shared.ts DEFAULT_LINGER_S; the run that starts
 * it sets it): the next run finds it warm.
 */
export type Maps = { uidMappings: IdMapping[]; gidMappings: IdMapping[] };

/** Where the daemon for some maps listens, the lock its clients and its exit take, its log. */
export interface SharedPlace {
  socket: string;
  lock: string;
  log: string;
}

/**
 * The shared daemon's place under RUN (the user's runtime folder), or undefined when the socket's
 * path would be too long. `cgroups` is the starting process's /proc/self/cgroup: the daemon stays
 * in the cgroups of the run that starts it, so runs in other cgroups get a daemon of their own.
 * Otherwise the end of one Slurm job (its cgroup killed whole) or of one login session would
 * take the daemon, and with it the containers of another job or session.
 */
export function sharedPlace(run: string, maps: Maps, cgroups = ownCgroups()): SharedPlace | undefined {
  const key = (m: IdMapping[]): string => m.map((r) => `${r.containerID}:${r.hostID}:${r.size}`).join(',');
  // The build counts too: a daemon of an older hutch (upgraded meanwhile) is not joined.
  const build = [process.execPath, ...entryCommand('fuseDaemon')];
  const name = sha256Hex([key(maps.uidMappings), key(maps.gidMappings), ...build, cgroups].join('\n')).slice(0, 16);
  const dir = join(run, 'fsd');
  const socket = join(dir, name);
  if (Buffer.byteLength(socket) >= SUN_PATH_MAX) return undefined;
  return { socket, lock: `${socket}.lock`, log: `${socket}.log` };
}

/** This process's cgroups, one line per hierarchy ('' where /proc says nothing). */
function ownCgroups(): string {
  try {
    return readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    return '';
  }
}

/** The holder program, when built (without it, and without the daemon's library, a daemon per container). */
export function holderPath(): string | undefined {
  if (process.env.HUTCH_FS_SHARED === '0') return undefined;
  return nativeFile('hutch-fs-pages.so') && nativeFile('hutch-fs-holder');
}

/**
 * A connection to the daemon of `place`, started first when none listens (`onLaunched`: called
 * once that one is exec'd, before its Node start is done; or at once when another process holds
 * the lock: hutch-run-front starting one ahead of this run, another run, or one leaving). Under
 * the place's lock: two first runs start one daemon, and a daemon leaving (it takes the lock to
 * unlink its socket) is never connected to.
 */
export async function connectShared(place: SharedPlace, maps: Maps, onLaunched?: () => void): Promise<number> {
  mkdirSync(join(place.socket, '..'), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + LOCK_WAIT_MS;
  let lock = tryLock(place.lock);
  if (lock === undefined) onLaunched?.();
  while (lock === undefined) {
    if (Date.now() > deadline)
      throw new FuseError(
        'FUSE_MOUNT',
        `cannot reach the shared union filesystem daemon: its lock ${place.lock} was held for ${LOCK_WAIT_MS / 1000} s`,
        { hint: 'another hutch is starting it; if none is, `hutch system reset` clears the runtime folder' },
      );
    await sleep(5);
    lock = tryLock(place.lock);
  }
  try {
    let conn = connectSeqpacket(place.socket);
    if (conn === undefined) {
      await startDaemon(place, maps, onLaunched);
      conn = connectSeqpacket(place.socket);
    }
    if (conn === undefined)
      throw new FuseError(
        'FUSE_MOUNT',
        `the shared union filesystem daemon said it listens on ${place.socket} but refuses`,
        {
          hint: `see its log ${place.log}`,
        },
      );
    trace('shared connected');
    return conn;
  } finally {
    closeSync(lock);
  }
}

/** How long a run waits for another to start the daemon (its Node start: well under a second). */
const LOCK_WAIT_MS = 10_000;

/**
 * Starts the daemon detached from this process (its helper exits once it is started: no
 * parent-death signal, a session of its own), as root of a new user namespace with `maps` (its
 * chown and mknod in the upper layers need the mapped ids) in a mount namespace of its own, no
 * container's. Resolves once it listens; `onLaunched` is called once it is exec'd (its Node start
 * then runs on its own: a caller may go on with its own work meanwhile).
 */
async function startDaemon(place: SharedPlace, maps: Maps, onLaunched?: () => void): Promise<void> {
  trace('shared spawn');
  const ready = pipe();
  // One log per daemon: the last one's is kept beside it (what ended it, if it crashed).
  try {
    renameSync(place.log, `${place.log}.old`);
  } catch {
    // no earlier daemon's log
  }
  const log = openSync(place.log, 'a', 0o600);
  // Not the run's own HUTCH_FS_* settings nor its fault point: only the page drop's, the limit's
  // and the loop's (fs-fast.c, fs-serve.c) pass on.
  const kept = new Set([
    'HUTCH_FS_IDLE_MS',
    'HUTCH_FS_PAGES',
    'HUTCH_FS_SHARED_MAX',
    'HUTCH_FS_FAST',
    'HUTCH_FS_SPIN_US',
    'HUTCH_FS_CHANNELS',
  ]);
  const linger = lingerSetting(process.env, (line) => void process.stderr.write(`hutch: warning: ${line}\n`));
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => kept.has(k) || (!k.startsWith('HUTCH_FS_') && k !== 'HUTCH_FAULT')),
  );
  const env = [
    ...envList(inherited),
    'HUTCH_FS_READY_FD=1',
    `HUTCH_FS_SHARED_SOCKET=${place.socket}`,
    `HUTCH_FS_SHARED_LOCK=${place.lock}`,
    `HUTCH_FS_LINGER=${linger}`,
  ];
  let daemon: CreatedContainer;
  try {
    daemon = await launchInUserNamespace(
      { args: [process.execPath, ...entryCommand('fuseDaemon')], env, cwd: '/', ...maps },
      { stdio: ['ignore', ready.write, log], detach: true, faultSteps: 'shared-' },
    );
  } catch (error) {
    closeSync(ready.read);
    throw error;
  } finally {
    closeSync(ready.write);
    closeSync(log);
  }
  onLaunched?.();
  const said = await readReadyLine(ready.read);
  await daemon.wait(); // its helper, gone once the daemon runs
  if (!said.startsWith('ok'))
    throw new FuseError(
      'FUSE_MOUNT',
      `cannot start the shared union filesystem daemon: ${said.replace(/^hutch-fs: /, '').trim() || 'it exited'}`,
      { hint: `see its log ${place.log}; HUTCH_FS_SHARED=0 runs a daemon per container` },
    );
  trace('shared started');
}

/** The holder's MOUNTPOINT FSNAME FLAGS for a session's arguments (daemonArgs's list). */
export function holderArgs(fsArgs: string[]): string[] {
  const opts = parseFsArgs(fsArgs, '/');
  const fsname = opts.source !== undefined && /^[^,\\\t]+$/.test(opts.source) ? opts.source : 'hutch-fs';
  return [opts.mountpoint, fsname, opts.mountFlags.join(',') || '-'];
}

/**
 * Starts a container's holder over a connection to the daemon: sends the session's arguments
 * (daemonArgs's list), then the holder mounts and hands over the fd. The connection is the
 * holder's from here on (closed here whatever happens). Returns the holder and its ready fd
 * ("ok" once the daemon serves the mount, or why not).
 */
export async function startSharedHolder(
  conn: number,
  fsArgs: string[],
  maps: Maps,
): Promise<{ holder: CreatedContainer; readyFd: number }> {
  const ready = pipe();
  try {
    const args = holderArgs(fsArgs);
    try {
      sendMessage(conn, Buffer.from(encodeArgsLine({ args: fsArgs })));
    } catch (error) {
      // A daemon out of fds at its accept refuses at once, in words, and closes (fuse/shared.ts).
      const said = lastWords(conn);
      if (said.startsWith('hutch-fs: ')) throw unionNotMounted(said);
      throw error;
    }
    trace('holder spawn');
    const holder = await launchInUserNamespace(
      {
        args: [holderPath()!, ...args],
        env: [],
        cwd: '/',
        ...maps,
      },
      { stdio: [conn, ready.write, 'inherit'], faultSteps: 'holder-' },
    );
    trace('holder started');
    return { holder, readyFd: ready.read };
  } catch (error) {
    closeSync(ready.read);
    throw error;
  } finally {
    closeSync(ready.write);
    closeSync(conn);
  }
}

/**
 * What the daemon said before it closed the connection, if anything. With our message unread
 * there, the kernel says ECONNRESET first, once: its words come after.
 */
function lastWords(conn: number): string {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      return receiveMessage(conn, 0)?.toString() ?? '';
    } catch {
      // the reset, said once
    }
  }
  return '';
}

/**
 * The union not mounted, as its daemon or holder said why. A refusal of the shared daemon at its
 * limits (fuse/shared.ts) says what to do itself: no hint about /dev/fuse then.
 */
export function unionNotMounted(said: string): FuseError {
  const refused = /the shared union daemon \(pid \d+\)/.test(said);
  return new FuseError(
    'FUSE_MOUNT',
    `cannot mount the union filesystem: ${said.replace(/^hutch-fs: /, '').trim() || 'the daemon exited'}`,
    refused ? {} : { hint: 'check /dev/fuse (crw-rw-rw-) and `hutch system info`; --storage-driver=vfs avoids FUSE' },
  );
}

/** How long endSharedDaemons waits for each daemon to go (its sessions end within ms of their containers). */
const LEAVE_WAIT_MS = 10_000;

/**
 * Ends the shared daemons of the runtime folder RUN (hutch system reset, before it removes the
 * store): each is asked to leave once it serves no session, without lingering, and waited for.
 * Returns a warning for each that still serves containers after LEAVE_WAIT_MS (it stays; the
 * store goes under it) or cannot be asked.
 */
export function endSharedDaemons(run: string): string[] {
  const dir = join(run, 'fsd');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return []; // no daemon ever started there
  }
  const warnings: string[] = [];
  for (const name of names) {
    const socket = join(dir, name);
    if (!lstatSync(socket, { throwIfNoEntry: false })?.isSocket()) continue;
    const who = `the shared union filesystem daemon at ${socket}${pidNote(socket)}`;
    try {
      const conn = connectSeqpacket(socket);
      if (conn === undefined) continue; // left meanwhile, or killed: its socket goes with the folder
      try {
        sendMessage(conn, Buffer.from(LEAVE_MESSAGE));
        const deadline = Date.now() + LEAVE_WAIT_MS;
        let said = '';
        for (;;) {
          const got = receiveMessage(conn, Math.max(0, deadline - Date.now()));
          if (got === undefined) {
            warnings.push(
              `${who} did not leave within ${LEAVE_WAIT_MS / 1000} s (it said: ${said.trim() || 'nothing'})`,
            );
            break;
          }
          if (got.length === 0) break; // gone
          said = got.toString();
        }
      } finally {
        closeSync(conn);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ECONNRESET') continue; // gone
      warnings.push(`cannot ask ${who} to leave: ${(error as Error).message}`);
    }
  }
  return warnings;
}

function pidNote(socket: string): string {
  try {
    return ` (pid ${readFileSync(`${socket}.pid`, 'utf8').trim()})`;
  } catch {
    return '';
  }
}
