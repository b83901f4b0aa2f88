import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * tar-stream decodes every PAX record as UTF-8, which corrupts binary xattr values such as
 * `security.capability`. Its extractor calls `headers.decodePax` through the module object, so
 * hutch swaps in a decoder that keeps `SCHILY.xattr.*` values as latin1 strings (one char per
 * byte); layer-writer turns them back into the exact bytes. The package's `exports` hide
 * headers.js, hence the absolute path. Everything else decodes as before.
 */
export const XATTR_ENCODING = 'latin1';

const require = createRequire(import.meta.url);
const headers = require(join(dirname(require.resolve('tar-stream')), 'headers.js')) as { decodePax: (buf: Buffer) => Record<string, string> };

headers.decodePax = function decodePax(buf: Buffer): Record<string, string> {
  const result: Record<string, string> = {};
  let rest = buf;
  while (rest.length > 0) {
    const space = rest.indexOf(0x20);
    const length = space < 0 ? 0 : parseInt(rest.toString('latin1', 0, space), 10);
    if (!length || length > rest.length) return result;
    const record = rest.subarray(space + 1, length - 1);
    const eq = record.indexOf(0x3d);
    if (eq < 0) return result;
    const key = record.toString('utf8', 0, eq);
    result[key] = record.toString(key.startsWith('SCHILY.xattr.') ? XATTR_ENCODING : 'utf8', eq + 1);
    rest = rest.subarray(length);
  }
  return result;
};
