import { resolve } from 'node:path';
import { UsageError } from '../src/errors.js';

/**
 * The command line of bin/hutch-fs, fuse-overlayfs's own:
 *   hutch-fs [-f] [-d] -o lowerdir=A:B,upperdir=U,workdir=W[,squash_to_root,...] MOUNTPOINT
 * lowerdir is top layer first (as overlayfs takes it). hutch adds `lowerindex=I1:I2` (one HLI1
 * index per lower layer, same order) and `overrideonly` (single-uid mode). Options it does not
 * know are ignored, as engines pass fuse-overlayfs-specific tuning. Pure: no I/O.
 */
export interface FsOptions {
  lowers: { dir: string; indexFile?: string }[];
  upper: string;
  work: string;
  mountpoint: string;
  foreground: boolean;
  debug: boolean;
  overrideOnly: boolean;
  squash?: { uid: number; gid: number };
  timeout: number;
  ignored: string[];
}

/** Splits a colon list where `\:` escapes a colon inside a path. */
export function splitColons(s: string): string[] {
  return s.split(/(?<!\\):/).map((p) => p.replace(/\\:/g, ':'));
}

/** Splits mount options on commas not escaped by a backslash. */
function splitCommas(s: string): string[] {
  return s.split(/(?<!\\),/).map((p) => p.replace(/\\,/g, ','));
}

export function parseFsArgs(argv: string[], cwd: string): FsOptions {
  const opts: string[] = [];
  const rest: string[] = [];
  let foreground = false;
  let debug = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-o') opts.push(...splitCommas(argv[++i] ?? ''));
    else if (a.startsWith('-o')) opts.push(...splitCommas(a.slice(2)));
    else if (a === '-f') foreground = true;
    else if (a === '-d' || a === '--debug') [debug, foreground] = [true, true];
    else rest.push(a);
  }
  if (rest.length !== 1) throw new UsageError('FS_USAGE', 'hutch-fs takes one mount point', { hint: 'usage: hutch-fs -o lowerdir=A:B,upperdir=U,workdir=W MOUNTPOINT' });
  const kv = new Map<string, string>();
  for (const o of opts) {
    const eq = o.indexOf('=');
    kv.set(eq < 0 ? o : o.slice(0, eq), eq < 0 ? '' : o.slice(eq + 1));
  }
  const need = (k: string): string => {
    const v = kv.get(k);
    if (v === undefined || v === '') throw new UsageError('FS_USAGE', `hutch-fs needs -o ${k}=…`, { hint: 'usage: hutch-fs -o lowerdir=A:B,upperdir=U,workdir=W MOUNTPOINT' });
    return resolve(cwd, v);
  };
  const dirs = splitColons(kv.get('lowerdir') ?? '').filter((d) => d !== '').map((d) => resolve(cwd, d));
  const indexes = kv.has('lowerindex') ? splitColons(kv.get('lowerindex')!) : [];
  const squash = kv.has('squash_to_root') ? { uid: 0, gid: 0 } : kv.has('squash_to_uid') ? { uid: Number(kv.get('squash_to_uid')), gid: Number(kv.get('squash_to_gid') ?? kv.get('squash_to_uid')) } : undefined;
  const known = new Set(['lowerdir', 'lowerindex', 'upperdir', 'workdir', 'overrideonly', 'squash_to_root', 'squash_to_uid', 'squash_to_gid', 'timeout']);
  return {
    lowers: dirs.map((dir, i) => (indexes[i] ? { dir, indexFile: resolve(cwd, indexes[i]!) } : { dir })),
    upper: need('upperdir'),
    work: need('workdir'),
    mountpoint: resolve(cwd, rest[0]!),
    foreground,
    debug,
    overrideOnly: kv.has('overrideonly'),
    squash,
    timeout: kv.has('timeout') ? Number(kv.get('timeout')) : 86400,
    ignored: [...kv.keys()].filter((k) => !known.has(k)),
  };
}
