/**
 * The union's holder started before clipanion parses a `hutch run` (src/engine/setup/preheld-holder.ts):
 * a cheap look at argv, no parser. A wrong guess costs the daemon's start, never behaviour: the
 * run takes the holder only when its maps are the ones it was started with, and ends it otherwise.
 */
import { scanContainerLine } from './early-monitor.cjs';
import { holdsDetachedReport } from '../sys/detached-report.cjs';

/** Options after which the run surely wants no pre-started holder (or other maps than the default). */
const NOT_DEFAULT = /^--(rootfs|userns|uidmap|gidmap|hpc|storage-driver)(=|$)/;

/**
 * A foreground `run` from an image with the default maps, by the same look at argv as the early
 * monitor's (early-monitor.cts scanContainerLine: options up to the image, before the verb too).
 */
export function wantsPreheldHolder(argv: string[]): boolean {
  const line = scanContainerLine(argv);
  return line?.verb === 'run' && !line.detach && !line.options.some((o) => NOT_DEFAULT.test(o) || o === '-h');
}

/**
 * A `run -d` with the default maps, with the shared union daemon: the CLI starts the daemon (if
 * none runs) and holds a connection to it until it exits, by when its monitor has connected too
 * (the monitor, before go, does not know the store the daemon's socket is in).
 */
function wantsSharedDaemon(argv: string[]): boolean {
  const line = scanContainerLine(argv);
  return (
    process.env.HUTCH_FS_SHARED !== '0' &&
    line?.verb === 'run' &&
    line.detach &&
    !line.options.some((o) => NOT_DEFAULT.test(o) || o === '-h')
  );
}

/** --root's value on the command line (clipanion's two spellings), if given. */
export function rootOption(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') return undefined;
    if (argv[i] === '--root') return argv[i + 1];
    if (argv[i]!.startsWith('--root=')) return argv[i]!.slice('--root='.length);
  }
  return undefined;
}

let started = false;

/**
 * Starts the holder for a command line that wants one (the module is loaded only then); resolves
 * once its helper runs with its plan (and the shared daemon is exec'd, when one is started), at
 * most WAIT_MS later: from there the holder's launch goes on on its own (ON_ITS_OWN, docs/wire.md)
 * while the parse that follows holds the event loop.
 */
export async function preholdFor(argv: string[]): Promise<void> {
  const detached = wantsSharedDaemon(argv);
  if (!detached && !wantsPreheldHolder(argv)) return;
  started = true;
  // A `run -d` forked by the run front is its own monitor (src/sys/detached-report.cts): its
  // holder too is started now, writing nowhere until it has the container's log, as a monitor's.
  const monitorHere = detached && holdsDetachedReport();
  const { preholdUnion } = await import('../engine/setup/preheld-holder.js');
  let timer: NodeJS.Timeout | undefined;
  const holding = preholdUnion({
    root: rootOption(argv),
    sharedOnly: detached && !monitorHere,
    stderrLater: monitorHere,
  });
  await Promise.race([holding, new Promise((resolve) => (timer = setTimeout(resolve, WAIT_MS).unref()))]);
  clearTimeout(timer);
}

/** The most the parse waits for the holder's spawn (a few ms; a first shared daemon's exec too). */
const WAIT_MS = 250;

/** Ends the holder if the command did not take it (a usage error, --help, a failure before the union). */
export async function dropPreheldHolder(): Promise<void> {
  if (started) await (await import('../engine/setup/preheld-holder.js')).dropPreheld();
}
