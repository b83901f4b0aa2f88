import { accessSync, constants, statSync } from 'node:fs';
import { resolve } from 'node:path';

/** execvp's default search path where PATH is unset. */
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * `tool`'s absolute path on PATH, as execvp would find it: the first entry where it is an
 * executable regular file (a directory of that name is passed over); an empty entry is the working
 * directory. Undefined when it is not installed. The one lookup for every tool hutch starts by
 * name (slirp4netns, pasta, ip, newuidmap, newgidmap); native/front-util.c find_on_path is its twin.
 */
export function findOnPath(tool: string, path = process.env.PATH ?? DEFAULT_PATH): string | undefined {
  for (const dir of path.split(':')) {
    const file = resolve(dir || '.', tool);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}
