import { closeSync, lstatSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { launchInUserNamespace } from '../launch/index.js';
import { HutchError, StoreError, UsageError } from '../../errors.js';
import type { HutchPaths } from '../../paths.js';
import type { IdMapping } from '../../runtime/spec.js';
import { entryCommand } from '../../sys/entry-points.js';
import { pipe } from '../../sys/pipe.js';
import type { CopierRequest } from './copy-main.js';
import { packPath } from './copy-pack.js';
import { openCopyRoot, type CopyRoot } from './copy-root.js';
import { unpackTo } from './copy-unpack.js';

/** `hutch cp SRC DEST`: one side CONTAINER:PATH, the other a host path or `-` (a tar on stdin/stdout). */
export interface CopyRequest {
  source: string;
  destination: string;
  /** -a (default): what goes into the container is owned by its user; else by the source's owner, mapped. */
  archive: boolean;
  /** -L: a source that is a symlink is followed. */
  follow: boolean;
}

export interface CopyIo {
  stdin: Readable;
  stdout: Writable;
  warn(line: string): void;
}

type Side = { container: string; path: string } | { host: string };

/** CONTAINER:PATH (the part before the colon has no slash) or a host path. */
export function parseCopyPath(arg: string): Side {
  const colon = arg.indexOf(':');
  if (colon <= 0 || arg.slice(0, colon).includes('/')) return { host: arg };
  const path = arg.slice(colon + 1);
  return { container: arg.slice(0, colon), path: path.startsWith('/') ? path : `/${path}` };
}

/** Copies between a container (running: through its mounts; stopped: its layers) and the host. */
export async function copyFiles(paths: HutchPaths, req: CopyRequest, io: CopyIo): Promise<void> {
  const from = parseCopyPath(req.source);
  const to = parseCopyPath(req.destination);
  if ('container' in from === 'container' in to)
    throw new UsageError(
      'CP_ARGUMENTS',
      `cannot copy ${req.source} to ${req.destination}: exactly one must be CONTAINER:PATH`,
      {
        hint: 'hutch cp CONTAINER:/path HOSTPATH, or hutch cp HOSTPATH CONTAINER:/path (- for a tar on stdin or stdout)',
      },
    );
  const where = `${req.source} to ${req.destination}`;
  if ('container' in from) return copyOut(paths, from, (to as { host: string }).host, req, io, where);
  const host = (from as { host: string }).host;
  if (host !== '-') lstatSource(host);
  return copyIn(paths, host, to as { container: string; path: string }, req, io, where);
}

async function copyOut(
  paths: HutchPaths,
  from: { container: string; path: string },
  dest: string,
  req: CopyRequest,
  io: CopyIo,
  where: string,
): Promise<void> {
  const root = await openCopyRoot(paths, from.container);
  try {
    const data = pipe();
    const request: CopierRequest = { op: 'out', root: root.root, path: from.path, follow: req.follow };
    await withCopier(root, request, ['ignore', data.write], data.write, where, io, async () => {
      const tar = new Socket({ fd: data.read, readable: true, writable: false });
      if (dest === '-') await pipeline(tar, io.stdout, { end: false });
      else await unpackTo(tar, dest, { mode: 'rebase', dirOnly: dest.endsWith('/'), contained: true, warn: io.warn });
    });
  } finally {
    await root.release();
  }
}

async function copyIn(
  paths: HutchPaths,
  source: string,
  to: { container: string; path: string },
  req: CopyRequest,
  io: CopyIo,
  where: string,
): Promise<void> {
  const root = await openCopyRoot(paths, to.container);
  try {
    const data = pipe();
    const request: CopierRequest = {
      op: 'in',
      root: root.root,
      path: to.path,
      mode: source === '-' ? 'into' : 'rebase',
      dirOnly: to.path.endsWith('/'),
      owner: req.archive ? root.user : 'keep',
    };
    await withCopier(root, request, [data.read, 'ignore'], data.read, where, io, async () => {
      const tar = new Socket({ fd: data.write, readable: false, writable: true });
      if (source === '-') await pipeline(io.stdin, tar);
      else await packPath(source, tar, { follow: req.follow, ids: hostToContainer(root.maps) });
    });
  } finally {
    await root.release();
  }
}

/**
 * Runs copy-main.ts as root of the container's user namespace with `stdio` (its stderr collected),
 * while `feed` moves the tar on our side; fails with the copier's own words when it exits non-zero.
 */
async function withCopier(
  root: CopyRoot,
  request: CopierRequest,
  stdio: [number | 'ignore', number | 'ignore'],
  theirs: number,
  where: string,
  io: CopyIo,
  feed: () => Promise<void>,
): Promise<void> {
  const err = pipe();
  const cache = process.env.HUTCH_CODE_CACHE_DIR;
  let copier;
  try {
    copier = await launchInUserNamespace(
      {
        args: [process.execPath, ...entryCommand('copier'), JSON.stringify(request)],
        env: cache === undefined ? [] : [`HUTCH_CODE_CACHE_DIR=${cache}`],
        cwd: '/',
        ...root.maps,
      },
      { stdio: [...stdio, err.write] },
      root.userns,
    );
  } finally {
    closeSync(theirs);
    closeSync(err.write);
  }
  const said = collect(new Socket({ fd: err.read, readable: true, writable: false }));
  const started = copier;
  let feedError: unknown;
  const fed = feed().catch((error: unknown) => {
    feedError = error ?? new Error('the copy failed');
    started.kill('SIGKILL');
  });
  const [{ exitCode }, text] = await Promise.all([started.wait(), said]);
  await fed;
  const lines = text.split('\n').filter((l) => l !== '');
  for (const l of lines.filter((l) => l.startsWith(WARNING))) io.warn(l.slice(WARNING.length));
  // Our side's own error (a destination refused) says more than the copier we then killed.
  if (feedError instanceof HutchError) throw feedError;
  if (exitCode !== 0) {
    const reason =
      lines.filter((l) => !l.startsWith(WARNING)).join('; ') || `the copier exited with status ${exitCode}`;
    throw new StoreError('CP_FAILED', `cannot copy ${where} (${root.what}): ${reason}`, {
      hint: 'check the path inside the container (hutch exec CONTAINER ls -l PATH) and the destination',
    });
  }
  if (feedError !== undefined) throw feedError;
}

const WARNING = 'hutch: warning: ';

function collect(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => stream.on('close', () => resolve(Buffer.concat(chunks).toString('utf8'))));
}

/** Host ids as the container sees them (its maps read backwards); an id it does not map is nobody. */
function hostToContainer(maps: { uidMappings: IdMapping[]; gidMappings: IdMapping[] }) {
  const back = (list: IdMapping[], id: number): number => {
    const m = list.find((m) => id >= m.hostID && id < m.hostID + m.size);
    return m === undefined ? 65534 : m.containerID + (id - m.hostID);
  };
  return (uid: number, gid: number) => ({ uid: back(maps.uidMappings, uid), gid: back(maps.gidMappings, gid) });
}

function lstatSource(path: string): void {
  try {
    lstatSync(path);
  } catch (error) {
    throw new UsageError(
      'CP_SOURCE',
      `cannot copy ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (error as Error).message}`,
      {
        hint: 'give an existing file or folder of the host',
        cause: error,
      },
    );
  }
}
