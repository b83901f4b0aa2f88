// The image store without a registry: OCI layouts in, layers unpacked once with their index,
// the vfs copy, hostile input refused with the store unchanged, import/tag/rmi/prune/save/load.
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { EntryKind, OPAQUE, readLayerIndex, type IndexEntry } from '../../fuse/layer-index.js';
import { materializeRootfs } from '../../src/image/materialize.js';
import { pullImage } from '../../src/image/pull.js';
import { resolveImage } from '../../src/image/resolve.js';
import { markImageUsed, unmarkImageUsed } from '../../src/image/store.js';
import { requires } from '../helpers/host.js';
import { hutch, storeListing, tempDir } from '../helpers/image-cli.js';
import {
  binaryXattrTar,
  buildFixtureImage,
  LONG_NAME,
  packTar,
  writeImageLayout,
  type BuiltImage,
} from '../helpers/image-fixtures.js';
import {
  hostileImage,
  hostileLayers,
  rewriteLastLayer,
  hugeSizeImage,
  missingBlobImage,
  tamperedImage,
  truncatedGzipImage,
  truncatedZstdImage,
} from '../helpers/hostile.js';

let fixture: BuiltImage;
beforeAll(async () => {
  requires('busybox');
  fixture = await buildFixtureImage(join(tempDir(), 'layout'));
});

async function pulledStore(): Promise<string> {
  const root = tempDir('hutch-root-');
  const r = await hutch(['pull', '-q', '--root', root, `oci:${fixture.dir}:fixture`]);
  expect(r.stderr).toBe('');
  expect(r.stdout.trim()).toBe(fixture.configDigest.slice(7));
  return root;
}

function indexOf(root: string, layer: number): Map<string, IndexEntry> {
  const file = join(root, 'data', 'layers', 'sha256', fixture.diffIds[layer]!.slice(7), 'index.hli');
  return new Map(readLayerIndex(file).map((e) => [e.path, e]));
}

describe('unpack and index', () => {
  test("every layer is unpacked once with its index; disk files are the user's, the truth is in the index", async () => {
    const root = await pulledStore();
    const base = indexOf(root, 0);
    const layerRoot = join(root, 'data', 'layers', 'sha256', fixture.diffIds[0]!.slice(7), 'root');
    expect(base.get('usr/bin/su')).toMatchObject({ kind: EntryKind.File, mode: 0o4755, uid: 0 });
    expect(statSync(join(layerRoot, 'usr/bin/su')).mode & 0o7777).toBe(0o755);
    expect(base.get('home/user/owned')).toMatchObject({ uid: 1000, gid: 1000, mode: 0o600 });
    expect(statSync(join(layerRoot, 'home/user/owned')).uid).toBe(process.getuid!());
    expect(base.get('home/user')).toMatchObject({ kind: EntryKind.Dir, mode: 0o700 });
    expect(base.get('tmp')).toMatchObject({ kind: EntryKind.Dir, mode: 0o1777 });
    expect(base.get('dev/null')).toMatchObject({ kind: EntryKind.Char, rdev: (1 << 8) | 3 });
    expect(base.get('bin/sh')).toMatchObject({ kind: EntryKind.Symlink, link: 'busybox' });
    expect(lstatSync(join(layerRoot, 'bin/sh')).isSymbolicLink()).toBe(true);
    expect(base.get('bin/cat')).toMatchObject({ kind: EntryKind.Hardlink, link: 'bin/busybox', mode: 0o755 });
    expect(statSync(join(layerRoot, 'bin/cat')).ino).toBe(statSync(join(layerRoot, 'bin/busybox')).ino);
    expect(base.get(LONG_NAME)).toMatchObject({ kind: EntryKind.File, size: 5 });
    expect(base.get('etc/passwd')!.mtimeSec).toBe(Date.parse('2024-01-02T03:04:05Z') / 1000);

    const second = indexOf(root, 1);
    expect(second.get('opt/gone.txt')).toMatchObject({ kind: EntryKind.Whiteout });
    expect(second.get('data/old')!.flags & OPAQUE).toBe(OPAQUE);
    const secondRoot = join(root, 'data', 'layers', 'sha256', fixture.diffIds[1]!.slice(7), 'root');
    expect(readdirSync(join(secondRoot, 'opt'))).toEqual(['keep']);
    expect(second.get('opt/keep')).toMatchObject({ kind: EntryKind.Dir, flags: OPAQUE });
    expect(readdirSync(join(secondRoot, 'data/old'))).toEqual(['new.txt']);

    const third = indexOf(root, 2);
    expect(third.get('etc/xattr')!.xattrs.get('user.fixture')?.toString()).toBe('yes');
    expect(third.get('run-fifo')).toMatchObject({ kind: EntryKind.Fifo });
    expect(third.has('etc')).toBe(false); // an implicit parent: the lower layer's attributes stand

    // The user can always read and remove the store: owner rw(x) on disk, the true mode in the index.
    expect(base.get('etc/shadow')!.mode).toBe(0o400);
    expect(statSync(join(layerRoot, 'etc/shadow')).mode & 0o700).toBe(0o600);
    expect(base.get('ro')!.mode).toBe(0o555);
    expect(statSync(join(layerRoot, 'ro')).mode & 0o700).toBe(0o700);
    rmSync(root, { recursive: true });
    expect(existsSync(root)).toBe(false);
  });

  test('resolveImage gives config and layers bottom-first; materializeRootfs applies whiteouts', async () => {
    const root = await pulledStore();
    const image = await resolveImage(fixture.configDigest.slice(7, 19), { root, pull: 'never' });
    expect(image.id).toBe(fixture.configDigest);
    expect(image.config.config?.Env).toContain('FIXTURE=1');
    expect(image.layers.map((l) => l.diffId)).toEqual(fixture.diffIds);
    const dest = join(tempDir(), 'rootfs');
    materializeRootfs(image, dest);
    expect(readdirSync(join(dest, 'opt/keep'))).toEqual(['b.txt']);
    expect(existsSync(join(dest, 'opt/gone.txt'))).toBe(false);
    expect(readdirSync(join(dest, 'data/old'))).toEqual(['new.txt']);
    expect(readFileSync(join(dest, 'etc/hostname'), 'utf8')).toBe('fixture\n');
    expect(statSync(join(dest, 'bin/cat')).ino).toBe(statSync(join(dest, 'bin/busybox')).ino);
    await expect(resolveImage('localhost/nothing:here', { root, pull: 'never' })).rejects.toMatchObject({
      code: 'IMAGE_NOT_IN_STORE',
    });
  });
});

describe('binary xattrs', () => {
  test('a security.capability-like binary value reaches the index byte for byte', async () => {
    const value = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0xff, 0xfe, 0x80, 0x00]);
    const dir = join(tempDir(), 'layout');
    const layer = await binaryXattrTar('bin/ping', 'security.capability', value);
    const image = await writeRawTarImage(dir, layer);
    const root = tempDir('hutch-root-');
    await pullImage(`oci:${dir}:xattr`, { root, quiet: true });
    const entries = readLayerIndex(join(root, 'data', 'layers', 'sha256', image.diffId.slice(7), 'index.hli'));
    expect(entries.find((e) => e.path === 'bin/ping')?.xattrs.get('security.capability')).toEqual(value);
  });
});

describe('progress', () => {
  test('one line per layer on a terminal, nothing when stderr is not one', async () => {
    const root = tempDir('hutch-root-');
    const quietRun = await hutch(['pull', '--root', root, `oci:${fixture.dir}:fixture`]);
    expect(quietRun.stderr).toBe('');
    const other = tempDir('hutch-root-');
    const bin = join(import.meta.dirname, '..', '..', 'bin', 'hutch');
    const tty = await execa('script', ['-qec', `${bin} pull --root ${other} oci:${fixture.dir}:fixture`, '/dev/null'], {
      reject: false,
    });
    expect(tty.exitCode).toBe(0);
    const lines = tty.stdout.split(/\r?\n/).filter((l) => l.includes('Copying blob') && l.includes(' done'));
    expect(new Set(lines.map((l) => /Copying blob (\w+)/.exec(l)![1])).size).toBe(3);
  });
});

describe('sparse files', () => {
  test.each(['0.1', '1.0'])('GNU tar --sparse-version=%s unpacks to the real contents and size', async (version) => {
    const work = tempDir();
    const file = join(work, 'src', 'sparse.img');
    mkdirSync(join(work, 'src'));
    writeFileSync(file, '');
    truncateSync(file, 8 << 20);
    const fd = openSync(file, 'r+');
    writeSync(fd, 'hello', 4 << 20);
    writeSync(fd, 'end', (8 << 20) - 3);
    closeSync(fd);
    await execa('tar', [
      '--sparse',
      `--sparse-version=${version}`,
      '--format=pax',
      '-C',
      join(work, 'src'),
      '-cf',
      join(work, 's.tar'),
      'sparse.img',
    ]);
    const dir = join(work, 'layout');
    const image = await writeRawTarImage(dir, readFileSync(join(work, 's.tar')));
    const root = tempDir('hutch-root-');
    await pullImage(`oci:${dir}:xattr`, { root, quiet: true });
    const layer = join(root, 'data', 'layers', 'sha256', image.diffId.slice(7));
    const data = readFileSync(join(layer, 'root', 'sparse.img'));
    expect(data.length).toBe(8 << 20);
    expect(data.toString('latin1', 4 << 20, (4 << 20) + 5)).toBe('hello');
    expect(data.toString('latin1', data.length - 3)).toBe('end');
    expect(readLayerIndex(join(layer, 'index.hli')).find((e) => e.path === 'sparse.img')?.size).toBe(8 << 20);
  });
});

describe('multi-platform images', () => {
  test('an index resolves to the requested platform; none matching lists what there is', async () => {
    const dir = join(tempDir(), 'layout');
    const image = await buildFixtureImage(dir);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    const manifest = index.manifests[0];
    const list = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: manifest.mediaType,
          digest: `sha256:${'0'.repeat(64)}`,
          size: 10,
          platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
        },
        {
          mediaType: manifest.mediaType,
          digest: manifest.digest,
          size: manifest.size,
          platform: { os: 'linux', architecture: 'amd64' },
        },
      ],
    });
    const listDigest = `sha256:${createHash('sha256').update(list).digest('hex')}`;
    writeFileSync(join(dir, 'blobs', 'sha256', listDigest.slice(7)), list);
    writeFileSync(
      join(dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.index.v1+json',
            digest: listDigest,
            size: list.length,
            annotations: manifest.annotations,
          },
        ],
      }),
    );
    const root = tempDir('hutch-root-');
    const pulled = await hutch(['pull', '-q', '--platform', 'linux/amd64', '--root', root, `oci:${dir}:fixture`]);
    expect(pulled.stdout.trim()).toBe(image.configDigest.slice(7));
    const none = await hutch(['pull', '-q', '--platform', 'linux/s390x', '--root', root, `oci:${dir}:fixture`]);
    expect(none.exitCode).toBe(125);
    expect(none.stderr).toContain('no image for platform linux/s390x');
    expect(none.stderr).toContain('available: linux/arm64/v8, linux/amd64');
  });
});

describe('hostile input leaves the store unchanged', () => {
  const cases: [string, (dir: string) => Promise<BuiltImage>, string][] = [
    ['a tar entry with ../', (d) => hostileImage(d, hostileLayers.dotdot!), 'LAYER_HOSTILE'],
    ['an absolute path', (d) => hostileImage(d, hostileLayers.absolute!), 'LAYER_HOSTILE'],
    [
      'a file written through a symlink pointing outside',
      (d) => hostileImage(d, hostileLayers.symlinkEscape!),
      'LAYER_HOSTILE',
    ],
    ['a hardlink to a path outside the layer', (d) => hostileImage(d, hostileLayers.hardlinkOutside!), 'LAYER_HOSTILE'],
    ['a hardlink to a path not in the layer', (d) => hostileImage(d, hostileLayers.hardlinkLower!), 'LAYER_HOSTILE'],
    ['a layer whose digest does not match', tamperedImage, 'BLOB_DIGEST_MISMATCH'],
    ['a manifest naming a missing blob', missingBlobImage, 'BLOB_MISSING'],
    ['a truncated gzip stream', truncatedGzipImage, 'LAYER_CORRUPT'],
    ['a truncated zstd stream', truncatedZstdImage, 'LAYER_CORRUPT'],
    ['a huge declared size', hugeSizeImage, 'STORE_FULL'],
  ];
  test.each(cases)('%s', async (_name, build, code) => {
    const root = await pulledStore();
    const before = storeListing(root);
    const image = await build(join(tempDir(), 'layout'));
    await expect(pullImage(`oci:${image.dir}:hostile`, { root, quiet: true })).rejects.toMatchObject({ code });
    expect(storeListing(root)).toEqual(before);
    expect(readdirSync(join(root, 'data', 'tmp'))).toEqual([]);
  });

  test('the CLI names the layer and the cause, with a hint', async () => {
    const root = tempDir('hutch-root-');
    const image = await hostileImage(join(tempDir(), 'layout'), hostileLayers.dotdot!);
    const r = await hutch(['pull', '-q', '--root', root, `oci:${image.dir}:hostile`]);
    expect(r.exitCode).toBe(125);
    expect(r.stderr.replace(/sha256:[0-9a-f]{64}/, 'DIGEST').replace(image.dir, 'DIR')).toMatchInlineSnapshot(`
      "hutch: refusing layer DIGEST of oci:DIR:hostile: entry "../escape.txt" climbs out of the layer with ..
      hint: the image is malformed or malicious; nothing of it was stored"
    `);
  });
});

describe('import, tag, rmi, prune, save, load', () => {
  test('import a rootfs tarball, tag it, refuse rmi while used, prune', async () => {
    const root = tempDir('hutch-root-');
    const tarFile = join(tempDir(), 'rootfs.tar');
    writeFileSync(tarFile, await packTar([{ name: 'hello.txt', type: 'file', mode: 0o644, content: 'hi\n' }]));
    const imported = await hutch(['import', '--root', root, tarFile, 'mybase']);
    expect(imported.exitCode).toBe(0);
    const id = imported.stdout.trim();
    expect((await hutch(['tag', '--root', root, 'mybase', 'localhost/other:2'])).exitCode).toBe(0);
    const listed = await hutch(['images', '--root', root]);
    expect(listed.stdout).toContain('localhost/mybase');
    expect(listed.stdout).toContain('localhost/other');
    const inspect = JSON.parse((await hutch(['image', 'inspect', '--root', root, 'other:2'])).stdout);
    expect(inspect[0].Id).toBe(id);
    markImageUsed(root, `sha256:${id}`, 'c1');
    expect((await hutch(['rmi', '--root', root, 'mybase'])).stdout).toContain('Untagged: localhost/mybase:latest');
    const refused = await hutch(['rmi', '--root', root, 'other:2']);
    expect(refused.exitCode).toBe(125);
    expect(refused.stderr).toContain('containers use it (c1)');
    unmarkImageUsed(root, `sha256:${id}`, 'c1');
    expect((await hutch(['rmi', '--root', root, id.slice(0, 12)])).stdout).toContain(`Deleted: ${id}`);
    expect(storeListing(root).filter((p) => p.startsWith('layers/sha256/') || p.startsWith('blobs/sha256/'))).toEqual(
      [],
    );
  });

  test('save as oci-archive and docker-archive, load into a fresh store: same id', async () => {
    const root = await pulledStore();
    for (const format of ['oci-archive', 'docker-archive']) {
      const file = join(tempDir(), `${format}.tar`);
      const tagged = await hutch(['tag', '--root', root, fixture.configDigest.slice(7), 'localhost/fixture:1']);
      expect(tagged.exitCode).toBe(0);
      const saved = await hutch(['save', '--root', root, '--format', format, '-o', file, 'localhost/fixture:1']);
      expect(saved.stderr).toBe('');
      const other = tempDir('hutch-root-');
      const loaded =
        format === 'oci-archive'
          ? await hutch(['load', '--root', other, '-i', file])
          : await hutch(['load', '--root', other], { inputFile: file });
      expect(loaded.stderr).toBe('');
      expect(loaded.stdout).toContain('Loaded image: localhost/fixture:1');
      const ids = await hutch(['images', '-q', '--no-trunc', '--root', other]);
      expect(ids.stdout.trim()).toBe(fixture.configDigest);
    }
    const piped = await execa('sh', [
      '-c',
      `${join(import.meta.dirname, '..', '..', 'bin', 'hutch')} save --root ${root} localhost/fixture:1 | ${join(import.meta.dirname, '..', '..', 'bin', 'hutch')} load -q --root ${root}-piped`,
    ]);
    expect(piped.stdout).toContain('Loaded image: localhost/fixture:1');
    const dir = join(tempDir(), 'oci-dir');
    expect(
      (await hutch(['save', '--root', root, '--format', 'oci-dir', '-o', dir, 'localhost/fixture:1'])).exitCode,
    ).toBe(0);
    const fromDir = await hutch(['pull', '-q', '--root', tempDir('hutch-root-'), `oci:${dir}:localhost/fixture:1`]);
    expect(fromDir.stdout.trim()).toBe(fixture.configDigest.slice(7));
  });

  test('GNU tar long names (././@LongLink) unpack under their full name', async () => {
    const work = tempDir();
    const long = `${'a'.repeat(120)}/${'b'.repeat(130)}`;
    mkdirSync(join(work, 'src', 'a'.repeat(120)), { recursive: true });
    writeFileSync(join(work, 'src', long), 'gnu\n');
    await execa('tar', ['--format=gnu', '-C', join(work, 'src'), '-cf', join(work, 'g.tar'), 'a'.repeat(120)]);
    const image = await writeRawTarImage(join(work, 'layout'), readFileSync(join(work, 'g.tar')));
    const root = tempDir('hutch-root-');
    await pullImage(`oci:${join(work, 'layout')}:xattr`, { root, quiet: true });
    const layer = join(root, 'data', 'layers', 'sha256', image.diffId.slice(7));
    expect(readFileSync(join(layer, 'root', long), 'utf8')).toBe('gnu\n');
    expect(readLayerIndex(join(layer, 'index.hli')).some((e) => e.path === long)).toBe(true);
  });

  test('prune removes unnamed images and their layers', async () => {
    const root = await pulledStore();
    const pruned = await hutch(['image', 'prune', '--root', root]);
    expect(pruned.stdout.trim()).toBe(fixture.configDigest.slice(7));
    expect(readdirSync(join(root, 'data', 'layers', 'sha256')).filter((n) => !n.endsWith('.lock'))).toEqual([]);
  });
});

/** An OCI layout whose one layer is `tarData` (uncompressed), tagged xattr. */
async function writeRawTarImage(dir: string, tarData: Buffer): Promise<{ diffId: string }> {
  const built = await writeImageLayout(dir, 'xattr', [
    { entries: [{ name: 'placeholder', type: 'file', content: '' }], compression: 'none' },
  ]);
  const image = await rewriteLastLayer(built, tarData, tarData, 'application/vnd.oci.image.layer.v1.tar');
  return { diffId: image.diffIds.at(-1)! };
}
