import {
  chmodSync,
  createWriteStream,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  statSync,
  symlinkSync,
  unlinkSync,
  type Stats,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type tar from 'tar-stream';
import { UsageError } from '../../errors.js';
import { mkfifo } from '../../sys/pipe.js';
import { eachTarEntry } from './layer-stream.js';

/** How `hutch cp` writes a tar at its destination. */
export interface UnpackOptions {
  /** rebase: docker's rules place the tar's top entry (hutch's own tars); into: a tar on stdin, as is, into DEST. */
  mode: 'rebase' | 'into';
  /** DEST was given with a trailing slash: it must be a directory. */
  dirOnly: boolean;
  /** Every entry's owner: these ids, the tar's ('keep'), or none (the caller's, on the host). */
  owner?: { uid: number; gid: number } | 'keep';
  /** Host side: no symlink below the destination is followed (inside the container's root, they resolve there). */
  contained: boolean;
  warn: (line: string) => void;
}

/** Where the tar's names land: the top entry's path and the folder it lies in. */
interface Placement {
  top: string;
  target: string;
  base: string;
}

/** Unpacks a `hutch cp` tar at `dest` (docker cp's rules for a file or folder onto a file, folder or new name). */
export async function unpackTo(input: Readable, dest: string, options: UnpackOptions): Promise<void> {
  let place: Placement | undefined;
  const dirs: { path: string; mode: number; mtime: Date }[] = [];
  await eachTarEntry(input, (header, stream, next) => {
    const done = (error?: unknown): void => next(error);
    stream.on('error', () => undefined); // the extract reports it; destroyed with it on an error
    try {
      place ??= placement(dest, header, options);
      const path = entryPath(place, header.name, dest);
      void writeEntry(path, header, stream, place, options, dirs).then(() => done(), done);
    } catch (error) {
      stream.resume();
      done(error);
    }
  });
  for (const d of dirs.reverse()) {
    chmodSync(d.path, d.mode);
    lutimesSync(d.path, d.mtime, d.mtime);
  }
}

function placement(dest: string, first: tar.Header, options: UnpackOptions): Placement {
  const existing = statOrUndefined(dest, statSync);
  if (options.mode === 'into') {
    if (existing?.isDirectory() !== true) throw destError(dest, existing, 'a tar from stdin goes into a directory');
    return { top: '', target: dest, base: dest };
  }
  const top = cleanName(first.name)[0] ?? '.';
  const isDir = first.type === 'directory';
  if (top === '.') {
    if (existing === undefined) mkdirSync(dest);
    else if (!existing.isDirectory())
      throw destError(dest, existing, 'the content of a directory goes into a directory');
    return { top, target: dest, base: dest };
  }
  if (existing?.isDirectory() === true) return { top, target: join(dest, top), base: dest };
  if (existing === undefined && options.dirOnly)
    throw destError(dest, existing, 'a path ending in / names a directory');
  if (existing !== undefined && isDir) throw destError(dest, existing, 'a directory cannot replace a file');
  if (statOrUndefined(dirname(dest), statSync)?.isDirectory() !== true)
    throw destError(dirname(dest), undefined, 'the folder to copy into must exist');
  return { top, target: dest, base: dirname(dest) };
}

function destError(dest: string, st: Stats | undefined, why: string): UsageError {
  const what = st === undefined ? 'does not exist' : st.isDirectory() ? 'is a directory' : 'is not a directory';
  return new UsageError('CP_DESTINATION', `cannot copy to ${dest}: it ${what} (${why})`, {
    hint: 'copy into an existing directory, or name a new path whose folder exists',
  });
}

/** A tar name as its components, with no `..` (refused) and no empty or `.` parts. */
function cleanName(name: string): string[] {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..'))
    throw new UsageError('CP_ARCHIVE_PATH', `cannot copy ${name}: a path in the archive leads out with ..`, {
      hint: 'make the archive with paths relative to its top folder',
    });
  return name.startsWith('./') || name === '.' || name === './'
    ? parts.length === 0
      ? ['.']
      : ['.', ...parts]
    : parts;
}

/** The host or container path of a tar name, under the placement's target. */
function entryPath(place: Placement, name: string, dest: string): string {
  const parts = cleanName(name);
  if (place.top === '') return join(dest, ...parts.filter((p) => p !== '.'));
  if (parts[0] !== place.top)
    throw new UsageError(
      'CP_ARCHIVE_PATH',
      `cannot copy ${name}: it lies outside the archive's top entry ${place.top}`,
      {
        hint: 'give an archive with one top file or folder',
      },
    );
  return join(place.target, ...parts.slice(1));
}

async function writeEntry(
  path: string,
  header: tar.Header,
  stream: Readable,
  place: Placement,
  options: UnpackOptions,
  dirs: { path: string; mode: number; mtime: Date }[],
): Promise<void> {
  if (options.contained) refuseLinkedParents(place.base, path);
  const mode = header.mode ?? 0o644;
  const mtime = header.mtime ?? new Date();
  const type = header.type ?? 'file';
  if (type === 'directory') {
    stream.resume();
    ensureDir(path, options.contained);
    ownBy(path, header, options);
    dirs.push({ path, mode, mtime });
    return;
  }
  const now = statOrUndefined(path, lstatSync);
  if (now?.isDirectory() === true)
    throw new UsageError('CP_DESTINATION', `cannot copy ${header.name} to ${path}: a directory is there`, {
      hint: 'remove the directory first, or copy to another path',
    });
  if (type === 'file' || type === 'contiguous-file') {
    if (now !== undefined) unlinkSync(path);
    await pipeline(stream, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
  } else {
    stream.resume();
    if (!makeSpecial(path, header, place, now, options)) return;
  }
  ownBy(path, header, options);
  if (type !== 'symlink') chmodSync(path, mode);
  lutimesSync(path, mtime, mtime);
}

/** Links, fifos; false for what is left out (a device, which needs root of the host to make). */
function makeSpecial(
  path: string,
  header: tar.Header,
  place: Placement,
  now: Stats | undefined,
  options: UnpackOptions,
): boolean {
  const type = header.type;
  if (type === 'character-device' || type === 'block-device') {
    options.warn(`${header.name} is a device, which only root of the host can make: left out`);
    return false;
  }
  if (now !== undefined) unlinkSync(path);
  if (type === 'symlink') symlinkSync(header.linkname ?? '', path);
  else if (type === 'link') linkSync(entryPath(place, header.linkname ?? '', place.target), path);
  else if (type === 'fifo') mkfifo(path, 0o600);
  else return false;
  return true;
}

function ensureDir(path: string, contained: boolean): void {
  const st = statOrUndefined(path, lstatSync);
  if (st?.isDirectory() === true) return;
  // Inside the container's root a link to a folder is followed as the container would; on the host never.
  if (st?.isSymbolicLink() === true && !contained && statOrUndefined(path, statSync)?.isDirectory() === true) return;
  if (st !== undefined) unlinkSync(path);
  mkdirSync(path, { mode: 0o700 });
}

function ownBy(path: string, header: tar.Header, options: UnpackOptions): void {
  if (options.owner === undefined) return;
  const ids = options.owner === 'keep' ? { uid: header.uid ?? 0, gid: header.gid ?? 0 } : options.owner;
  lchownSync(path, ids.uid, ids.gid);
}

/** On the host, every folder between the destination and an entry must be a real folder, never a link. */
function refuseLinkedParents(base: string, path: string): void {
  for (let dir = dirname(path); dir.length > base.length && dir.startsWith(base + '/'); dir = dirname(dir)) {
    if (statOrUndefined(dir, lstatSync)?.isDirectory() !== true)
      throw new UsageError(
        'CP_ARCHIVE_PATH',
        `cannot copy to ${path}: ${dir} is not a folder (a link is not followed)`,
        {
          hint: 'the archive must hold each folder before what it contains',
        },
      );
  }
}

function statOrUndefined(path: string, stat: (p: string) => Stats): Stats | undefined {
  try {
    return stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
