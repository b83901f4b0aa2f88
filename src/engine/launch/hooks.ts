import { closeSync, writeSync } from 'node:fs';
import { RuntimeError } from '../../errors.js';
import type { Hook, Process, Spec } from '../../runtime/spec.js';
import { pipe } from '../../sys/pipe.js';
import { childProcess } from '../../sys/on-use.js';
import { runContainer } from './launch.js';

/** The state the runtime spec gives hooks (and `hutch runtime state` prints). */
export interface OciStateJson {
  ociVersion: string;
  id: string;
  status: 'creating' | 'created' | 'running' | 'stopped';
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

/**
 * Runs OCI hooks in order, each with the container's state as JSON on stdin (runtime-spec
 * config.md, "POSIX-platform Hooks"); `args[0]` is the program's argv[0]. A hook that fails or
 * outlasts its timeout is an error naming the hook kind and path.
 */
export async function runHooks(
  kind: string,
  hooks: Hook[] | undefined,
  state: OciStateJson,
  origin = 'config.json',
): Promise<void> {
  for (const hook of hooks ?? []) await runHook(kind, hook, state, origin);
}

function runHook(kind: string, hook: Hook, state: OciStateJson, origin: string): Promise<void> {
  const [argv0, ...args] = hook.args ?? [hook.path];
  const env = Object.fromEntries(
    (hook.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
  );
  return new Promise((resolve, reject) => {
    const child = childProcess().spawn(hook.path, args, {
      argv0,
      env,
      stdio: ['pipe', 'ignore', 'pipe'],
      timeout: hook.timeout === undefined ? undefined : hook.timeout * 1000,
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdin!.on('error', () => undefined); // a hook need not read its stdin
    child.stdin!.end(JSON.stringify(state));
    const fail = (why: string, cause?: unknown): void =>
      reject(
        new RuntimeError('HOOK_FAILED', `${kind} hook ${hook.path} failed: ${why}`, {
          hint: `check the hook program and its arguments in ${origin}`,
          cause,
        }),
      );
    child.on('error', (error) => fail((error as NodeJS.ErrnoException).code ?? error.message, error));
    // 'close', not 'exit': the exit can arrive before the last of stderr, which the message quotes.
    child.on('close', (code, signal) => {
      if (code === 0) return resolve();
      fail(
        signal !== null
          ? `killed by ${signal}${signal === 'SIGTERM' && hook.timeout !== undefined ? ` after its ${hook.timeout} s timeout` : ''}`
          : `exit status ${code}${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}`,
      );
    });
  });
}

/**
 * Runs hooks inside the container's namespaces (startContainer: after `start`, before the
 * process runs), as root there with the process's capabilities, the state on stdin. The helper
 * joins the namespaces; the path is resolved in the container's root. `joining` is the exec spec
 * of a process joining the container (spec/exec-spec.ts execSpec over the container's spec and pid),
 * or some of its namespaces (`pathsIn` then says where the path is resolved).
 */
export async function runHooksInside(
  kind: string,
  hooks: Hook[] | undefined,
  container: { spec: Spec; joining: (process: Process) => Spec; pathsIn?: string },
  state: OciStateJson,
  origin = 'config.json',
): Promise<void> {
  for (const hook of hooks ?? []) {
    const input = pipe();
    writeSync(input.write, JSON.stringify(state)); // far below a pipe's buffer: never blocks
    closeSync(input.write);
    const base = container.spec.process!;
    const process: Process = {
      ...base,
      terminal: false,
      args: [hook.path, ...(hook.args ?? []).slice(1)],
      env: hook.env ?? [],
      cwd: '/',
      user: { uid: 0, gid: 0 },
    };
    let exitCode: number;
    try {
      exitCode = (await runContainer(container.joining(process), { stdio: [input.read, 'ignore', 'inherit'] }))
        .exitCode;
    } catch (error) {
      throw new RuntimeError('HOOK_FAILED', `${kind} hook ${hook.path} failed: ${(error as Error).message}`, {
        hint: `the path must exist in ${container.pathsIn ?? "the container's root"}`,
        cause: error,
      });
    } finally {
      closeSync(input.read);
    }
    if (exitCode !== 0)
      throw new RuntimeError('HOOK_FAILED', `${kind} hook ${hook.path} failed: exit status ${exitCode}`, {
        hint: `check the hook program and its arguments in ${origin} (its stderr is above)`,
      });
  }
}
