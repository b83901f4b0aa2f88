// Writes an HLI1 index of a plain directory (as hutch's unpack would for a layer), so that the
// fs bench can also time hutch's own mode: lower layers with a metadata index.
// usage: node bench/fs-index.mjs DIR INDEX
import { lstatSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeLayerIndex } from '../dist/fuse/layer-index.js';

const [root, out] = process.argv.slice(2);
const KIND = { 0o100000: 1, 0o040000: 2, 0o120000: 3, 0o020000: 5, 0o060000: 6, 0o010000: 7, 0o140000: 8 };
const entries = [];
const seen = new Map();
function walk(rel) {
  for (const name of readdirSync(join(root, rel))) {
    const path = rel === '' ? name : `${rel}/${name}`;
    const st = lstatSync(join(root, path));
    const type = st.mode & 0o170000;
    const first = st.nlink > 1 && type === 0o100000 ? seen.get(st.ino) : undefined;
    entries.push({
      path,
      kind: first !== undefined ? 4 : KIND[type],
      flags: 0,
      mode: st.mode & 0o7777,
      uid: 0,
      gid: 0,
      rdev: st.rdev,
      size: st.size,
      mtimeSec: Math.floor(st.mtimeMs / 1000),
      mtimeNsec: 0,
      link: first ?? (type === 0o120000 ? readlinkSync(join(root, path)) : ''),
      xattrs: new Map(),
    });
    if (first === undefined && st.nlink > 1 && type === 0o100000) seen.set(st.ino, path);
    if (type === 0o040000) walk(path);
  }
}
walk('');
writeFileSync(out, encodeLayerIndex(entries));
console.log(`${entries.length} entries indexed`);
