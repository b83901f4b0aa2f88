import { isAbsolute, posix, resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { randomHex } from '../../sys/random.js';

/** One `-v` or `--mount`, parsed but not yet resolved against the volume store. */
export type MountFlag =
  | { kind: 'bind'; source: string; destination: string; readonly: boolean; chown: boolean; overlay: boolean }
  | {
      kind: 'volume';
      name: string;
      destination: string;
      readonly: boolean;
      chown: boolean;
      overlay: boolean;
      nocopy: boolean;
    }
  | { kind: 'tmpfs'; destination: string; options: string[] };

const V_OPTIONS = new Set(['ro', 'rw', 'U', 'O', 'nocopy']);

/**
 * `-v [SRC:]DST[:OPTS]` as podman reads it: a SRC that is absolute, or starts with ./ or ../
 * (resolved against `cwd`), is a host path; any other SRC names a volume; no SRC is a new
 * anonymous volume. OPTS: ro, rw, U (chown the source to the container's user), O (an overlay:
 * the container writes to a copy), nocopy (do not fill a new volume from the image).
 */
export function parseVolumeFlag(value: string, cwd: string): MountFlag {
  const parts = value.split(':');
  const bad = (why: string): UsageError =>
    new UsageError('VOLUME_INVALID', `invalid -v ${value}: ${why}`, {
      hint: 'use -v SRC:DST[:ro|rw|U|O] (SRC a path, ./path or volume name), e.g. -v ./data:/data:ro or -v cache:/cache',
    });
  if (parts.length > 3 || parts.some((p, i) => p === '' && i < 2)) throw bad('expected [SRC:]DST[:OPTIONS]');
  const [source, destination, opts] =
    parts.length === 1 ? [undefined, parts[0]!, undefined] : [parts[0]!, parts[1]!, parts[2]];
  const options = opts === undefined ? [] : opts.split(',');
  const unknown = options.find((o) => !V_OPTIONS.has(o));
  if (unknown !== undefined) throw bad(`unknown option ${unknown}`);
  const common = {
    destination: checkDestination(destination, bad),
    readonly: options.includes('ro'),
    chown: options.includes('U'),
    overlay: options.includes('O'),
  };
  if (source === undefined)
    return { kind: 'volume', name: anonymousName(), nocopy: options.includes('nocopy'), ...common };
  if (isHostPath(source)) return { kind: 'bind', source: resolve(cwd, source), ...common };
  return { kind: 'volume', name: source, nocopy: options.includes('nocopy'), ...common };
}

/**
 * `--mount type=volume|bind|tmpfs,source=S,destination=D[,readonly][,volume-nocopy]
 * [,tmpfs-size=N][,tmpfs-mode=M]` (docker's keys; src, dst and target are accepted too).
 */
export function parseMountFlag(value: string, cwd: string): MountFlag {
  const bad = (why: string): UsageError =>
    new UsageError('MOUNT_INVALID', `invalid --mount ${value}: ${why}`, {
      hint: 'e.g. --mount type=volume,source=cache,destination=/cache or --mount type=bind,src=./data,dst=/data,readonly',
    });
  const keys = new Map<string, string>();
  for (const field of value.split(',')) {
    const eq = field.indexOf('=');
    const key = eq < 0 ? field : field.slice(0, eq);
    keys.set(key, eq < 0 ? 'true' : field.slice(eq + 1));
  }
  const take = (...names: string[]): string | undefined => {
    const found = names.find((n) => keys.has(n));
    const v = found === undefined ? undefined : keys.get(found);
    names.forEach((n) => keys.delete(n));
    return v;
  };
  const type = take('type') ?? 'volume';
  const source = take('source', 'src');
  const destination = checkDestination(take('destination', 'dst', 'target') ?? '', bad);
  const ro = take('readonly', 'ro');
  if (ro !== undefined && ro !== 'true' && ro !== 'false') throw bad(`readonly=${ro} is not true or false`);
  const readonly = ro === 'true';
  let flag: MountFlag;
  if (type === 'tmpfs') {
    const size = take('tmpfs-size');
    const mode = take('tmpfs-mode');
    if (source !== undefined) throw bad('a tmpfs has no source');
    const options = [
      ...(size === undefined ? [] : [`size=${size}`]),
      `mode=${mode ?? '1777'}`,
      ...(readonly ? ['ro'] : []),
    ];
    flag = { kind: 'tmpfs', destination, options };
  } else if (type === 'bind') {
    if (source === undefined) throw bad('a bind mount needs source=');
    flag = { kind: 'bind', source: resolve(cwd, source), destination, readonly, chown: false, overlay: false };
  } else if (type === 'volume') {
    const nocopy = take('volume-nocopy');
    flag = {
      kind: 'volume',
      name: source ?? anonymousName(),
      destination,
      readonly,
      chown: false,
      overlay: false,
      nocopy: nocopy === 'true',
    };
  } else throw bad(`type ${type} is not volume, bind or tmpfs`);
  const unknown = [...keys.keys()][0];
  if (unknown !== undefined) throw bad(`unknown key ${unknown}`);
  return flag;
}

function isHostPath(source: string): boolean {
  return isAbsolute(source) || source === '.' || source === '..' || source.startsWith('./') || source.startsWith('../');
}

function checkDestination(destination: string, bad: (why: string) => UsageError): string {
  if (!posix.isAbsolute(destination))
    throw bad(`the destination ${JSON.stringify(destination)} is not an absolute path`);
  return posix.normalize(destination);
}

/** podman names an anonymous volume by 64 hex digits. */
function anonymousName(): string {
  return randomHex(32);
}
