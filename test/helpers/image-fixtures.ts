// Builds test images from busybox-static as OCI layouts: several layers (gzip, zstd and plain),
// whiteouts, an opaque dir, a hardlink, a symlink, a setuid file, a file owned by uid 1000, a
// device node, a FIFO, an xattr and a long name. Also hostile layers (see hostile.ts).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export type TarEntry = Partial<tar.Header> & { name: string } & { pax?: Record<string, string> } & {
  content?: Buffer | string;
};

export interface LayerSpec {
  entries: TarEntry[];
  compression: 'gzip' | 'zstd' | 'none';
}

export interface BuiltImage {
  dir: string;
  tag: string;
  configDigest: string;
  manifestDigest: string;
  diffIds: string[];
}

export const LONG_NAME = `long/${'d'.repeat(120)}/${'n'.repeat(150)}.txt`;
const MTIME = new Date('2024-01-02T03:04:05Z');

/** Packs entries into an uncompressed tar. */
export async function packTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const { content, ...header } of entries) {
    const isFile = header.type === undefined || header.type === 'file';
    const body = content === undefined ? (isFile ? Buffer.alloc(0) : undefined) : Buffer.from(content);
    await new Promise<void>((resolve, reject) => {
      const h = { mtime: MTIME, uid: 0, gid: 0, ...header, size: body?.length ?? header.size ?? 0 };
      if (body === undefined) pack.entry(h, (e) => (e ? reject(e) : resolve()));
      else pack.entry(h, body, (e) => (e ? reject(e) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export function compress(data: Buffer, how: LayerSpec['compression']): Buffer {
  if (how === 'gzip') return gzipSync(data);
  if (how === 'zstd') return execFileSync('zstd', ['-q', '-c', '-3'], { input: data, maxBuffer: 1 << 30 });
  return data;
}

export function digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Writes an OCI image layout holding one image made of `layers`, tagged `tag`. */
export async function writeImageLayout(
  dir: string,
  tag: string,
  layers: LayerSpec[],
  extraConfig: object = {},
): Promise<BuiltImage> {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (data: Buffer | string): { digest: string; size: number } => {
    const d = digest(data);
    writeFileSync(join(dir, 'blobs', 'sha256', d.slice(7)), data);
    return { digest: d, size: Buffer.byteLength(data) };
  };
  const diffIds: string[] = [];
  const layerDescs = [];
  for (const layer of layers) {
    const raw = await packTar(layer.entries);
    diffIds.push(digest(raw));
    const mediaType = `application/vnd.oci.image.layer.v1.tar${layer.compression === 'none' ? '' : `+${layer.compression}`}`;
    layerDescs.push({ mediaType, ...put(compress(raw, layer.compression)) });
  }
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    created: MTIME.toISOString(),
    config: {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'FIXTURE=1'],
      Cmd: ['/bin/sh'],
      WorkingDir: '/',
      ...extraConfig,
    },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: layers.map(() => ({ created: MTIME.toISOString(), created_by: 'hutch test fixture' })),
  });
  const configDesc = { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(config) };
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: configDesc,
    layers: layerDescs,
  });
  const manifestDesc = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    ...put(manifest),
    annotations: { 'org.opencontainers.image.ref.name': tag },
  };
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [manifestDesc] }));
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  return { dir, tag, configDigest: configDesc.digest, manifestDigest: manifestDesc.digest, diffIds };
}

/** The three layers of the standard fixture image. */
export function fixtureLayers(): LayerSpec[] {
  const busybox = readFileSync('/bin/busybox');
  const dir = (name: string, mode = 0o755): TarEntry => ({ name, type: 'directory', mode });
  const base: TarEntry[] = [
    dir('bin/'),
    dir('etc/'),
    dir('tmp/', 0o1777),
    dir('usr/'),
    dir('usr/bin/'),
    dir('opt/'),
    dir('opt/keep/'),
    dir('data/'),
    dir('data/old/'),
    dir('home/'),
    dir('home/user/', 0o700),
    dir('dev/'),
    { name: 'bin/busybox', type: 'file', mode: 0o755, content: busybox },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { name: 'bin/ls', type: 'symlink', linkname: '/bin/busybox' },
    { name: 'bin/cat', type: 'link', linkname: 'bin/busybox' },
    {
      name: 'etc/passwd',
      type: 'file',
      mode: 0o644,
      content: 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n',
    },
    { name: 'usr/bin/su', type: 'file', mode: 0o4755, content: '#!/bin/sh\necho su\n' },
    { name: 'home/user/owned', type: 'file', mode: 0o600, uid: 1000, gid: 1000, content: 'mine\n' },
    { name: 'dev/null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 },
    { name: 'opt/keep/a.txt', type: 'file', mode: 0o644, content: 'keep\n' },
    { name: 'opt/gone.txt', type: 'file', mode: 0o644, content: 'gone\n' },
    { name: 'data/old/x.txt', type: 'file', mode: 0o644, content: 'old\n' },
    { name: LONG_NAME, type: 'file', mode: 0o644, content: 'long\n' },
    { name: 'etc/shadow', type: 'file', mode: 0o400, content: 'root:*:1::::::\n' },
    dir('ro/', 0o555),
    { name: 'ro/file', type: 'file', mode: 0o444, content: 'ro\n' },
  ];
  const second: TarEntry[] = [
    dir('opt/'),
    { name: 'opt/.wh.gone.txt', type: 'file', mode: 0o600 },
    dir('data/old/'),
    { name: 'data/old/.wh..wh..opq', type: 'file', mode: 0o600 },
    { name: 'data/old/new.txt', type: 'file', mode: 0o644, content: 'new\n' },
    { name: 'etc/hostname', type: 'file', mode: 0o644, content: 'fixture\n' },
    // opt/keep deleted and refilled in this layer: becomes an opaque directory
    { name: 'opt/.wh.keep', type: 'file', mode: 0o600 },
    { name: 'opt/keep/b.txt', type: 'file', mode: 0o644, content: 'b\n' },
  ];
  const third: TarEntry[] = [
    { name: 'etc/xattr', type: 'file', mode: 0o644, content: 'x\n', pax: { 'SCHILY.xattr.user.fixture': 'yes' } },
    { name: 'run-fifo', type: 'fifo', mode: 0o600 },
  ];
  return [
    { entries: base, compression: 'gzip' },
    { entries: second, compression: 'zstd' },
    { entries: third, compression: 'none' },
  ];
}

/** The standard fixture image as an OCI layout in `dir`. */
export function buildFixtureImage(dir: string, tag = 'fixture'): Promise<BuiltImage> {
  return writeImageLayout(dir, tag, fixtureLayers());
}

/**
 * A tar holding one file with a binary xattr in a PAX record, as GNU tar and Go write them (raw
 * bytes; tar-stream's packer would UTF-8 encode them). The PAX header is made by hand.
 */
export async function binaryXattrTar(name: string, xattr: string, value: Buffer): Promise<Buffer> {
  const body = Buffer.concat([Buffer.from(` SCHILY.xattr.${xattr}=`), value, Buffer.from('\n')]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  const records = Buffer.concat([Buffer.from(String(length)), body]);
  const pax = await packTar([{ name: 'PaxHeader', type: 'file', mode: 0o644, content: records }]);
  const header = pax.subarray(0, 512);
  header[156] = 0x78; // typeflag 'x': a PAX extended header for the next entry
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  const paxBlocks = pax.subarray(0, 512 + Math.ceil(records.length / 512) * 512);
  return Buffer.concat([paxBlocks, await packTar([{ name, type: 'file', mode: 0o755, content: 'cap\n' }])]);
}
