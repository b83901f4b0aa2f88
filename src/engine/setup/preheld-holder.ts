import { closeSync, openSync, writeSync } from 'node:fs';
import { userInfo } from 'node:os';
import { encodeArgsLine } from '../../../fuse/options.js';
import type { IdMapping } from '../../runtime/spec.js';
import { entryCommand } from '../../sys/entry-points.js';
import { pipe } from '../../sys/pipe.js';
import { trace } from '../../sys/trace.js';
import { chooseMaps } from '../../userns/idmap.js';
import { readSubid } from '../../userns/subid.js';
import { type CreatedContainer, envList, launchInUserNamespace } from '../launch/index.js';
import { hutchPaths } from '../../paths.js';
import { connectShared, holderPath, sharedPlace, type SharedPlace } from './shared-union.js';

/**
 * The union's holder started before the run knows it needs one (issue 17; docs/startup.md): the
 * FUSE daemon in a new user namespace with the user's default id maps and a mount namespace of
 * its own, its Node start and bundle done while the CLI parses its flags (or the monitor waits
 * for go), waiting for its arguments on its stdin (HUTCH_FS_ARGS_FD, fuse/daemon.ts) before it
 * mounts or touches anything. startUnion (storage.ts) takes it when the run's maps are exactly
 * these and no user namespace is joined, and sends it daemonArgs's line; anything else ends it.
 * At most one per process, taken at most once.
 */
export interface PreheldHolder {
  /** daemon: the Node daemon of one container; holder: native/fs-holder.c, for the shared daemon. */
  kind: 'daemon' | 'holder';
  maps: Maps;
  /** The daemon exec'd and waiting; rejects when it could not be started (startUnion then starts one as ever). */
  started: Promise<CreatedContainer>;
  /** The daemon's stdin: one line of arguments, or its end (the daemon then exits 0). */
  argsFd: number;
  /** The daemon's stdout (HUTCH_FS_READY_FD=1): "ok" once mounted, or why not. */
  readyFd: number;
}

type Maps = { uidMappings: IdMapping[]; gidMappings: IdMapping[] };

let pending: PreheldHolder | undefined;

/** Who starts the holder early, and what it knows then. */
export interface PreholdOptions {
  /** The holder's stderr is /dev/null until its args line names the container's log (a monitor's). */
  stderrLater?: boolean;
  /** --root as given (the store the shared daemon's socket is in). */
  root?: string;
  /** Only the shared daemon and the connection to it: the holder is a monitor's to start. */
  sharedOnly?: boolean;
  /** The monitor before go: no store known, so no shared daemon to connect to. */
  storeUnknown?: boolean;
}

/**
 * With the shared daemon (shared-union.ts) what is worth starting early is the daemon itself,
 * when none runs yet (its Node start), and the connection to it: the run's holder is a small C
 * program started in a few ms. The connection, taken by startUnion when its place is this one.
 */
let pendingShared: { place: SharedPlace; conn: Promise<number | undefined> } | undefined;

/**
 * Starts the holder with the maps a run with no --userns/--uidmap/--gidmap flags takes (the user's
 * subordinate ranges after its own id: chooseMaps 'auto', as idMaps in engine/container does).
 * Never throws: whatever goes wrong here, the run starts its holder itself and reports it there.
 * Resolves once the holder's helper runs with its plan (or could not be started): its launch goes
 * on on its own from there (the clone, newuidmap and newgidmap, the exec), while this process
 * parses; with the shared daemon, also once that daemon is exec'd (or was running).
 */
export function preholdUnion(options: PreholdOptions = {}): Promise<void> {
  if (pending !== undefined || pendingShared !== undefined) return Promise.resolve();
  // With the shared daemon (shared-union.ts) the holder is a small C program (its start: a
  // launch, no Node) and the daemon runs on its own: the CLI connects to it (starting it if none
  // runs); the monitor before go does not know its store, where the daemon's socket is, and
  // finds the daemon its CLI started.
  const shared = holderPath() !== undefined;
  let maps: Maps;
  let args: { read: number; write: number };
  let ready: { read: number; write: number };
  let daemonLaunched = Promise.resolve();
  let daemonStarting = false; // this process launched the shared daemon (none ran)
  try {
    const me = userInfo();
    const owner = { name: me.username, id: me.uid };
    maps = {
      uidMappings: chooseMaps('auto', me.uid, readSubid('uid', owner)),
      gidMappings: chooseMaps('auto', me.gid, readSubid('gid', owner)),
    };
    const place = shared && !options.storeUnknown ? sharedPlace(hutchPaths(options.root).run, maps) : undefined;
    if (place !== undefined) {
      trace('preheld shared');
      // A failure here is said by the run's own connect, which tries again. Resolves once the
      // daemon is exec'd (or was running, or another process starts it): the parse need not wait for its Node start.
      let launched!: () => void;
      daemonLaunched = new Promise<void>((resolve) => (launched = resolve));
      const onDaemonExec = (): void => {
        daemonStarting = true;
        launched();
      };
      const conn = connectShared(place, maps, onDaemonExec)
        .catch(() => undefined)
        .finally(launched);
      pendingShared = { place, conn };
    }
    if (options.sharedOnly) return daemonLaunched;
    args = pipe();
    ready = pipe();
  } catch {
    return daemonLaunched; // no maps to guess (an unreadable /etc/subuid): the run says why
  }
  const env = shared ? [] : [...envList(process.env), 'HUTCH_FS_READY_FD=1', 'HUTCH_FS_ARGS_FD=0'];
  const program = shared ? [holderPath()!, '-'] : [process.execPath, ...entryCommand('fuseDaemon')];
  // stderrLater (the monitor, before go): its stderr is a pipe to the CLI, which ends with the
  // CLI; the holder (its helper too) writes nowhere until the args line names its log.
  const quiet = options.stderrLater ? openSync('/dev/null', 'w') : undefined;
  // After a first daemon's launch (it is exec'd): the C holder is needed only once the daemon
  // listens, and on two cores its launch would take CPU from the daemon's, which is on the path.
  // On its own (ON_ITS_OWN, docs/wire.md): once spawned, the helper clones, maps (newuidmap and
  // newgidmap) and execs the daemon without this process, whose parse may hold its event loop;
  // the messages are read when the holder is taken (its maps are the tools': chooseMaps 'auto').
  let spawned!: () => void;
  const launched = new Promise<void>((resolve) => (spawned = resolve));
  const started = daemonLaunched
    .then(() => {
      trace('preheld spawn');
      return launchInUserNamespace(
        { args: program, env, cwd: '/', ...maps },
        { stdio: [args.read, ready.write, quiet ?? 'inherit'], faultSteps: 'preheld-', onItsOwn: true, spawned },
      );
    })
    .finally(() => {
      closeSync(args.read);
      closeSync(ready.write);
      if (quiet !== undefined) closeSync(quiet);
    });
  pending = { kind: shared ? 'holder' : 'daemon', maps, started, argsFd: args.write, readyFd: ready.read };
  // An exit that did not take or end it (a process.exit elsewhere): its helper's pdeathsig would
  // end it too, a moment later; ended here, it is gone when this process's exit status is seen.
  const held = pending;
  started.then(
    (holder) =>
      process.once('exit', () => {
        if (pending !== held) return;
        try {
          process.kill(holder.pid, 'SIGKILL'); // the daemon first: the helper's end would end it a moment later
        } catch {
          // already gone
        }
        holder.kill('SIGKILL');
      }),
    () => undefined,
  );
  started.then(
    () => trace('preheld started'),
    () => undefined, // startUnion starts one as ever, and says why if that fails too
  );
  // A first daemon's Node start is the run's path then, not the parse: waiting idle for the
  // holder's exec leaves the daemon a core (cold runs were 8 ms slower without the wait).
  const holderLaunched = daemonLaunched.then(() =>
    daemonStarting
      ? started.catch(() => undefined)
      : Promise.race([launched.then(() => trace('preheld spawned')), started.catch(() => undefined)]),
  );
  return Promise.all([holderLaunched, daemonLaunched]).then(() => undefined);
}

/**
 * The pre-started holder when the union about to be started wants exactly its maps in a user
 * namespace of its own; undefined otherwise, having ended any (and waited for it).
 */
export async function takePreheld(
  maps: Maps,
  joinUserns: string | undefined,
  kind: PreheldHolder['kind'] = 'daemon',
): Promise<PreheldHolder | undefined> {
  if (kind === 'daemon') await dropPreheldShared();
  const held = pending;
  pending = undefined;
  if (held === undefined) return undefined;
  if (joinUserns === undefined && held.kind === kind && sameMaps(held.maps, maps)) {
    trace('preheld taken');
    return held;
  }
  await endPreheld(held);
  return undefined;
}

/**
 * The connection to the shared daemon made before the flags were parsed, when the run's union
 * goes to the daemon at `place` (the same user folder and maps); undefined otherwise (any such
 * connection closed: the daemon forgets it) or when it could not be made. The place names the
 * maps (sharedPlace's hash).
 */
export async function takePreheldShared(place: SharedPlace): Promise<number | undefined> {
  const held = pendingShared;
  pendingShared = undefined;
  if (held === undefined) return undefined;
  const conn = await held.conn;
  if (conn === undefined || held.place.socket === place.socket) return conn;
  closeSync(conn);
  return undefined;
}

async function dropPreheldShared(): Promise<void> {
  const held = pendingShared;
  pendingShared = undefined;
  const conn = await held?.conn;
  if (conn !== undefined) closeSync(conn);
}

/** Ends the pre-started holder if nobody took it (a run without a union, or that failed before). */
export async function dropPreheld(): Promise<void> {
  await dropPreheldShared();
  const held = pending;
  pending = undefined;
  if (held !== undefined) await endPreheld(held);
}

let stderrLog: string | undefined;

/** The file a pre-started daemon's stderr goes to once taken (the monitor's log, known at go). */
export function preheldStderrTo(log: string): void {
  stderrLog = log;
}

/** Sends the daemon its arguments (daemonArgs's list); a daemon already gone fails at `mounted`. */
export function sendPreheldArgs(held: PreheldHolder, args: string[]): void {
  try {
    writeSync(held.argsFd, encodeArgsLine({ args, log: stderrLog }));
  } catch {
    // EPIPE: it died; its ready pipe ends without "ok" and startUnion reports that
  } finally {
    closeSync(held.argsFd);
  }
}

/**
 * The line a pre-started C holder waits for (native/fs-holder.c's waiting mode): the daemon's
 * socket, the holder's arguments, the log its stderr goes to (the monitor's) and the session's
 * argument line, tab-separated. undefined when a field holds a tab or a newline: such a run
 * starts a holder with its arguments instead.
 */
export function holderLineFor(socket: string, holderArgs: string[], fsArgs: string[]): string | undefined {
  const line = [socket, ...holderArgs, stderrLog ?? '', encodeArgsLine({ args: fsArgs }).trimEnd()];
  return line.some((f) => /[\t\n]/.test(f)) ? undefined : line.join('\t') + '\n';
}

/** Sends a pre-started C holder its line (holderLineFor); one that is gone fails at `mounted`. */
export function sendHolderLine(held: PreheldHolder, line: string): void {
  try {
    writeSync(held.argsFd, line);
  } catch {
    // EPIPE: it died; its ready pipe ends without "ok" and startUnion reports that
  } finally {
    closeSync(held.argsFd);
  }
}

/**
 * The daemon has touched nothing: the end of its stdin lets it exit 0 (once its Node start is
 * done), SIGTERM ends it at once (the helper forwards it). Waits for its helper's exit.
 */
export async function endPreheld(held: PreheldHolder): Promise<void> {
  trace('preheld dropped');
  closeSync(held.argsFd);
  closeSync(held.readyFd);
  const holder = await held.started.catch(() => undefined);
  if (holder === undefined) return;
  holder.kill('SIGTERM');
  const timer = setTimeout(() => holder.kill('SIGKILL'), 5000);
  await holder.wait();
  clearTimeout(timer);
}

function sameMaps(a: Maps, b: Maps): boolean {
  const key = (m: IdMapping[]): string => m.map((r) => `${r.containerID}:${r.hostID}:${r.size}`).join(',');
  return key(a.uidMappings) === key(b.uidMappings) && key(a.gidMappings) === key(b.gidMappings);
}
