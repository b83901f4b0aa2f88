import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import { readFileInRoot } from '../../sys/in-root.js';
import { readEnvFile } from './env-file.js';
import type { ImageConfig } from '../../image/manifest.js';
import type { ResolvedImage } from '../../image/resolve.js';

/** What a run asks for that the image's config may fill in (docker's rules). */
export interface ConfigurableRequest {
  command: string[];
  entrypoint?: string;
  env: string[];
  /** --env-file paths: their entries go after the image's Env, before -e's (docker's order). */
  envFiles?: string[];
  /** containers.conf's env, under the image's. */
  defaultEnv?: string[];
  workdir?: string;
  user?: string;
  volumes: string[];
}

/**
 * Applies the image config to a request, as docker does: the entrypoint (or --entrypoint) runs
 * with the given arguments, else with the image's Cmd; containers.conf's env, then the image's
 * Env come first (--env-file's entries and then -e win);
 * WorkingDir and User are defaults. Each declared Volume gets an empty directory of its own under
 * `volumeDir` (an anonymous volume). Pure but for those directories.
 */
export function applyImageConfig<T extends ConfigurableRequest>(req: T, config: ImageConfig, volumeDir: string): T {
  const c = config.config ?? {};
  const entrypoint =
    req.entrypoint !== undefined ? (req.entrypoint === '' ? [] : [req.entrypoint]) : (c.Entrypoint ?? []);
  // docker: --entrypoint resets the image's Cmd too.
  const args = req.command.length > 0 ? req.command : req.entrypoint !== undefined ? [] : (c.Cmd ?? []);
  const command = [...entrypoint, ...args];
  if (command.length === 0)
    throw new UsageError(
      'RUN_NO_COMMAND',
      'cannot run the image: it has no Entrypoint or Cmd and no command was given',
      { hint: 'give the command after the image, e.g. hutch run IMAGE sh' },
    );
  const volumes = Object.keys(c.Volumes ?? {}).map((dest, i) => {
    const dir = join(volumeDir, String(i));
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    return `${dir}:${dest}:rw`;
  });
  return {
    ...req,
    command,
    env: [...(req.defaultEnv ?? []), ...(c.Env ?? []), ...(req.envFiles ?? []).flatMap(readEnvFile), ...req.env],
    defaultEnv: [],
    envFiles: [],
    workdir: req.workdir ?? (c.WorkingDir || undefined),
    user: req.user ?? (c.User || undefined),
    volumes: [...volumes, ...req.volumes],
  };
}

/** The ports the image exposes ("80/tcp"), for -P. */
export function exposedPorts(config: ImageConfig): string[] {
  return Object.keys(config.config?.ExposedPorts ?? {});
}

/**
 * The image's /etc/passwd and /etc/group text (from the topmost layer that has each), so users
 * are resolved on the host even when the root filesystem is only visible inside the container's
 * namespaces (the union filesystem).
 */
export function userDatabase(image: Pick<ResolvedImage, 'layers'>): { passwd: string; group: string } {
  // Each layer read as a tree of its own (a link is resolved inside that layer): never the host's file.
  const read = (name: string): string => {
    for (const layer of [...image.layers].reverse()) {
      const text = readFileInRoot(layer.dir, `/etc/${name}`);
      if (text !== undefined) return text;
    }
    return '';
  };
  return { passwd: read('passwd'), group: read('group') };
}
