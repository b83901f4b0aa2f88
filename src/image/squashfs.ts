import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Pack } from 'tar-stream';
import { StoreError } from '../errors.js';
import { childProcess } from '../sys/on-use.js';
import type { ImageConfig } from './manifest.js';

/**
 * Single-file images: a squashfs of a flattened image (Debian's squashfs-tools writes and reads
 * it, squashfuse mounts it). The image config travels inside, at CONFIG_PATH, so that one file
 * is the whole image (as Apptainer keeps /.singularity.d and Charliecloud /ch/metadata.json).
 */
export const SQUASH_CONFIG_PATH = '.hutch/config.json';

const MAGIC = 'hsqs';

/** Is `file` a regular file that starts with squashfs's magic (little-endian "hsqs")? */
export function isSquashfsFile(file: string): boolean {
  let fd: number | undefined;
  try {
    if (!statSync(file).isFile()) return false;
    fd = openSync(file, 'r');
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.toString('latin1') === MAGIC;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * One file of the image, read by unsquashfs inside the squashfs (a symlink is resolved in the
 * image, never on the host); undefined when the image has no such file.
 */
export function readSquashFile(image: string, path: string): string | undefined {
  const r = childProcess().spawnSync('unsquashfs', ['-cat', image, path], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.error) throw missingTool('unsquashfs', r.error);
  // unsquashfs: 2 when the file is not in the image, 1 when the image itself cannot be read.
  if (r.status === 1)
    throw new StoreError(
      'SQUASH_INVALID',
      `cannot read the squashfs image ${image}: ${lastLine(r.stderr) || 'unsquashfs failed'}`,
      {
        hint: 'write it again with hutch squash (or mksquashfs); a file cut short by a copy is the usual cause',
      },
    );
  return r.status === 0 ? r.stdout : undefined;
}

/** What `hutch run image.sqfs` needs from the file before anything is mounted. */
export interface SquashImage {
  /** Absolute path of the file. */
  file: string;
  config: ImageConfig;
  userDb: { passwd: string; group: string };
}

/** Reads a squashfs image's config (an empty one for a squashfs hutch did not write) and users. */
export function openSquashImage(file: string): SquashImage {
  const text = readSquashFile(file, SQUASH_CONFIG_PATH);
  let config: ImageConfig = { rootfs: { type: 'layers', diff_ids: [] } };
  if (text !== undefined) {
    try {
      config = { ...config, ...(JSON.parse(text) as ImageConfig) };
    } catch (error) {
      throw new StoreError('SQUASH_CONFIG_INVALID', `cannot read ${file}: its /${SQUASH_CONFIG_PATH} is not JSON`, {
        hint: 'write the file again with hutch squash, or remove that file from it',
        cause: error,
      });
    }
  }
  return {
    file: resolve(file),
    config,
    userDb: { passwd: readSquashFile(file, 'etc/passwd') ?? '', group: readSquashFile(file, 'etc/group') ?? '' },
  };
}

/** The attributes mksquashfs gives the root directory (a tar has no entry it would take them from). */
export interface RootAttrs {
  mode: number;
  uid: number;
  gid: number;
}

/**
 * Writes `tar` (an uncompressed tar stream with the owners and modes to keep) as a squashfs at
 * `output` with mksquashfs -tar: no root needed, since nothing is written to disk as files first.
 */
export async function writeSquashfs(tar: Pack, output: string, root: RootAttrs): Promise<void> {
  const args = [
    '-',
    output,
    '-tar',
    '-noappend',
    '-quiet',
    '-no-progress',
    '-exit-on-error',
    '-root-mode',
    (root.mode & 0o7777).toString(8),
    '-root-uid',
    String(root.uid),
    '-root-gid',
    String(root.gid),
  ];
  const child = childProcess().spawn('mksquashfs', args, { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-4000)));
  const done = new Promise<number | null>((ok, fail) => {
    child.on('error', (e) => fail(missingTool('mksquashfs', e)));
    child.on('close', (code) => ok(code));
  });
  // A tar that fails midway must not become a short image: mksquashfs is killed. mksquashfs that
  // failed early closes its stdin: the tar's EPIPE is reported as mksquashfs's failure.
  pipeline(tar, child.stdin).catch(() => child.kill('SIGKILL'));
  const code = await done;
  if (code !== 0)
    throw new StoreError(
      'SQUASH_FAILED',
      `cannot write ${output}: mksquashfs failed (${lastLine(stderr) || `status ${code}`})`,
      { hint: 'check the free space and that the folder is writable; mksquashfs 4.5 or later is needed (-tar)' },
    );
}

function missingTool(tool: string, cause: Error): StoreError {
  return new StoreError('SQUASH_TOOLS_MISSING', `cannot use squashfs images: ${tool} is not installed`, {
    hint: 'install squashfs-tools (Debian: apt-get install squashfs-tools; 4.5 or later)',
    cause,
  });
}

function lastLine(text: string): string {
  return (
    text
      .trim()
      .split('\n')
      .at(-1)
      ?.replace(/^FATAL ERROR: ?/, '') ?? ''
  );
}
