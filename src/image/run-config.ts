import { UsageError } from '../errors.js';
import type { ImageConfig } from './manifest.js';

/** What `hutch run` asked for, each field overriding the image's. */
export interface RunOverrides {
  /** --entrypoint: replaces the image's Entrypoint and drops its Cmd, as docker does. "" clears it. */
  entrypoint?: string[];
  /** The command after the image name; replaces Cmd when not empty. */
  command?: string[];
  /** -e KEY=VALUE (or -e KEY, taken from `hostEnv`), applied after the image's Env. */
  env?: string[];
  workdir?: string;
  user?: string;
}

/** The process a container runs, from its image config and the run's flags. Pure. */
export interface ProcessSpec {
  args: string[];
  env: string[];
  cwd: string;
  /** "" means the image's default (root). */
  user: string;
  /** Paths the engine mounts anonymous volumes on. */
  volumes: string[];
  /** "80/tcp", ... (for later --publish-all). */
  exposedPorts: string[];
  stopSignal: string | undefined;
}

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Applies an image config the way docker and podman do. */
export function processSpec(
  image: ImageConfig,
  run: RunOverrides = {},
  hostEnv: NodeJS.ProcessEnv = process.env,
): ProcessSpec {
  const c = image.config ?? {};
  const entrypoint = run.entrypoint !== undefined ? run.entrypoint.filter((a) => a !== '') : (c.Entrypoint ?? []);
  const cmd =
    run.command !== undefined && run.command.length > 0
      ? run.command
      : run.entrypoint !== undefined
        ? []
        : (c.Cmd ?? []);
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) {
    throw new UsageError('RUN_NO_COMMAND', 'the image names no command (no Entrypoint or Cmd) and none was given', {
      hint: 'give the command after the image name',
    });
  }
  return {
    args,
    env: mergeEnv(c.Env ?? [], run.env ?? [], hostEnv),
    cwd: run.workdir || c.WorkingDir || '/',
    user: run.user ?? c.User ?? '',
    volumes: Object.keys(c.Volumes ?? {}),
    exposedPorts: Object.keys(c.ExposedPorts ?? {}),
    stopSignal: c.StopSignal,
  };
}

/** Later entries replace earlier ones by key; `KEY` alone takes the host's value (or is dropped). */
export function mergeEnv(imageEnv: string[], overrides: string[], hostEnv: NodeJS.ProcessEnv): string[] {
  const merged = new Map<string, string>();
  for (const item of imageEnv) merged.set(item.split('=')[0]!, item);
  for (const item of overrides) {
    const eq = item.indexOf('=');
    if (eq >= 0) merged.set(item.slice(0, eq), item);
    else if (hostEnv[item] !== undefined) merged.set(item, `${item}=${hostEnv[item]}`);
  }
  if (!merged.has('PATH')) merged.set('PATH', DEFAULT_PATH);
  return [...merged.values()];
}
