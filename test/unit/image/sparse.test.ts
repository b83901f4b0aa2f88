import { expect, test } from 'vitest';
import { sparseInfo } from '../../../src/image/sparse.js';
import { makedev } from '../../../src/image/layer-writer.js';
import { formatBytes } from '../../../src/image/progress.js';

test('sparse descriptions from PAX records', () => {
  expect(sparseInfo({ path: 'x' })).toBeUndefined();
  expect(sparseInfo({ 'GNU.sparse.name': 'f', 'GNU.sparse.size': '100', 'GNU.sparse.map': '0,10,90,10' })).toEqual({
    name: 'f',
    realSize: 100,
    map: [
      [0, 10],
      [90, 10],
    ],
  });
  expect(
    sparseInfo({
      'GNU.sparse.major': '1',
      'GNU.sparse.minor': '0',
      'GNU.sparse.name': 'f',
      'GNU.sparse.realsize': '4096',
    }),
  ).toEqual({ name: 'f', realSize: 4096, map: undefined });
  expect(() => sparseInfo({ 'GNU.sparse.major': '1' })).toThrow(/lacks GNU.sparse.name/);
  expect(() => sparseInfo({ 'GNU.sparse.name': 'f', 'GNU.sparse.size': '1', 'GNU.sparse.map': '0,1,5' })).toThrow(
    /malformed/,
  );
});

test('device numbers and byte counts', () => {
  expect(makedev(1, 3)).toBe(0x103);
  expect(makedev(259, 65536)).toBe(((259 & 0xfff) << 8) | ((65536 & 0xfff00) << 12));
  expect(formatBytes(999)).toBe('999 B');
  expect(formatBytes(1536)).toBe('1.54 KB');
  expect(formatBytes(230e6)).toBe('230.0 MB');
});
