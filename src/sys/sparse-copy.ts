import { closeSync, constants, copyFileSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { koffi, libcFunction } from './libc.js';

const lseekC = libcFunction('int64_t lseek(int fd, int64_t offset, int whence)');
const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const ENXIO = 6;
const CHUNK = 1 << 20;

/**
 * Copies a file keeping its holes: a reflink when the filesystem can (FICLONE), else only its data
 * segments (lseek SEEK_DATA/SEEK_HOLE) into a file truncated to the full size, so a sparse file in
 * an image stays sparse on the vfs driver instead of taking its full size on disk.
 */
export function copySparse(src: string, dest: string): void {
  try {
    copyFileSync(src, dest, constants.COPYFILE_FICLONE_FORCE);
    return;
  } catch {
    // no reflinks here: copy the data segments
  }
  const from = openSync(src, 'r');
  const to = openSync(dest, 'w', 0o600);
  try {
    const size = fstatSync(from).size;
    ftruncateSync(to, size);
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(size, 1)));
    for (let pos = 0; pos < size;) {
      const start = Number(lseekC(from, BigInt(pos), SEEK_DATA));
      if (start < 0 && koffi.errno() === ENXIO) break; // only a hole is left
      // A filesystem without SEEK_DATA answers EINVAL: treat the whole rest as data.
      const dataStart = start < 0 ? pos : start;
      const hole = start < 0 ? size : Number(lseekC(from, BigInt(dataStart), SEEK_HOLE));
      const end = hole < 0 ? size : hole;
      for (let at = dataStart; at < end;) {
        const n = readSync(from, buf, 0, Math.min(buf.length, end - at), at);
        if (n === 0) break;
        writeSync(to, buf, 0, n, at);
        at += n;
      }
      pos = end;
    }
  } finally {
    closeSync(from);
    closeSync(to);
  }
}
