import { createReadStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { StoreError, UsageError } from '../errors.js';
import { atomicWriteFile } from '../sys/fs.js';
import { MediaType, type Descriptor, type ImageIndex, type Platform } from './manifest.js';
import { resolveManifest, type ImageSource, type SourceManifest } from './source.js';
import { hex, type ImageRecord, type Store } from './store.js';
import { copyFileSync } from 'node:fs';

export const REF_NAME = 'org.opencontainers.image.ref.name';

/** An OCI image layout directory (`oci:DIR[:TAG]`), as skopeo and podman write them. */
export class LayoutSource implements ImageSource {
  readonly where: string;
  constructor(
    private readonly dir: string,
    private readonly tag: string | undefined,
    where?: string,
  ) {
    this.where = where ?? `oci:${dir}${tag === undefined ? '' : `:${tag}`}`;
  }

  async manifest(platform: Platform): Promise<SourceManifest> {
    const index = this.index();
    const top = this.pick(index);
    return resolveManifest(
      async (ref) => ({ raw: await this.readBlob(ref), contentType: top.mediaType }),
      top.digest,
      platform,
      this.where,
    );
  }

  async blob(descriptor: Descriptor): Promise<Readable> {
    const file = join(this.dir, 'blobs', 'sha256', hex(descriptor.digest));
    if (!existsSync(file)) throw missingBlob(descriptor.digest, this.where);
    return createReadStream(file, { highWaterMark: 1 << 20 });
  }

  names(): string[] {
    const name = this.pick(this.index()).annotations?.[REF_NAME];
    return name !== undefined && name.includes('/') ? [name] : [];
  }

  async close(): Promise<void> {}

  private async readBlob(digest: string): Promise<Buffer> {
    const file = join(this.dir, 'blobs', 'sha256', hex(digest));
    if (!existsSync(file)) throw missingBlob(digest, this.where);
    return readFileSync(file);
  }

  private index(): ImageIndex {
    try {
      return JSON.parse(readFileSync(join(this.dir, 'index.json'), 'utf8')) as ImageIndex;
    } catch (error) {
      throw new UsageError('LAYOUT_INVALID', `${this.where} is not an OCI image layout: cannot read index.json`, {
        cause: error,
        hint: 'give a directory written by skopeo, podman or hutch save --format oci-dir',
      });
    }
  }

  private pick(index: ImageIndex): Descriptor {
    const manifests = Array.isArray(index.manifests) ? index.manifests : [];
    const match =
      this.tag === undefined
        ? manifests.length === 1
          ? manifests[0]
          : undefined
        : manifests.find((m) => m.annotations?.[REF_NAME] === this.tag);
    if (match !== undefined) return match;
    const tags =
      manifests
        .map((m) => m.annotations?.[REF_NAME])
        .filter(Boolean)
        .join(', ') || 'none';
    throw new UsageError(
      'LAYOUT_IMAGE_NOT_FOUND',
      `${this.where} ${this.tag === undefined ? `holds ${manifests.length} images` : 'has no image with that tag'}; tags: ${tags}`,
      {
        hint: 'name the image as oci:DIR:TAG',
      },
    );
  }
}

/**
 * Writes `images` from the store as an OCI image layout in `dir` (created if missing; other
 * images already there are kept). Each gets a ref.name annotation: its first name, or `tag`.
 */
export function writeLayout(
  store: Store,
  images: { image: ImageRecord; refName: string | undefined }[],
  dir: string,
): void {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  let index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
  if (existsSync(join(dir, 'index.json')))
    index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as ImageIndex;
  for (const { image, refName } of images) {
    for (const digest of [image.manifest, image.config, ...image.layers.map((l) => l.digest)]) {
      const dest = join(dir, 'blobs', 'sha256', hex(digest));
      if (!existsSync(dest)) copyFileSync(store.blobPath(digest), dest);
    }
    const raw = store.readBlob(image.manifest);
    const mediaType = (JSON.parse(raw.toString()) as { mediaType?: string }).mediaType ?? MediaType.ociManifest;
    const entry: Descriptor = { mediaType, digest: image.manifest, size: raw.length };
    if (refName !== undefined) entry.annotations = { [REF_NAME]: refName };
    index.manifests = index.manifests.filter((m) => refName === undefined || m.annotations?.[REF_NAME] !== refName);
    index.manifests.push(entry);
  }
  atomicWriteFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  atomicWriteFile(join(dir, 'index.json'), JSON.stringify(index));
}

export function missingBlob(digest: string, where: string): StoreError {
  return new StoreError('BLOB_MISSING', `the manifest of ${where} names blob ${digest}, which ${where} does not have`, {
    hint: 'the image is incomplete; copy it again from where it came from',
  });
}
