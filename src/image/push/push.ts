import { rmSync, statSync } from 'node:fs';
import { RegistryError, UsageError } from '../../errors.js';
import { findCredentials, type Credentials } from '../auth.js';
import { MediaType, sha256 } from '../manifest.js';
import { formatReference, parseReference, type ImageRef } from '../ref.js';
import { endpointsFor, isBlocked, loadRegistriesConf } from '../registries-conf.js';
import { RegistryClient } from '../registry.js';
import { getImage } from '../resolve.js';
import { Store, type ImageRecord } from '../store.js';
import type { Compression } from '../compress.js';
import { layerBlob, type PushBlob } from './blobs.js';
import { putBlob } from './upload.js';

export interface PushOptions {
  root?: string;
  tlsVerify?: boolean;
  credentials?: Credentials;
  compression?: Compression;
  /** Blobs above this many bytes go up in chunks of it (default 16 MiB). */
  chunkSize?: number;
  /** One line per blob and step, as podman prints them; undefined: quiet. */
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/**
 * `hutch push IMAGE [DEST]`: the image's blobs, then its manifest, to a registry (DEST, or the
 * image's own name), with pull's credentials, registries.conf (blocked entries, `insecure`,
 * `location` rewrites; mirrors are for pulls) and TLS rules. The manifest is put only after every
 * blob is in place, so a push that fails leaves nothing referenced. Returns the manifest digest.
 */
export async function pushImage(text: string, dest: string | undefined, options: PushOptions = {}): Promise<string> {
  const store = new Store(options.root);
  const image = getImage(store, text);
  const ref = parseReference((dest ?? text).replace(/^docker:\/\//, ''));
  const client = new RegistryClient(endpoint(ref, options));
  const log = options.log ?? (() => undefined);
  const temp = store.tempDir('push');
  try {
    const blobs: PushBlob[] = [];
    for (const layer of image.layers) blobs.push(await layerBlob(store, layer, options.compression ?? 'gzip', temp));
    const mountFrom = sameRegistryRepos(image, ref);
    for (const blob of blobs) {
      const outcome = await putBlob(client, blob, mountFrom, options.chunkSize ?? 16 << 20, () => undefined);
      log(
        `Copying blob ${blob.digest.slice(7, 19)} ${outcome === 'exists' ? 'skipped: already exists' : outcome === 'mounted' ? 'mounted from another repository' : `done (${blob.size} bytes)`}`,
      );
    }
    const config = {
      file: store.blobPath(image.config),
      digest: image.config,
      size: statSync(store.blobPath(image.config)).size,
      mediaType: MediaType.ociConfig,
      reused: true,
    };
    await putBlob(client, config, mountFrom, Infinity, () => undefined);
    log(`Copying config ${image.config.slice(7, 19)} done`);
    const manifest = manifestFor(store, image, blobs, config.size);
    log('Writing manifest to image destination');
    const what = `manifest ${formatReference(ref)}`;
    await client.send(
      'PUT',
      `/v2/${client.options.repository}/manifests/${ref.digest ?? ref.tag ?? 'latest'}`,
      { headers: { 'content-type': manifest.mediaType }, body: manifest.bytes },
      what,
      [201],
    );
    return sha256(manifest.bytes);
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

function endpoint(ref: ImageRef, options: PushOptions): ConstructorParameters<typeof RegistryClient>[0] {
  const conf = loadRegistriesConf(options.env);
  if (isBlocked(conf, ref.registry, ref.repository)) {
    throw new RegistryError('REGISTRY_BLOCKED', `cannot push to ${formatReference(ref)}: registries.conf blocks it`, {
      hint: 'edit registries.conf or pick another registry',
    });
  }
  const primary = endpointsFor(conf, ref.registry, ref.repository, options.tlsVerify === false).at(-1)!;
  if (primary.host === 'localhost')
    throw new UsageError(
      'PUSH_NO_REGISTRY',
      `cannot push ${formatReference(ref)}: localhost/ names an image of this store, not a registry`,
      { hint: 'give a destination in a registry, e.g. hutch push IMAGE registry.example.org/team/app:1' },
    );
  return {
    ...primary,
    credentials: options.credentials ?? findCredentials(primary.host, primary.repository, options.env),
  };
}

/** Repositories of the destination's registry the image was named in: sources for blob mounts. */
function sameRegistryRepos(image: ImageRecord, dest: ImageRef): string[] {
  return image.names
    .map((n) => parseReference(n))
    .filter((r) => r.registry === dest.registry && r.repository !== dest.repository)
    .map((r) => r.repository);
}

/** The stored manifest when every layer went as stored and it is OCI or Docker schema 2; else a new OCI manifest. */
function manifestFor(
  store: Store,
  image: ImageRecord,
  blobs: PushBlob[],
  configSize: number,
): { bytes: Buffer; mediaType: string } {
  const stored = store.readBlob(image.manifest);
  const parsed = JSON.parse(stored.toString()) as { mediaType?: string; layers?: { digest: string }[] };
  const same =
    parsed.layers?.length === blobs.length && blobs.every((b, i) => b.reused && parsed.layers![i]!.digest === b.digest);
  if (same && (parsed.mediaType === MediaType.ociManifest || parsed.mediaType === MediaType.dockerManifest))
    return { bytes: stored, mediaType: parsed.mediaType };
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: image.config, size: configSize },
      layers: blobs.map((b) => ({ mediaType: b.mediaType, digest: b.digest, size: b.size })),
    }),
  );
  return { bytes, mediaType: MediaType.ociManifest };
}
