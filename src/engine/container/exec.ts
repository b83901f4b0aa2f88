import { UsageError } from '../../errors.js';
import type { Process, Spec } from '../../runtime/spec.js';
import { isSameProcess } from '../../sys/proc.js';
import { viewContainer, resolveContainer, type ContainerStore } from '../store/index.js';
import { rawMode, terminalIo, type RunCommandIo } from './foreground.js';
import { runContainer } from '../launch/index.js';
import { adjustCapabilities, execSpec, resolveUserIn } from '../spec/index.js';

/** `hutch exec`'s flags. */
export interface ExecRequest {
  container: string;
  command: string[];
  env: string[];
  workdir?: string;
  user?: string;
  tty: boolean;
  interactive: boolean;
  /** --cap-add/--cap-drop, on the container's own set (--privileged: ALL). */
  capAdd?: string[];
  capDrop?: string[];
}

/** Runs a command inside a running container of the user face; returns its exit status. */
export async function execInContainer(store: ContainerStore, req: ExecRequest, io: RunCommandIo): Promise<number> {
  const id = resolveContainer(store, req.container);
  const { config, state } = viewContainer(store, id);
  if (state.status !== 'running' || !isSameProcess(state.pid, state.pidStart)) {
    throw new UsageError(
      'CONTAINER_NOT_RUNNING',
      `cannot exec in container ${config.name}: it is ${state.status === 'running' ? 'stopping' : state.status}`,
      { hint: 'start it first with `hutch start`' },
    );
  }
  const base = config.spec.process!;
  const user = req.user === undefined ? base.user : userFor(config.spec, req.user);
  const process: Process = {
    ...base,
    terminal: req.tty,
    args: req.command,
    env: mergeEnv(base.env ?? [], req.env),
    cwd: req.workdir ?? base.cwd,
    user,
    capabilities: execCapabilities(base, req),
  };
  const spec = execSpec(config.spec, state.pid!, process);
  const restore = req.tty && req.interactive && io.stdin.isTTY ? rawMode(io.stdin) : () => undefined;
  try {
    const result = await runContainer(spec, {
      stdio: [req.interactive ? 'inherit' : 'ignore', 'inherit', 'inherit'],
      terminal: req.tty ? terminalIo({ ...req, tty: true } as never, io) : undefined,
      forwardSignals: true,
    });
    return result.exitCode;
  } finally {
    restore();
  }
}

function userFor(spec: Spec, user: string): Process['user'] {
  const rootfs = spec.root?.path;
  if (rootfs === undefined)
    throw new UsageError('EXEC_USER_UNRESOLVED', `cannot resolve user ${user}: the container has no root path`, {
      hint: 'give numeric ids: -u UID:GID',
    });
  const u = resolveUserIn(rootfs, user);
  return { uid: u.uid, gid: u.gid, additionalGids: u.additionalGids };
}

function mergeEnv(base: string[], extra: string[]): string[] {
  const env = new Map(base.map((e) => [e.split('=')[0]!, e] as const));
  for (const e of extra) {
    const eq = e.indexOf('=');
    if (eq > 0) env.set(e.slice(0, eq), e);
    else if (eq < 0 && globalThis.process.env[e] !== undefined) env.set(e, `${e}=${globalThis.process.env[e]}`);
  }
  return [...env.values()];
}

/** The container's capabilities with exec's --cap-add/--cap-drop applied to each set it has. */
function execCapabilities(base: Process, req: ExecRequest): Process['capabilities'] {
  const caps = base.capabilities;
  if (caps === undefined || (!req.capAdd?.length && !req.capDrop?.length)) return caps;
  const set = adjustCapabilities(caps.bounding ?? [], req.capAdd ?? [], req.capDrop ?? []);
  return { ...caps, bounding: set, effective: set, permitted: set };
}
