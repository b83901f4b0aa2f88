// The ImageSource contract, run against every source: the manifest names the fixture's config,
// and every blob streams bytes matching its descriptor (size and sha256).
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openArchive } from '../../src/image/archive.js';
import { LayoutSource } from '../../src/image/layout.js';
import { hostPlatform } from '../../src/image/manifest.js';
import { RegistrySource } from '../../src/image/registry.js';
import type { ImageSource } from '../../src/image/source.js';
import { requires } from '../helpers/host.js';
import { hutch, tempDir } from '../helpers/image-cli.js';
import { buildFixtureImage, type BuiltImage } from '../helpers/image-fixtures.js';
import { pushLayout, startRegistry, type Registry } from '../helpers/registry.js';

let fixture: BuiltImage;
let registry: Registry;
let work: string;

beforeAll(async () => {
  requires('registry', 'busybox');
  work = tempDir('hutch-sources-');
  fixture = await buildFixtureImage(join(work, 'layout'));
  await execa('tar', ['-C', fixture.dir, '-cf', join(work, 'oci.tar'), '.']);
  const root = join(work, 'root');
  await hutch(['pull', '-q', '--root', root, `oci:${fixture.dir}:fixture`]);
  await hutch(['tag', '--root', root, fixture.configDigest.slice(7), 'localhost/fixture:1']);
  await hutch(['save', '--root', root, '-o', join(work, 'docker.tar'), 'localhost/fixture:1']);
  registry = await startRegistry(join(work, 'registry'), join(work, 'storage'));
  await pushLayout(fixture.dir, 'fixture', `${registry.host}/hutch/fixture:1`, join(work, 'skopeo'));
}, 120_000);

afterAll(async () => {
  await registry?.stop();
});

const sources: [string, () => Promise<ImageSource>][] = [
  [
    'registry',
    async () =>
      new RegistrySource(
        { host: registry.host, repository: 'hutch/fixture', insecure: true, credentials: undefined },
        '1',
        'registry',
      ),
  ],
  ['oci layout', async () => new LayoutSource(fixture.dir, 'fixture')],
  ['oci-archive', () => openArchive(join(work, 'oci.tar'), tempDir(), 'fixture')],
  ['docker-archive', () => openArchive(join(work, 'docker.tar'), tempDir())],
];

describe.each(sources)('%s', (_name, open) => {
  test('names the fixture config and serves blobs that match their descriptors', async () => {
    const source = await open();
    try {
      const { manifest, digest, raw } = await source.manifest(hostPlatform());
      expect(digest).toBe(`sha256:${createHash('sha256').update(raw).digest('hex')}`);
      expect(manifest.config.digest).toBe(fixture.configDigest);
      expect(manifest.layers).toHaveLength(3);
      for (const d of [manifest.config, ...manifest.layers]) {
        const hash = createHash('sha256');
        let size = 0;
        for await (const chunk of await source.blob(d)) {
          hash.update(chunk as Buffer);
          size += (chunk as Buffer).length;
        }
        expect([size, `sha256:${hash.digest('hex')}`]).toEqual([d.size, d.digest]);
      }
    } finally {
      await source.close();
    }
  });
});
