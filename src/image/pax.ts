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
const headers = require(join(dirname(require.resolve('tar-stream')), 'headers.js')) as {
  decodePax: (buf: Buffer) => Record<string, string>;
  encodePax: (opts: { name?: string; linkname?: string; pax?: Record<string, string> }) => Buffer;
};

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

/**
 * The packing side (hutch commit): tar-stream counts a record's length in characters, not bytes,
 * and writes values as UTF-8. Records here are measured in bytes, `SCHILY.xattr.*` values written
 * back from their latin1 strings as the exact bytes.
 */
headers.encodePax = function encodePax(opts): Buffer {
  const records: Buffer[] = [];
  const add = (key: string, value: Buffer): void => {
    const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
    let length = body.length + 1;
    while (String(length).length + body.length !== length) length = String(length).length + body.length;
    records.push(Buffer.from(String(length)), body);
  };
  if (opts.name) add('path', Buffer.from(opts.name));
  if (opts.linkname) add('linkpath', Buffer.from(opts.linkname));
  for (const [key, value] of Object.entries(opts.pax ?? {}))
    add(key, Buffer.from(value, key.startsWith('SCHILY.xattr.') ? XATTR_ENCODING : 'utf8'));
  return Buffer.concat(records);
};
