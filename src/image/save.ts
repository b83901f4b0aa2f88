import { createReadStream, createWriteStream, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { UsageError } from '../errors.js';
import { atomicWriteFile } from '../sys/fs.js';
import { writeLayout } from './layout.js';
import { decompressors } from './unpack.js';
import { getImage } from './resolve.js';
import { hex, Store, type ImageRecord } from './store.js';

export type SaveFormat = 'oci-archive' | 'docker-archive' | 'oci-dir';

/**
 * `hutch save`: writes images as an oci-archive (the stored blobs, byte for byte), a
 * docker-archive (uncompressed layers, as `docker load` and `podman load` read) or an OCI layout
 * directory (`-`: an archive on stdout). The config blob is copied unchanged, so the image id
 * survives the trip.
 */
export async function saveImages(
  root: string | undefined,
  refs: string[],
  output: string,
  format: SaveFormat,
): Promise<void> {
  const store = new Store(root);
  const images = refs.map((ref) => ({ ref, image: getImage(store, ref) }));
  if (format === 'oci-dir') {
    writeLayout(
      store,
      images.map(({ ref, image }) => ({ image, refName: refName(ref, image) })),
      output,
    );
    return;
  }
  const temp = store.tempDir('save');
  try {
    if (format === 'oci-archive')
      writeLayout(
        store,
        images.map(({ ref, image }) => ({ image, refName: refName(ref, image) })),
        temp,
      );
    else if (format === 'docker-archive')
      await writeDockerArchive(
        store,
        images.map((i) => i.image),
        temp,
      );
    else
      throw new UsageError('SAVE_FORMAT', `unknown format ${String(format)}`, {
        hint: 'use oci-archive, docker-archive or oci-dir',
      });
    await tarDirectory(temp, output);
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

/** podman writes the image's name as the ref.name of an oci-archive. */
function refName(ref: string, image: ImageRecord): string | undefined {
  return image.names.find((n) => n.endsWith(`:${ref.split(':').pop()}`)) ?? image.names[0];
}

async function writeDockerArchive(store: Store, images: ImageRecord[], dir: string): Promise<void> {
  const manifest = [];
  for (const image of images) {
    const configFile = `${hex(image.config)}.json`;
    atomicWriteFile(join(dir, configFile), store.readBlob(image.config));
    const layers: string[] = [];
    for (const layer of image.layers) {
      const file = `${hex(layer.diffId)}.tar`;
      layers.push(file);
      const input = createReadStream(store.blobPath(layer.digest));
      await pipeline([input, ...(await decompressors(input, layer.digest)), createWriteStream(join(dir, file))]);
    }
    manifest.push({ Config: configFile, RepoTags: image.names.filter((n) => !n.includes('@')), Layers: layers });
  }
  atomicWriteFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
}

/** Tars the regular files of `dir` (a flat image directory) into `output`, atomically. */
async function tarDirectory(dir: string, output: string): Promise<void> {
  const pack = tar.pack();
  const toStdout = output === '-';
  const temp = `${output}.tmp-${process.pid}`;
  const writing = pipeline(pack, toStdout ? process.stdout : createWriteStream(temp));
  try {
    // Owned by the user who writes it: skopeo and podman restore owners when they untar, which
    // an unprivileged reader can only do for its own uid.
    const owner = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, mtime: new Date(0) };
    for (const path of walk(dir)) {
      const name = relative(dir, path);
      const stat = statSync(path);
      if (stat.isDirectory()) {
        await new Promise<void>((resolve, reject) =>
          pack.entry({ name: `${name}/`, type: 'directory', mode: 0o755, ...owner }, (e) =>
            e ? reject(e) : resolve(),
          ),
        );
        continue;
      }
      await pipeline(createReadStream(path), pack.entry({ name, size: stat.size, mode: 0o644, ...owner }));
    }
    pack.finalize();
    await writing;
    if (!toStdout) renameSync(temp, output);
  } catch (error) {
    pack.destroy();
    if (!toStdout) rmSync(temp, { force: true });
    throw error;
  }
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(path, ...walk(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}
