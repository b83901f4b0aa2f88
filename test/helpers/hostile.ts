// Hostile layers and images for the store's tests: each must fail with a clear error and leave
// the store as it was.
import { rmSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { compress, packTar, writeImageLayout, type BuiltImage, type TarEntry } from './image-fixtures.js';

const file = (name: string, content = 'x\n'): TarEntry => ({ name, type: 'file', mode: 0o644, content });

/** Layers whose tar entries are hostile, by name. */
export const hostileLayers: Record<string, TarEntry[]> = {
  dotdot: [file('ok.txt'), file('../escape.txt')],
  absolute: [file('/etc/evil')],
  symlinkEscape: [{ name: 'link', type: 'symlink', linkname: '/tmp' }, file('link/evil.txt')],
  hardlinkOutside: [{ name: 'h', type: 'link', linkname: '../../etc/passwd' }],
  hardlinkLower: [{ name: 'h', type: 'link', linkname: 'etc/passwd' }],
};

/** An image with one good layer and one hostile layer. */
export async function hostileImage(dir: string, entries: TarEntry[]): Promise<BuiltImage> {
  return writeImageLayout(dir, 'hostile', [
    { entries: [file('good.txt')], compression: 'gzip' },
    { entries, compression: 'gzip' },
  ]);
}

/** An image whose last layer blob's bytes differ from its digest. */
export async function tamperedImage(dir: string): Promise<BuiltImage> {
  const image = await hostileImage(dir, [file('a.txt', 'original\n')]);
  const blob = lastLayerBlob(image);
  const data = readFileSync(blob);
  data[data.length - 5] ^= 0xff;
  writeFileSync(blob, data);
  return image;
}

/** An image whose manifest names a layer blob the layout lacks. */
export async function missingBlobImage(dir: string): Promise<BuiltImage> {
  const image = await hostileImage(dir, [file('a.txt')]);
  rmSync(lastLayerBlob(image));
  return image;
}

/** A layer whose gzip stream is cut in half (descriptor and diff id made to match the cut blob). */
export async function truncatedGzipImage(dir: string): Promise<BuiltImage> {
  const big = Buffer.alloc(256 * 1024, 'a');
  const tarData = await packTar([file('big.bin', big.toString())]);
  const gz = gzipSync(tarData);
  return writeRawLayerImage(dir, gz.subarray(0, gz.length >> 1), tarData);
}

/** A layer whose zstd stream is cut in half. */
export async function truncatedZstdImage(dir: string): Promise<BuiltImage> {
  const tarData = await packTar([file('big.bin', 'z'.repeat(256 * 1024))]);
  const zst = compress(tarData, 'zstd');
  return writeRawLayerImage(dir, zst.subarray(0, zst.length >> 1), tarData);
}

/** A tar whose one entry declares a petabyte but holds a few bytes. */
export async function hugeSizeImage(dir: string): Promise<BuiltImage> {
  const tarData = await packTar([file('huge.bin', 'tiny')]);
  const header = tarData.subarray(0, 512);
  header.fill(0, 124, 136);
  header[124] = 0x80; // base-256 size field
  header[129] = 0x04; // 4 * 256^6 = 2^50 bytes (a petabyte)
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return writeRawLayerImage(dir, gzipSync(tarData), tarData);
}

async function writeRawLayerImage(dir: string, blob: Buffer, diffSource: Buffer): Promise<BuiltImage> {
  return rewriteLastLayer(await hostileImage(dir, [file('placeholder')]), blob, diffSource);
}

/** Rewrites a layout by hand: the last layer becomes `blob`, with the diff id of `diffSource`. */
export async function rewriteLastLayer(
  image: BuiltImage,
  blob: Buffer,
  diffSource: Buffer,
  mediaType?: string,
): Promise<BuiltImage> {
  const dir = image.dir;
  const { createHash } = await import('node:crypto');
  const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
  const put = (b: Buffer | string): string => {
    const d = sha(b);
    writeFileSync(join(dir, 'blobs', 'sha256', d.slice(7)), b);
    return d;
  };
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  const manifest = JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', index.manifests[0].digest.slice(7)), 'utf8'));
  const config = JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', manifest.config.digest.slice(7)), 'utf8'));
  config.rootfs.diff_ids[config.rootfs.diff_ids.length - 1] = sha(diffSource);
  manifest.layers[manifest.layers.length - 1] = {
    mediaType: mediaType ?? manifest.layers.at(-1).mediaType,
    digest: put(blob),
    size: blob.length,
  };
  const configRaw = JSON.stringify(config);
  manifest.config = { ...manifest.config, digest: put(configRaw), size: Buffer.byteLength(configRaw) };
  const manifestRaw = JSON.stringify(manifest);
  index.manifests[0] = { ...index.manifests[0], digest: put(manifestRaw), size: Buffer.byteLength(manifestRaw) };
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
  return {
    ...image,
    configDigest: manifest.config.digest,
    manifestDigest: index.manifests[0].digest,
    diffIds: config.rootfs.diff_ids,
  };
}

function lastLayerBlob(image: BuiltImage): string {
  const index = JSON.parse(readFileSync(join(image.dir, 'index.json'), 'utf8'));
  const manifest = JSON.parse(
    readFileSync(join(image.dir, 'blobs', 'sha256', index.manifests[0].digest.slice(7)), 'utf8'),
  );
  return join(image.dir, 'blobs', 'sha256', manifest.layers.at(-1).digest.slice(7));
}
