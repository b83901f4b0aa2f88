import type { Readable } from 'node:stream';
import { RegistryError } from '../errors.js';
import {
  choosePlatform,
  isIndex,
  parseManifest,
  sha256,
  type Descriptor,
  type ImageManifest,
  type Platform,
} from './manifest.js';

/**
 * Where an image comes from: a registry, an OCI layout directory, an oci-archive or a
 * docker-archive. One implementation per source (go-containerregistry's shape); the copy into
 * the store (copy.ts) is written once against this interface and verifies every digest itself.
 */
export interface ImageSource {
  /** Names the source in messages: `docker.io/library/alpine:3.20`, `oci:/tmp/dir:tag`. */
  readonly where: string;
  /** The image manifest for `platform` (an index is resolved to one entry). */
  manifest(platform: Platform): Promise<SourceManifest>;
  /** Opens a blob; the caller verifies size and digest while reading. */
  blob(descriptor: Descriptor): Promise<Readable>;
  /** Names the image had in the source (docker-archive RepoTags), if it says. */
  names?(): string[];
  /** Releases temporary files. */
  close(): Promise<void>;
}

export interface SourceManifest {
  digest: string;
  raw: Buffer;
  manifest: ImageManifest;
}

/** Reads manifests by reference (tag or digest) as a source stores them. */
export type ManifestReader = (reference: string) => Promise<{ raw: Buffer; contentType?: string }>;

/**
 * Fetches `reference`, and when it is an index, the entry for `platform`. Manifests fetched by
 * digest are checked against it, so a source cannot substitute another image.
 */
export async function resolveManifest(
  read: ManifestReader,
  reference: string,
  platform: Platform,
  where: string,
): Promise<SourceManifest> {
  let ref = reference;
  for (let depth = 0; depth < 3; depth++) {
    const { raw, contentType } = await read(ref);
    const digest = sha256(raw);
    if (ref.startsWith('sha256:') && digest !== ref) {
      throw new RegistryError('MANIFEST_DIGEST_MISMATCH', `manifest ${ref} from ${where} has digest ${digest}`, {
        hint: 'the source is corrupt or was tampered with',
      });
    }
    const parsed = parseManifest(raw, where, contentType);
    if (!isIndex(parsed)) return { digest, raw, manifest: parsed };
    ref = choosePlatform(parsed, platform, where).digest;
  }
  throw new RegistryError('MANIFEST_INVALID', `manifest of ${where} nests indexes too deeply`);
}
