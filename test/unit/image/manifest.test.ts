import { expect, test } from 'vitest';
import {
  choosePlatform,
  parseConfig,
  parseManifest,
  parsePlatform,
  type ImageIndex,
} from '../../../src/image/manifest.js';
import { parseChallenge } from '../../../src/image/registry.js';

const d = (c: string): string => `sha256:${c.repeat(64)}`;
const index: ImageIndex = {
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.index.v1+json',
  manifests: [
    { mediaType: 'm', digest: d('a'), size: 1, platform: { os: 'linux', architecture: 'amd64' } },
    { mediaType: 'm', digest: d('b'), size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    { mediaType: 'm', digest: d('c'), size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
  ],
};

test('platform choice', () => {
  expect(choosePlatform(index, parsePlatform('linux/amd64'), 'x').digest).toBe(d('a'));
  expect(choosePlatform(index, parsePlatform('linux/arm/v7'), 'x').digest).toBe(d('b'));
  expect(choosePlatform(index, parsePlatform('linux/arm64'), 'x').digest).toBe(d('c'));
  expect(() => choosePlatform(index, parsePlatform('linux/s390x'), 'img')).toThrowErrorMatchingInlineSnapshot(
    `[RegistryError: no image for platform linux/s390x in img; available: linux/amd64, linux/arm/v7, linux/arm64/v8]`,
  );
});

test('manifests: OCI, Docker schema 2, indexes; schema 1 refused', () => {
  const m = parseManifest(
    Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: 'c', digest: d('1'), size: 2 }, layers: [] })),
    'x',
    'application/vnd.docker.distribution.manifest.v2+json',
  );
  expect(m.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
  expect('manifests' in parseManifest(Buffer.from(JSON.stringify(index)), 'x')).toBe(true);
  expect(() => parseManifest(Buffer.from('{"schemaVersion":1}'), 'x')).toThrowError(
    expect.objectContaining({ code: 'MANIFEST_UNSUPPORTED' }),
  );
  expect(() =>
    parseManifest(Buffer.from('{"schemaVersion":2,"config":{"digest":"md5:x","size":1},"layers":[]}'), 'x'),
  ).toThrowError(expect.objectContaining({ code: 'DIGEST_INVALID' }));
});

test('configs must list one diff id per layer', () => {
  const raw = Buffer.from(JSON.stringify({ rootfs: { type: 'layers', diff_ids: [d('e')] } }));
  expect(parseConfig(raw, 'x', 1).rootfs.diff_ids).toEqual([d('e')]);
  expect(() => parseConfig(raw, 'x', 2)).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID' }));
});

test('bearer challenges', () => {
  expect(
    parseChallenge(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
    ),
  ).toEqual({
    realm: 'https://auth.docker.io/token',
    service: 'registry.docker.io',
    scope: 'repository:library/alpine:pull',
  });
});
