import { describe, expect, test } from 'vitest';
import { formatReference, isShortName, looksLikeId, parseReference } from '../../../src/image/ref.js';

describe('parseReference', () => {
  test.each([
    ['alpine', 'docker.io/library/alpine:latest'],
    ['alpine:3.20', 'docker.io/library/alpine:3.20'],
    ['library/alpine', 'docker.io/library/alpine:latest'],
    ['bitnami/redis:7', 'docker.io/bitnami/redis:7'],
    ['docker.io/alpine', 'docker.io/library/alpine:latest'],
    ['index.docker.io/library/alpine', 'docker.io/library/alpine:latest'],
    ['quay.io/podman/stable:v4', 'quay.io/podman/stable:v4'],
    ['localhost/mine', 'localhost/mine:latest'],
    ['localhost:5000/a/b/c:1.0', 'localhost:5000/a/b/c:1.0'],
    ['127.0.0.1:5000/x', '127.0.0.1:5000/x:latest'],
    [`alpine@sha256:${'a'.repeat(64)}`, `docker.io/library/alpine@sha256:${'a'.repeat(64)}`],
    [`ghcr.io/o/r:tag@sha256:${'b'.repeat(64)}`, `ghcr.io/o/r:tag@sha256:${'b'.repeat(64)}`],
  ])('%s -> %s', (text, canonical) => {
    expect(formatReference(parseReference(text))).toBe(canonical);
  });

  test('a default registry other than docker.io gets no library/', () => {
    expect(formatReference(parseReference('alpine', 'quay.io'))).toBe('quay.io/alpine:latest');
  });

  test.each(['Alpine', 'alpine:', 'alpine@sha256:abc', '/alpine', 'a//b', 'alpine:bad tag', ''])(
    'refuses %j',
    (text) => {
      expect(() => parseReference(text)).toThrowError(expect.objectContaining({ code: 'IMAGE_REF_INVALID' }));
    },
  );

  test('the error names the reference and says how to write one', () => {
    expect(() => parseReference('Alpine')).toThrowErrorMatchingInlineSnapshot(
      `[UsageError: invalid image reference "Alpine": repository names are lower-case letters, digits and separators (. _ __ -)]`,
    );
  });
});

test('short names and ids', () => {
  expect(isShortName('alpine')).toBe(true);
  expect(isShortName('library/alpine')).toBe(true);
  expect(isShortName('docker.io/alpine')).toBe(false);
  expect(isShortName('localhost/x')).toBe(false);
  expect(looksLikeId('4c292f29f899')).toBe(true);
  expect(looksLikeId(`sha256:${'c'.repeat(64)}`)).toBe(true);
  expect(looksLikeId('alpine')).toBe(false);
});
