/**
 * `hutch run -d` and `hutch create` start their container's monitor as the CLI's first act, before
 * the CLI's bundle is read, compiled and run (~150 ms): the monitor's own Node start and bundle then
 * overlap all of the CLI's, and it is forked from a small heap. It waits for `go` (the container
 * it is for) on fd 3; the command takes it (container/create.ts), or it is ended unused
 * (src/sys/waiting-child.cts). The command line is guessed by a scan of argv without clipanion:
 * a wrong guess costs one Node start of CPU, never behaviour.
 *
 * CommonJS (.cts) and standalone on purpose: the bundle loader calls it before anything is loaded.
 */
import type * as WaitingChild from '../sys/waiting-child.cjs';
import { holdDetachedReport } from '../sys/detached-report.cjs';

/**
 * The options of `run` and `create` that take a value (src/cli/commands/run.ts and the classes it
 * extends: container-flags.ts, resource-flags.ts, preserve-fds.ts); every other option is a flag.
 * test/unit/cli/early-monitor.test.ts holds this equal to the commands' declared options.
 */
export const RUN_VALUE_OPTIONS: ReadonlySet<string> = new Set([
  // resource-flags.ts
  '-m',
  '--memory',
  '--memory-swap',
  '--memory-reservation',
  '--cpus',
  '-c',
  '--cpu-shares',
  '--cpu-weight',
  '--cpu-period',
  '--cpu-quota',
  '--cpuset-cpus',
  '--cpuset-mems',
  '--pids-limit',
  '--blkio-weight',
  '--blkio-weight-device',
  '--device-read-bps',
  '--device-write-bps',
  '--device-read-iops',
  '--device-write-iops',
  // container-flags.ts
  '--pull',
  '--platform',
  '--storage-driver',
  '--entrypoint',
  '--network',
  '--net',
  '-p',
  '--publish',
  '--dns',
  '--dns-search',
  '--dns-option',
  '--add-host',
  '--cgroups',
  '--cgroup-manager',
  '--cgroup-parent',
  '--mount',
  // run.ts
  '--root',
  '--rootfs',
  '-e',
  '--env',
  '--env-file',
  '-w',
  '--workdir',
  '-u',
  '--user',
  '-v',
  '--volume',
  '--tmpfs',
  '-h',
  '--hostname',
  '--pid',
  '--ipc',
  '--uts',
  '--shm-size',
  '--device',
  '--cdi-spec-dir',
  '--gpus',
  '--userns',
  '--uidmap',
  '--gidmap',
  '--cap-add',
  '--cap-drop',
  '--security-opt',
  '--ulimit',
  '--name',
  '--restart',
  '--preserve-fds',
]);

/** What a look at a command line without clipanion says of the container it makes. */
export interface ContainerLine {
  verb: 'run' | 'create';
  detach: boolean;
  /** Every option word up to the image (values of RUN_VALUE_OPTIONS not included). */
  options: string[];
}

/**
 * `run` or `create` with their options up to the first positional after the verb (the image, or
 * --rootfs's command: run's options end there) or `--`; undefined for any other command line, and
 * for --help before the image (help, not a container). Options may come before the verb too
 * (`hutch --root DIR run -d IMAGE`: clipanion takes a command's options on either side of its
 * path). The last of -d/--detach[=true|false]/--no-detach counts, as in clipanion; a short cluster
 * (-dit) is all flags, as clipanion reads it. A wrong guess costs a start, never behaviour.
 */
export function scanContainerLine(args: readonly string[]): ContainerLine | undefined {
  let verb: 'run' | 'create' | undefined;
  let detach = false;
  const options: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') break;
    if (!arg.startsWith('-') || arg === '-') {
      if (verb !== undefined) break; // the image: the rest is its command's
      if (arg === 'run' || arg === 'create') verb = arg;
      else if (arg === 'container' && args[i + 1] === 'create') [verb, i] = ['create', i + 1];
      else return undefined;
      continue;
    }
    if (arg === '--help') return undefined;
    options.push(arg);
    if (arg === '-d' || arg === '--detach' || arg === '--detach=true') detach = true;
    else if (arg === '--no-detach' || arg === '--detach=false') detach = false;
    else if (/^-[a-zA-Z]{2,}$/.test(arg)) detach ||= arg.includes('d');
    else if (RUN_VALUE_OPTIONS.has(arg)) i++; // its value, whatever it looks like
  }
  return verb === undefined ? undefined : { verb, detach, options };
}

/** Whether the command line makes a container for a monitor: `run` with -d, or `create`. */
export function startsDetachedContainer(args: readonly string[]): boolean {
  const line = scanContainerLine(args);
  return line !== undefined && (line.verb === 'create' || line.detach);
}

/**
 * Starts the monitor of the container this command line will make, if it makes one; `loader` is
 * the bundle loader's file (it runs the monitor's bundle), `trace` its HUTCH_TRACE writer.
 */
export function startEarlyMonitor(args: readonly string[], loader: string, trace: (step: string) => void): void {
  if (holdDetachedReport()) return; // forked by the run front: this process becomes the monitor itself
  if (!startsDetachedContainer(args)) return;
  try {
    // Loaded here, not above: every other command line pays for the scan alone (child_process ~4 ms).
    const { holdEarlyMonitor, spawnWaitingChild } = require('../sys/waiting-child.cjs') as typeof WaitingChild;
    const monitor = spawnWaitingChild([loader, 'monitor']);
    if (monitor.child.pid === undefined) return; // the command spawns its own, and says why it cannot
    holdEarlyMonitor(monitor);
    trace(`monitor early ${monitor.child.pid}`);
  } catch {
    // the command spawns its own (and reports why it cannot)
  }
}
