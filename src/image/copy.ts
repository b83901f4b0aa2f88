import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RegistryError, StoreError, describeCause } from '../errors.js';
import {
  parseConfig,
  sha256,
  type Descriptor,
  type ImageConfig,
  type ImageManifest,
  type Platform,
} from './manifest.js';
import type { Progress } from './progress.js';
import type { ImageSource } from './source.js';
import { noSpace, type ImageRecord, type Store } from './store.js';
import { stageLayer } from './unpack.js';
import { recordImage, type Staged } from './write-image.js';

export interface CopyOptions {
  names: string[];
  platform: Platform;
  progress?: Progress;
  /** Layers fetched at once. */
  concurrency?: number;
}

/**
 * Copies an image from `source` into the store: manifest and config, every layer blob (digest
 * and size checked while streaming) and every layer unpacked once, then the image record.
 * Blob and unpack run in one pass over the stream; nothing reaches its final name unverified.
 */
export async function copyImage(store: Store, source: ImageSource, options: CopyOptions): Promise<ImageRecord> {
  const { digest, raw, manifest } = await source.manifest(options.platform);
  const configRaw = store.hasBlob(manifest.config.digest)
    ? store.readBlob(manifest.config.digest)
    : await readSmallBlob(source, manifest.config);
  const config = parseConfig(configRaw, source.where, manifest.layers.length);
  const queue = manifest.layers.map((layer, i) => ({ layer, diffId: config.rootfs.diff_ids[i]! }));
  const staged: Staged[] = [];
  let failed = false;
  const workers = Array.from({ length: Math.min(options.concurrency ?? 3, queue.length) }, async () => {
    for (let job = queue.shift(); job !== undefined && !failed; job = queue.shift()) {
      try {
        staged.push(await fetchLayer(store, source, job.layer, job.diffId, options.progress));
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  });
  const results = await Promise.allSettled(workers);
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure !== undefined) {
    for (const s of staged) s.discard();
    throw failure.reason;
  }
  return commitImage(store, staged, { digest, raw, manifest, configRaw, config }, options.names);
}

interface Fetched {
  digest: string;
  raw: Buffer;
  manifest: ImageManifest;
  configRaw: Buffer;
  config: ImageConfig;
}

/**
 * Every layer verified: now, and only now, they take their final names, then the record; when the
 * image cannot be recorded, what this pull added goes again (recordImage).
 */
async function commitImage(store: Store, staged: Staged[], f: Fetched, names: string[]): Promise<ImageRecord> {
  return recordImage(store, imageRecord(names, f.digest, f.manifest, f.config), {
    staged,
    blobs: [
      { digest: f.manifest.config.digest, data: f.configRaw },
      { digest: f.digest, data: f.raw },
    ],
  });
}

function imageRecord(names: string[], digest: string, manifest: ImageManifest, config: ImageConfig): ImageRecord {
  return {
    id: manifest.config.digest,
    names,
    manifest: digest,
    config: manifest.config.digest,
    layers: manifest.layers.map((l, i) => ({
      diffId: config.rootfs.diff_ids[i]!,
      digest: l.digest,
      mediaType: l.mediaType,
      size: l.size,
    })),
    created: config.created ?? new Date(0).toISOString(),
    stored: new Date().toISOString(),
  };
}

/** Reads a config blob (small) and checks it. */
async function readSmallBlob(source: ImageSource, d: Descriptor): Promise<Buffer> {
  if (d.size > 16 << 20)
    throw new RegistryError('CONFIG_TOO_LARGE', `config ${d.digest} of ${source.where} declares ${d.size} bytes`, {
      hint: 'the image is malformed',
    });
  return withRetries(async () => {
    const chunks: Buffer[] = [];
    const input = await source.blob(d);
    const check = verifier(d, source.where, (c) => chunks.push(c));
    input.on('error', (e) => check.destroy(fetchError(e, `config ${d.digest} of ${source.where}`)));
    // eslint-disable-next-line require-yield -- a sink: it drains the stream
    await pipeline(input.pipe(check), async function* (s) {
      for await (const _ of s) void _;
    });
    return Buffer.concat(chunks);
  });
}

/** Runs `attempt` up to three times while it fails with a transient error, backing off. */
async function withRetries<T>(attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (n >= 3 || !retryable(error)) throw error;
      await new Promise((r) => setTimeout(r, 250 * 2 ** n));
    }
  }
}

/** Fetches and unpacks one layer into staging, retrying transient failures. */
async function fetchLayer(
  store: Store,
  source: ImageSource,
  layer: Descriptor,
  diffId: string,
  progress: Progress | undefined,
): Promise<Staged> {
  const needBlob = !store.hasBlob(layer.digest);
  const needLayer = !store.hasLayer(diffId);
  if (!needBlob && !needLayer) {
    progress?.skip(layer.digest, layer.size);
    return { commit: () => undefined, discard: () => undefined };
  }
  progress?.start(layer.digest, layer.size);
  const staged = await withRetries(() =>
    needBlob
      ? download(store, source, layer, needLayer ? diffId : undefined, progress)
      : stageLayer(store, createReadStream(store.blobPath(layer.digest)), diffId, `${layer.digest} of ${source.where}`),
  );
  progress?.done(layer.digest);
  return staged;
}

/** Streams a blob to a temporary file, unpacking it on the way when `diffId` is given. */
async function download(
  store: Store,
  source: ImageSource,
  layer: Descriptor,
  diffId: string | undefined,
  progress: Progress | undefined,
): Promise<Staged> {
  const dir = store.tempDir('blob');
  const temp = join(dir, 'data');
  const fd = openSync(temp, 'wx', 0o644);
  const where = `${layer.digest} of ${source.where}`;
  progress?.start(layer.digest, layer.size); // a retry restarts the count
  let closed = false;
  let streams: { destroy(): unknown }[] = [];
  try {
    const check = verifier(layer, source.where, (chunk) => {
      writeSync(fd, chunk);
      progress?.advance(layer.digest, chunk.length);
    });
    const input = await source.blob(layer);
    input.on('error', (e) => check.destroy(fetchError(e, `blob ${where}`)));
    const verified = input.pipe(check);
    streams = [input, check];
    let unpacked: Staged | undefined;
    if (diffId === undefined)
      // eslint-disable-next-line require-yield -- a sink: it drains the stream
      await pipeline(verified, async function* (s) {
        for await (const _ of s) void _;
      });
    else unpacked = await stageLayer(store, verified, diffId, where);
    closeSync(fd);
    closed = true;
    return {
      commit: () => {
        store.adoptBlob(layer.digest, temp);
        rmSync(dir, { recursive: true, force: true });
        unpacked?.commit();
      },
      discard: () => {
        rmSync(dir, { recursive: true, force: true });
        unpacked?.discard();
      },
    };
  } catch (error) {
    // The download stops before the fd closes: no chunk may reach a closed (or reused) fd.
    for (const stream of streams) stream.destroy();
    if (!closed) closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
    throw noSpace(error, `cannot store blob ${where}: the disk is full`);
  }
}

/**
 * Passes bytes through while hashing and counting them; fails as soon as more bytes arrive than
 * the descriptor declares and at the end when size or digest differ. `sink` sees each chunk.
 */
export function verifier(d: Descriptor, where: string, sink: (chunk: Buffer) => void): Transform {
  const hash = createHash('sha256');
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (bytes > d.size) return done(mismatch(d, where, `more than the ${d.size} bytes declared`));
      hash.update(chunk);
      try {
        sink(chunk); // a full disk throws here: an error of this stream, never an uncaught one
      } catch (error) {
        return done(error as Error);
      }
      done(null, chunk);
    },
    flush(done) {
      const actual = `sha256:${hash.digest('hex')}`;
      if (bytes !== d.size) return done(mismatch(d, where, `${bytes} bytes instead of ${d.size}`));
      done(actual === d.digest ? null : mismatch(d, where, `content hashes to ${actual}`));
    },
  });
}

function mismatch(d: Descriptor, where: string, why: string): StoreError {
  return new StoreError('BLOB_DIGEST_MISMATCH', `blob ${d.digest} of ${where} does not match its descriptor: ${why}`, {
    hint: 'the source is corrupt or was tampered with; nothing of the blob was stored',
  });
}

/** A failure worth another attempt: a dropped connection, a 429 or a 5xx. */
export function transient(message: string): RegistryError {
  return Object.assign(
    new RegistryError('REGISTRY_UNAVAILABLE', message, { hint: 'check the network and the registry, then pull again' }),
    { retry: true },
  );
}

/** A source's stream failed: the registry's own error as it is (a timeout), anything else worth another try. */
function fetchError(error: unknown, what: string): Error {
  return error instanceof RegistryError ? error : transient(`cannot fetch ${what}: ${describeCause(error)}`);
}

function retryable(error: unknown): boolean {
  return error instanceof RegistryError && (error as RegistryError & { retry?: boolean }).retry === true;
}

export { sha256 };
