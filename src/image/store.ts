import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadContainersConf } from '../config/containers-conf.js';
import { StoreError } from '../errors.js';
import { requireLayerFs } from './fs-probe.js';
import { hutchPaths } from '../paths.js';
import { atomicWriteFile, withLock } from '../sys/fs.js';
import { faultPoint } from '../sys/fault.js';

/** One image in images.json. Its id is the digest of its config blob, as in podman and docker. */
export interface ImageRecord {
  id: string;
  names: string[];
  /** Digest of the stored manifest blob. */
  manifest: string;
  config: string;
  /** Bottom-first. */
  layers: { diffId: string; digest: string; mediaType: string; size: number }[];
  created: string;
  /** When hutch stored it. */
  stored: string;
}
interface ImagesFile {
  version: 1;
  images: ImageRecord[];
}

/**
 * The image store under the data directory: blobs/sha256/<hex> (content-addressed),
 * layers/sha256/<hex>/{root/,index.hli} (unpacked once per diff id), images.json,
 * image-users/<image hex>/<container id> (files the engine writes while a container uses an image).
 */
export class Store {
  readonly dir: string;
  /** An additional image store (src/image/additional.ts): read, never written. */
  readonly readOnly: boolean;
  /** `readOnlyDir`: the data directory of an additional store (another user's: not checked as private). */
  constructor(root?: string, readOnlyDir?: string) {
    this.dir = readOnlyDir ?? hutchPaths(root).data;
    this.readOnly = readOnlyDir !== undefined;
  }
  /** Every write goes through here first: a read-only store is never written. */
  private writable(): void {
    if (this.readOnly)
      throw new StoreError('STORE_READ_ONLY', `cannot write to the read-only image store ${this.dir}`, {
        hint: "pull the image into your own store, or ask the store's owner",
      });
  }

  blobPath(digest: string): string {
    return join(this.dir, 'blobs', 'sha256', hex(digest));
  }
  layerDir(diffId: string): string {
    return join(this.dir, 'layers', 'sha256', hex(diffId));
  }
  layerRoot(diffId: string): string {
    return join(this.layerDir(diffId), 'root');
  }
  layerIndex(diffId: string): string {
    return join(this.layerDir(diffId), 'index.hli');
  }
  /** A fresh temporary directory on the store's filesystem (so a rename puts it in place). */
  tempDir(kind: string): string {
    this.writable();
    const dir = join(this.dir, 'tmp', `${kind}-${process.pid}-${Math.random().toString(36).slice(2)}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
      requireLayerFs(this.dir, dir);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    return dir;
  }
  /** Removes temporary directories of commands that died (a killed pull leaves them behind). */
  sweepTemp(): void {
    let names: string[];
    try {
      names = readdirSync(join(this.dir, 'tmp'));
    } catch {
      return;
    }
    for (const name of names) {
      const pid = Number(/^[a-z]+-(\d+)-/.exec(name)?.[1]);
      if (Number.isInteger(pid) && pid !== process.pid && !alive(pid))
        rmSync(join(this.dir, 'tmp', name), { recursive: true, force: true });
    }
  }
  hasBlob(digest: string): boolean {
    return existsSync(this.blobPath(digest));
  }
  /** A layer counts only once its directory is in place: unpack renames it there when complete. */
  hasLayer(diffId: string): boolean {
    return existsSync(this.layerIndex(diffId));
  }
  readBlob(digest: string): Buffer {
    try {
      return readFileSync(this.blobPath(digest));
    } catch (error) {
      throw new StoreError('STORE_BLOB_MISSING', `blob ${digest} is missing from the store at ${this.dir}`, {
        cause: error,
        hint: 'pull the image again',
      });
    }
  }
  /** Writes a small blob (manifest, config) whose digest the caller computed. */
  writeBlob(digest: string, data: Buffer): void {
    this.writable();
    if (this.hasBlob(digest)) return;
    try {
      atomicWriteFile(this.blobPath(digest), data);
    } catch (error) {
      throw noSpace(error, `cannot store blob ${digest}: the disk is full`);
    }
  }
  /** Moves a verified temporary file into place as a blob. */
  adoptBlob(digest: string, tempFile: string): void {
    this.writable();
    mkdirSync(join(this.dir, 'blobs', 'sha256'), { recursive: true });
    renameSync(tempFile, this.blobPath(digest));
  }

  /** Runs `fn` holding the store's metadata lock. */
  locked<T>(fn: () => Promise<T> | T): Promise<T> {
    this.writable();
    return withLock(join(this.dir, 'images.lock'), fn);
  }
  /** Every image, read fresh (another command may have written since). */
  images(): ImageRecord[] {
    let text: string;
    try {
      text = readFileSync(join(this.dir, 'images.json'), 'utf8');
    } catch {
      return [];
    }
    try {
      return (JSON.parse(text) as ImagesFile).images;
    } catch (error) {
      throw new StoreError('STORE_CORRUPT', `cannot read ${join(this.dir, 'images.json')}: not valid JSON`, {
        cause: error,
        hint: 'restore it or remove the store (hutch system reset)',
      });
    }
  }
  /** Replaces images.json atomically; call inside `locked`. */
  saveImages(images: ImageRecord[]): void {
    this.writable();
    const file: ImagesFile = { version: 1, images };
    const path = join(this.dir, 'images.json');
    faultPoint('image-index');
    try {
      atomicWriteFile(path, JSON.stringify(file, null, 1)); // a failed write leaves the old index whole
    } catch (error) {
      throw noSpace(error, `cannot write the image index ${path}: the disk is full`);
    }
  }
  /** Adds or updates an image and moves `names` to it from any other image. */
  async putImage(record: ImageRecord): Promise<void> {
    await this.locked(() => {
      // An rmi that ran while this image was copied may have collected a layer the copy found
      // present; under the lock that is visible, and the image is not recorded half there.
      const gone = record.layers.find((l) => !this.hasLayer(l.diffId) || !this.hasBlob(l.digest));
      if (gone !== undefined) {
        throw new StoreError(
          'STORE_RACE',
          `layer ${gone.diffId} was removed while the image was being stored (a concurrent rmi or prune)`,
          { hint: 'pull the image again' },
        );
      }
      const images = this.images().map((i) => ({ ...i, names: i.names.filter((n) => !record.names.includes(n)) }));
      const existing = images.find((i) => i.id === record.id);
      if (existing !== undefined) existing.names = [...new Set([...existing.names, ...record.names])];
      else images.push(record);
      this.saveImages(images);
    });
  }

  /** Containers that said they use `imageId` (see markImageUsed). */
  usersOf(imageId: string): string[] {
    try {
      return readdirSync(join(this.dir, 'image-users', hex(imageId)));
    } catch {
      return [];
    }
  }
  /**
   * Removes the blobs and layers of `removed` that no image in `kept` references. Only what a
   * removed image named is touched, so blobs of a pull still in flight are never collected.
   */
  collect(removed: ImageRecord[], kept: ImageRecord[]): void {
    this.writable();
    this.dropUnused(
      removed.flatMap((i) => [i.manifest, i.config, ...i.layers.map((l) => l.digest)]),
      removed.flatMap((i) => i.layers.map((l) => l.diffId)),
      kept,
    );
  }
  /** Removes those of `blobs` and `layers` (diff ids) that no image in `kept` references. */
  dropUnused(blobs: string[], layers: string[], kept: ImageRecord[]): void {
    const keepBlobs = new Set(kept.flatMap((i) => [i.manifest, i.config, ...i.layers.map((l) => l.digest)]));
    const keepLayers = new Set(kept.flatMap((i) => i.layers.map((l) => l.diffId)));
    for (const blob of blobs) if (!keepBlobs.has(blob)) rmSync(this.blobPath(blob), { force: true });
    for (const diffId of new Set(layers)) {
      if (keepLayers.has(diffId)) continue;
      // Rename first so a reader never sees a half-deleted layer under its real name.
      const doomed = join(this.dir, 'tmp', `gone-${hex(diffId)}-${process.pid}`);
      try {
        mkdirSync(join(this.dir, 'tmp'), { recursive: true });
        renameSync(this.layerDir(diffId), doomed);
      } catch (error) {
        // Gone already; or no room for tmp/ on a full disk: then it goes where it is.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
          rmSync(this.layerDir(diffId), { recursive: true, force: true });
        continue;
      }
      rmSync(doomed, { recursive: true, force: true });
    }
  }
}

/**
 * Read-only image stores (storage.conf `additionalimagestores`): stores another user filled,
 * e.g. a site's administrator under /opt/images, whose images `hutch images`, `run` and `image
 * inspect` use in place, after the user's own store, without copying and without writing there.
 * An entry is a store's data directory, or the --root it was filled with (its `data/` then).
 */
export function additionalStores(env: NodeJS.ProcessEnv = process.env): Store[] {
  return loadContainersConf(env).additionalImageStores.map(
    (dir) => new Store(undefined, existsSync(join(dir, 'images.json')) ? dir : join(dir, 'data')),
  );
}

/**
 * Marks `imageId` as used by container `containerId`, so `hutch rmi` refuses it without -f. The
 * engine calls this when it creates a container and unmarkImageUsed when it removes it. The mark
 * is the file DATA/image-users/<image hex>/<container id>.
 */
export function markImageUsed(root: string | undefined, imageId: string, containerId: string): void {
  const store = new Store(root);
  atomicWriteFile(join(store.dir, 'image-users', hex(imageId), containerId), `${containerId}\n`);
}
/** Removes the mark markImageUsed wrote. */
export function unmarkImageUsed(root: string | undefined, imageId: string, containerId: string): void {
  const store = new Store(root);
  rmSync(join(store.dir, 'image-users', hex(imageId), containerId), { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function hex(digest: string): string {
  return digest.startsWith('sha256:') ? digest.slice(7) : digest;
}

/** A full disk (or quota) as STORE_FULL with `message`; any other error as it is. */
export function noSpace(error: unknown, message: string): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== 'ENOSPC' && code !== 'EDQUOT') return error;
  return new StoreError('STORE_FULL', message, { cause: error, hint: 'free space (hutch image prune) and pull again' });
}
