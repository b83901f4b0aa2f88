import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { StoreError, UsageError, describeCause } from '../errors.js';
import { LayoutSource, missingBlob } from './layout.js';
import { MediaType, sha256, type Descriptor, type Platform } from './manifest.js';
import type { ImageSource, SourceManifest } from './source.js';

/**
 * Opens an image tarball: an oci-archive (a tarred OCI layout) or a docker-archive (`docker save`,
 * `podman save`; `-` for stdin). The tarball is unpacked to a temporary directory (regular files only, paths
 * checked) and read from there; `close` removes it.
 */
export async function openArchive(file: string, tempDir: string, tag?: string): Promise<ImageSource> {
  await extractArchive(file, tempDir);
  if (existsSync(join(tempDir, 'oci-layout')) && existsSync(join(tempDir, 'index.json'))) {
    const layout = new LayoutSource(tempDir, tag, `oci-archive:${file}`);
    return Object.assign(layout, { close: async () => rmSync(tempDir, { recursive: true, force: true }) });
  }
  if (existsSync(join(tempDir, 'manifest.json'))) return new DockerArchiveSource(file, tempDir);
  rmSync(tempDir, { recursive: true, force: true });
  throw new UsageError(
    'ARCHIVE_UNKNOWN',
    `${file} is neither an oci-archive nor a docker-archive (no oci-layout or manifest.json inside)`,
    {
      hint: 'give a tarball written by `hutch save`, `podman save` or `docker save`',
    },
  );
}

/** A docker-archive: manifest.json names the config and the layer tarballs of each image. */
class DockerArchiveSource implements ImageSource {
  readonly where: string;
  private readonly entry: { Config: string; RepoTags?: string[] | null; Layers: string[] };
  private readonly files = new Map<string, string>();

  constructor(
    file: string,
    private readonly dir: string,
  ) {
    this.where = `docker-archive:${file}`;
    let list: DockerArchiveSource['entry'][];
    try {
      list = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as DockerArchiveSource['entry'][];
    } catch (error) {
      throw new UsageError(
        'ARCHIVE_INVALID',
        `${this.where}: manifest.json is not JSON (${(error as Error).message})`,
        { hint: 'the archive is damaged', cause: error },
      );
    }
    if (
      !Array.isArray(list) ||
      list.length === 0 ||
      typeof list[0]?.Config !== 'string' ||
      !Array.isArray(list[0].Layers) ||
      !list[0].Layers.every((l) => typeof l === 'string')
    ) {
      throw new UsageError('ARCHIVE_INVALID', `${this.where}: manifest.json lists no image`, {
        hint: 'the archive is damaged',
      });
    }
    this.entry = list[0];
  }

  async manifest(_platform: Platform): Promise<SourceManifest> {
    const describe = (path: string, mediaType: string): Descriptor => {
      const data = this.read(path);
      const digest = sha256(data);
      this.files.set(digest, path);
      return { mediaType, digest, size: data.length };
    };
    const config = describe(this.entry.Config, MediaType.ociConfig);
    const layers = this.entry.Layers.map((path) => describe(path, MediaType.ociLayer));
    const manifest = { schemaVersion: 2 as const, mediaType: MediaType.ociManifest, config, layers };
    const raw = Buffer.from(JSON.stringify(manifest));
    return { digest: sha256(raw), raw, manifest };
  }

  async blob(d: Descriptor): Promise<Readable> {
    const path = this.files.get(d.digest);
    if (path === undefined) throw missingBlob(d.digest, this.where);
    return createReadStream(join(this.dir, path), { highWaterMark: 1 << 20 });
  }

  names(): string[] {
    return (this.entry.RepoTags ?? []).filter((t) => typeof t === 'string');
  }

  async close(): Promise<void> {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private read(path: string): Buffer {
    const clean = safePath(path, this.where);
    if (!existsSync(join(this.dir, clean))) throw missingBlob(path, this.where);
    return readFileSync(join(this.dir, clean));
  }
}

/** Unpacks the regular files and directories of an image tarball; refuses paths that climb out. */
async function extractArchive(file: string, dest: string): Promise<void> {
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    try {
      const path = safePath(header.name, file);
      if (header.type === 'file' && path !== '') {
        mkdirSync(dirname(join(dest, path)), { recursive: true });
        pipeline(stream, createWriteStream(join(dest, path), { flags: 'wx' })).then(
          () => next(),
          (e: Error) => extract.destroy(e),
        );
        return;
      }
      if (header.type === 'symlink' || header.type === 'link') {
        // docker save links identical layers; resolve them by copying the target's bytes.
        const link = header.linkname ?? '';
        const from = safePath(
          header.type === 'symlink' ? posix.normalize(posix.join(posix.dirname(path), link)) : link,
          file,
        );
        mkdirSync(dirname(join(dest, path)), { recursive: true });
        pipeline(createReadStream(join(dest, from)), createWriteStream(join(dest, path), { flags: 'wx' })).then(
          () => stream.resume().on('end', () => next()),
          (e: Error) => extract.destroy(e),
        );
        return;
      }
      stream.on('end', () => next()).resume();
    } catch (error) {
      extract.destroy(error as Error);
    }
  });
  try {
    // stdin may be a socket (a parent's socketpair), which cannot be reopened by path.
    await pipeline(file === '-' ? process.stdin : createReadStream(file), extract);
  } catch (error) {
    rmSync(dest, { recursive: true, force: true });
    if (error instanceof UsageError || error instanceof StoreError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === 'ENOENT' ? 'ARCHIVE_NOT_FOUND' : 'ARCHIVE_INVALID',
      `cannot read image archive ${file}: ${describeCause(error)}`,
      {
        cause: error,
        hint: code === 'ENOENT' ? 'check the file name' : 'the archive is damaged or not a tar file',
      },
    );
  }
}

function safePath(name: string, where: string): string {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (name.startsWith('/') || parts.includes('..')) {
    throw new StoreError(
      'ARCHIVE_HOSTILE',
      `refusing ${where}: entry ${JSON.stringify(name)} points outside the archive`,
      { hint: 'the archive is malformed or malicious' },
    );
  }
  return parts.join('/');
}
