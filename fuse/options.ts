import { resolve } from 'node:path';
import { UsageError } from '../src/errors.js';
import { parseIdRanges, type IdRange } from './idmap.js';

/**
 * The command line of bin/hutch-fs, fuse-overlayfs's own:
 *   hutch-fs [-f] [-d] -o lowerdir=A:B,upperdir=U,workdir=W[,squash_to_root,...] [SOURCE] MOUNTPOINT
 * SOURCE is what mount(8) and mount.fuse3 pass first (`mount -t fuse.hutch-fs SOURCE MNT`): it
 * names the mount (fsname), as fuse-overlayfs ignores it otherwise. lowerdir is top layer first
 * (as overlayfs takes it). hutch adds `lowerindex=I1:I2` (one HLI1 index per lower layer, same
 * order), `lowersquash=S1:S2` (a squashfs image squashfuse mounts at that lower dir first, or
 * empty) and `overrideonly` (single-uid mode); `uidmapping=`/`gidmapping=` shift ids as fuse-overlayfs does. The generic mount flags (suid, dev, exec, ro and
 * their opposites) go to the kernel as given; libfuse's defaults (nosuid, nodev) stand for those
 * not given. Options it does not know are ignored, as engines pass fuse-overlayfs-specific
 * tuning. Pure: no I/O.
 */
export interface FsOptions {
  lowers: { dir: string; indexFile?: string }[];
  /** `lowersquash=I1:I2` (hutch's): squashfs images squashfuse mounts at the lower dirs of the same place first. */
  squashLowers: { image: string; dir: string }[];
  upper: string;
  work: string;
  mountpoint: string;
  /** The SOURCE argument of mount(8), when given. */
  source?: string;
  /** Generic mount flags as given (suid, nosuid, dev, nodev, exec, noexec, ro, rw), in order. */
  mountFlags: string[];
  foreground: boolean;
  debug: boolean;
  overrideOnly: boolean;
  squash?: { uid: number; gid: number };
  /** `uidmapping=`/`gidmapping=`: ids shifted between the layers and the mount (idmap.ts). */
  idRanges?: { uids?: IdRange[]; gids?: IdRange[] };
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

const USAGE = 'usage: hutch-fs -o lowerdir=A:B,upperdir=U,workdir=W [SOURCE] MOUNTPOINT';
/** The generic mount flags hutch-fs passes on to the kernel mount (through libfuse). */
const MOUNT_FLAGS = new Set(['suid', 'nosuid', 'dev', 'nodev', 'exec', 'noexec', 'ro', 'rw']);

/** podman's uidmapping=/gidmapping= (fuse-overlayfs's DISK:MOUNT:LEN lists; see idmap.ts). */
function idRanges(kv: Map<string, string>): FsOptions['idRanges'] {
  const get = (key: string): IdRange[] | undefined => (kv.has(key) ? parseIdRanges(key, kv.get(key)!) : undefined);
  const [uids, gids] = [get('uidmapping'), get('gidmapping')];
  return uids === undefined && gids === undefined ? undefined : { uids, gids };
}

/**
 * A pre-started daemon (HUTCH_FS_ARGS_FD) reads its command line from a pipe: one line, a JSON
 * object: `args`, the arguments (daemonArgs's, parsed by parseFsArgs as given on argv), and
 * `log`, a file its stderr goes to from then on (appended), when the one it was started with is
 * not its to keep (the monitor's, before go, a pipe to the CLI).
 */
export interface ArgsLine {
  args: string[];
  log?: string;
}

export function encodeArgsLine(line: ArgsLine): string {
  return JSON.stringify(line) + '\n';
}

/**
 * The shared daemon's other first message (fuse/shared.ts; never an args line, which is JSON):
 * leave as soon as no session is served, without lingering (hutch system reset).
 */
export const LEAVE_MESSAGE = 'leave\n';

/** The arguments of an encodeArgsLine line; a FS_USAGE error when it is not one. */
export function decodeArgsLine(text: string): ArgsLine {
  let value: Partial<ArgsLine> | undefined;
  try {
    value = JSON.parse(text) as Partial<ArgsLine>;
  } catch {
    value = undefined;
  }
  const args = value?.args;
  if (
    !Array.isArray(args) ||
    !args.every((a) => typeof a === 'string') ||
    (value!.log !== undefined && typeof value!.log !== 'string')
  )
    throw new UsageError('FS_USAGE', 'the arguments read from its pipe are not {"args": [strings], "log"?: string}', {
      hint: 'the engine writes them (fuse/options.ts encodeArgsLine); run bin/hutch-fs with its arguments instead',
    });
  return value!.log === undefined ? { args } : { args, log: value!.log };
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
  if (rest.length !== 1 && rest.length !== 2)
    throw new UsageError('FS_USAGE', 'hutch-fs takes one mount point (after an optional source)', { hint: USAGE });
  const kv = new Map<string, string>();
  for (const o of opts) {
    const eq = o.indexOf('=');
    kv.set(eq < 0 ? o : o.slice(0, eq), eq < 0 ? '' : o.slice(eq + 1));
  }
  const need = (k: string): string => {
    const v = kv.get(k);
    if (v === undefined || v === '') throw new UsageError('FS_USAGE', `hutch-fs needs -o ${k}=…`, { hint: USAGE });
    return resolve(cwd, v);
  };
  const dirs = splitColons(kv.get('lowerdir') ?? '')
    .filter((d) => d !== '')
    .map((d) => resolve(cwd, d));
  const indexes = kv.has('lowerindex') ? splitColons(kv.get('lowerindex')!) : [];
  const squashes = kv.has('lowersquash') ? splitColons(kv.get('lowersquash')!) : [];
  const squash = kv.has('squash_to_root')
    ? { uid: 0, gid: 0 }
    : kv.has('squash_to_uid')
      ? { uid: Number(kv.get('squash_to_uid')), gid: Number(kv.get('squash_to_gid') ?? kv.get('squash_to_uid')) }
      : undefined;
  const known = new Set([
    'lowerdir',
    'lowerindex',
    'lowersquash',
    'upperdir',
    'workdir',
    'overrideonly',
    'squash_to_root',
    'squash_to_uid',
    'squash_to_gid',
    'timeout',
    'uidmapping',
    'gidmapping',
    ...MOUNT_FLAGS,
  ]);
  return {
    lowers: dirs.map((dir, i) => (indexes[i] ? { dir, indexFile: resolve(cwd, indexes[i]!) } : { dir })),
    squashLowers: dirs.flatMap((dir, i) => (squashes[i] ? [{ image: resolve(cwd, squashes[i]!), dir }] : [])),
    upper: need('upperdir'),
    work: need('workdir'),
    mountpoint: resolve(cwd, rest.at(-1)!),
    source: rest.length === 2 ? rest[0] : undefined,
    mountFlags: opts.filter((o) => MOUNT_FLAGS.has(o)),
    foreground,
    debug,
    overrideOnly: kv.has('overrideonly'),
    squash,
    idRanges: idRanges(kv),
    timeout: kv.has('timeout') ? Number(kv.get('timeout')) : 86400,
    ignored: [...kv.keys()].filter((k) => !known.has(k)),
  };
}

/**
 * How long the shared daemon (fuse/shared.ts) stays after its last session by default: a run
 * after it (the next command typed, a script's next `run`) finds it warm and skips its Node start
 * (~0.14 s of wall time and ~0.15-0.2 s of CPU per run, docs/cost.md); idle, it costs only its resident memory, its start-up
 * pages given back by the idle drop (docs/fuse.md, "Memory"). A minute covers the gap between
 * commands typed by hand and every loop of runs; rootless podman keeps its pause process for ever.
 */
export const DEFAULT_LINGER_S = 60;

/**
 * HUTCH_FS_LINGER: whole seconds (0: leave with the last session); unset or empty:
 * DEFAULT_LINGER_S. Read by the run that starts the daemon (its warning on that run's stderr),
 * which passes the value on.
 */
export function lingerSetting(env: NodeJS.ProcessEnv, warn: (line: string) => void): number {
  const raw = env.HUTCH_FS_LINGER ?? '';
  if (raw === '') return DEFAULT_LINGER_S;
  if (/^\d{1,7}$/.test(raw)) return Number(raw);
  warn(`HUTCH_FS_LINGER=${raw} is not a count of seconds: the daemon lingers ${DEFAULT_LINGER_S} s`);
  return DEFAULT_LINGER_S;
}
