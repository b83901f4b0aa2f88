import { readFileSync, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { BugError, CommandError, HelperError, UserNsError } from '../../errors.js';
import { idMapWhat, spawnHelper, WIRE, type HelperProcess } from '../../runtime/nsexec.js';
import { planFromSpec, type HelperPlan, type PlanOptions } from '../../runtime/plan.js';
import type { IdMapTool } from '../../userns/newidmap.js';
import { namespaceOf, type IdMapping, type Spec } from '../../runtime/spec.js';
import { CHOWN_FAMILY, seccompProgram } from '../../security/seccomp/index.js';
import { parseMapText } from '../../userns/idmap.js';
import { idMapTools, mapToolFailed, writeIdMaps, type MapWriter } from '../../userns/newidmap.js';
import type { TerminalIo } from './terminal.js';
import { faultPoint } from '../../sys/fault.js';

/**
 * Called with the container process's host pid after the clone, once the id maps are written and
 * the mounts are done, before the process is exec'd: networking (slirp4netns) and cgroups plug in here.
 */
export type ContainerHook = (pid: number) => Promise<void>;

type Stdio = 'inherit' | 'ignore' | 'pipe' | number;

/** How to launch: the caller's side (stdio, terminal, steps, signals) and its plan options (PlanOptions). */
export interface LaunchOptions extends PlanOptions {
  /** fds 0-2 of the container process when it has no terminal (default: inherit). */
  stdio?: [Stdio, Stdio, Stdio];
  /** Where a terminal (spec.process.terminal) reads input and writes output. */
  terminal?: TerminalIo;
  /**
   * Takes the terminal's master fd instead (an OCI runtime passes it on through --console-socket);
   * the caller owns and closes it. Called before the hooks.
   */
  takeTerminal?: (master: number) => void;
  hooks?: ContainerHook[];
  /** Called by `start()` before the process execs (startContainer hooks); a throw ends the container. */
  starting?: ContainerHook;
  /** Called by `start()` once the process exec'd (poststart hooks). */
  started?: ContainerHook;
  /** Forward SIGINT, SIGTERM, SIGHUP, ... received by this process to the container. */
  forwardSignals?: boolean;
  /** The namespace owner writing the maps (default: this process's uid and gid). */
  owner?: MapWriter;
  /**
   * Settles when the root filesystem is mounted (the union daemon's start): the plan is made and
   * the helper spawned meanwhile, the plan sent after. A rejection is the launch's error.
   */
  rootfsMounted?: Promise<void>;
  /**
   * Put before the names of this launch's fault points (`cloned`, `created`): a launch that is not
   * the run's own steps (the pre-started holder, src/engine/setup/preheld-holder.ts) has its own.
   */
  faultSteps?: string;
  /**
   * The launch goes on without this process once the helper has its plan (ON_ITS_OWN,
   * docs/wire.md), when the helper's tools write both id maps; otherwise (a map hutch writes
   * itself) the sync protocol as ever. Nothing may run between created and started then: no
   * hooks, no terminal, no `starting`.
   */
  onItsOwn?: boolean;
  /** Called once the helper runs with its whole plan (on its own, it needs nothing more of us until exec). */
  spawned?: () => void;
}

/** A container whose namespaces and mounts exist and whose process waits to be started. */
export interface CreatedContainer {
  /** The container process (host pid namespace); PID 1 inside. */
  readonly pid: number;
  /** hutch-nsexec's pid: it relays signals and the exit status. */
  readonly helperPid: number;
  /** Execs the process; rejects with CommandError (126/127) or HelperError when it cannot run. */
  start(): Promise<void>;
  /** The exit status: the command's, or 128+N when killed by signal N. */
  wait(): Promise<ContainerResult>;
  kill(signal: NodeJS.Signals): void;
}

export interface ContainerResult {
  exitCode: number;
}

/** The helper plan a launch sends (createContainer's), the id map tools it names and the maps they write. */
export function launchPlan(
  spec: Spec,
  options: LaunchOptions = {},
): {
  plan: HelperPlan;
  tools: IdMapTool[];
  ownUserns: boolean;
  owner: MapWriter;
  uidMaps: IdMapping[];
  gidMaps: IdMapping[];
} {
  // Without a user namespace of its own, the container lives in ours: its gids are our map's.
  const userns = namespaceOf(spec, 'user');
  const ownUserns = userns !== undefined && userns.path === undefined; // a path joins one (exec)
  const gidMappings = ownUserns ? undefined : parseMapText(readFileSync('/proc/self/gid_map', 'utf8'));
  // linux.seccomp of either face goes through the one compiler; a given program overrides it.
  // chownNotify: the chown family goes to the helper; without a profile, every other call is allowed.
  const notify = options.chownNotify ? CHOWN_FAMILY : [];
  const profile = spec.linux?.seccomp ?? (options.chownNotify ? { defaultAction: 'SCMP_ACT_ALLOW' } : undefined);
  const filter =
    options.seccomp !== undefined
      ? { program: options.seccomp, flags: options.seccompFlags ?? 0 }
      : profile && seccompProgram(profile, undefined, notify);
  const owner = options.owner ?? { uid: process.getuid!(), gid: process.getgid!() };
  const uidMaps = spec.linux?.uidMappings ?? [],
    gidMaps = spec.linux?.gidMappings ?? [];
  // newuidmap and newgidmap run in the helper, right after its clone (docs/wire.md, ID_MAP).
  const tools = ownUserns ? idMapTools(uidMaps, gidMaps, owner) : [];
  const between = options.hooks?.length || options.starting || options.rootfsMounted || options.detach;
  if (options.onItsOwn && (between || spec.process?.terminal))
    throw new BugError(
      'a launch on its own has nothing between created and started: no hooks, terminal, rootfs or detach',
    );
  const plan = planFromSpec(
    spec,
    { isDirectory, gidMappings },
    {
      ...options,
      seccomp: filter?.program,
      seccompFlags: filter?.flags,
      idMaps: tools,
      onItsOwn: options.onItsOwn && tools.length === 2,
    },
  );
  return { plan, tools, ownUserns, owner, uidMaps, gidMaps };
}

/**
 * Creates a container from an OCI spec: clone into its namespaces, write the id maps (when the spec
 * has a user namespace; without one the container joins the caller's, as a monitor inside the user
 * namespace does), mount, run the hooks. The process is exec'd by `start()`.
 */
export async function createContainer(spec: Spec, options: LaunchOptions = {}): Promise<CreatedContainer> {
  const { plan, tools, ownUserns, owner, uidMaps, gidMaps } = launchPlan(spec, options);
  const helper = await spawnHelper(
    plan,
    plan.terminal ? ['ignore', 'ignore', 'ignore'] : (options.stdio ?? ['inherit', 'inherit', 'inherit']),
    options.rootfsMounted,
  );
  options.spawned?.();
  let pid: number;
  let detach: (() => Promise<void>) | undefined;
  try {
    await options.rootfsMounted; // its error is the launch's (the helper then never gets its plan)
    pid = await helper.cloned();
    faultPoint(`${options.faultSteps ?? ''}cloned`);
    if (ownUserns) writeIdMaps(pid, uidMaps, gidMaps, owner, tools);
    helper.mapped();
    await helper.ready();
    const ownsTerminal = plan.terminal && plan.consoleSocket === undefined; // else the helper sent it to the console socket
    // Loaded on use: pidfd.ts and the terminal load koffi (~25 ms of CPU), which a run without a
    // terminal need not pay (`hutch sandbox` is measured against bubblewrap).
    const { takeFd } = ownsTerminal ? await import('../../sys/pidfd.js') : { takeFd: undefined };
    if (ownsTerminal && options.takeTerminal) options.takeTerminal(takeFd!(pid, WIRE.ptyMasterFd));
    else if (ownsTerminal)
      detach = (await import('./terminal.js')).attachTerminal(
        takeFd!(pid, WIRE.ptyMasterFd),
        options.terminal ?? { output: process.stdout },
        spec.process?.consoleSize,
      );
    for (const hook of options.hooks ?? []) await hook(pid);
    faultPoint(`${options.faultSteps ?? ''}created`);
  } catch (error) {
    helper.kill('SIGKILL');
    await helper.exited();
    await detach?.();
    throw refine(error, spec, tools);
  }
  return created(helper, pid, spec, detach, options);
}

/** Creates, starts and waits for a container; the launch path of `hutch run`. */
export async function runContainer(spec: Spec, options: LaunchOptions = {}): Promise<ContainerResult> {
  // A signal that comes while the container is being created must not kill hutch half-way (its
  // cleanup would not run) nor get lost: the container is then removed unstarted, 128+N.
  let early: NodeJS.Signals | undefined;
  const hold = options.forwardSignals ? listen((signal) => (early ??= signal)) : () => undefined;
  let container: CreatedContainer;
  try {
    container = await createContainer(spec, options);
  } finally {
    hold();
  }
  if (early !== undefined) {
    container.kill('SIGKILL');
    await container.wait();
    return { exitCode: 128 + osConstants.signals[early] };
  }
  const stop = options.forwardSignals ? listen((signal) => container.kill(signal)) : () => undefined;
  try {
    await container.start();
    faultPoint('started');
    return await container.wait();
  } finally {
    stop();
  }
}

function created(
  helper: HelperProcess,
  pid: number,
  spec: Spec,
  detach: (() => Promise<void>) | undefined,
  options: Pick<LaunchOptions, 'starting' | 'started'>,
): CreatedContainer {
  return {
    pid,
    helperPid: helper.helperPid,
    start: async () => {
      try {
        if (options.starting !== undefined)
          await options.starting(pid).catch((error: unknown) => {
            helper.kill('SIGKILL');
            throw error;
          });
        await helper.go();
      } catch (error) {
        await helper.exited();
        await detach?.();
        throw refine(error, spec);
      }
      await options.started?.(pid);
    },
    wait: async () => {
      const exitCode = await helper.exited();
      await detach?.();
      return { exitCode };
    },
    kill: (signal) => helper.kill(signal),
  };
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** Handles the signals a container gets passed (instead of dying of them); returns the undo. */
function listen(onSignal: (signal: NodeJS.Signals) => void): () => void {
  const handlers = FORWARDED.map((signal) => {
    const handler = (): void => onSignal(signal);
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return () => handlers.forEach(([signal, handler]) => process.off(signal, handler));
}

/** Turns the helper's step failures into what the user must hear (docker's 126/127 included). */
function refine(error: unknown, spec: Spec, tools: IdMapTool[] = []): unknown {
  if (!(error instanceof HelperError)) return error;
  const tool = error.step === 'id map' ? tools.find((t) => idMapWhat(t) === error.what) : undefined;
  if (tool !== undefined) return mapToolFailed(tool, error.detail ?? '');
  const command = spec.process?.args[0] ?? '';
  if (error.step === 'exec' && (error.errno === 2 || error.errno === 20)) {
    return new CommandError('COMMAND_NOT_FOUND', `cannot run ${command}: no such file or directory in the container`, {
      hint: 'check the command name and the PATH inside the container',
      exitCode: 127,
    });
  }
  if (error.step === 'mount' && error.errno === ELOOP) return symlinkedMount(error, spec);
  if (error.step === 'exec') {
    // Engines read the cause in words (podman exits 126 on "permission denied").
    const why =
      error.errno === 13
        ? 'permission denied'
        : error.errno === 8
          ? 'exec format error'
          : error.message.split(': ').pop();
    return new CommandError('COMMAND_NOT_EXECUTABLE', `cannot run ${command}: ${why}`, {
      hint: 'check that it is an executable file for this machine',
      exitCode: 126,
    });
  }
  if (error.step === 'clone' && (error.errno === 1 || error.errno === 28 || error.errno === 22)) {
    return new UserNsError(
      'USERNS_DENIED',
      `cannot create the container's namespaces: ${error.message.split(': ').pop()}`,
      {
        hint: 'this host does not let users create user namespaces; run `hutch system info` for the fix',
      },
    );
  }
  if (error.step === 'cwd')
    return new HelperError(
      'cwd',
      error.errno,
      `cannot enter the working directory ${spec.process?.cwd}: ${error.message.split(': ').pop()}`,
      { hint: 'give -w a directory that exists in the container' },
    );
  return error;
}

const ELOOP = 40;

/** proc and sysfs refused a symlink on the way (MOUNT_OP_NO_SYMLINKS): say which, as runc does. */
function symlinkedMount(error: HelperError, spec: Spec): HelperError {
  const mount = (spec.mounts ?? []).find(
    (m) => (m.type === 'proc' || m.type === 'sysfs') && error.message.includes(` at ${m.destination}:`),
  );
  if (mount === undefined) return error;
  return new HelperError(
    'mount',
    ELOOP,
    `cannot start the container: ${mount.destination} in the root filesystem is a symlink: ${mount.type} must be mounted on an ordinary directory`,
    {
      hint: 'the image is broken or hostile: its /proc and /sys must be plain directories',
    },
  );
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
