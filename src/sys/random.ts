import { closeSync, openSync, readSync } from 'node:fs';
import { crypto } from './on-use.js';

/**
 * `bytes` random bytes from the kernel, in hex (container and volume ids). Read from /dev/urandom
 * rather than node:crypto's randomBytes: loading node:crypto costs a run's start ~3 ms, and the
 * kernel's pool is what OpenSSL seeds from anyway. Where that file cannot be read (a /dev without
 * it), node:crypto's randomBytes, which asks the kernel through getrandom(2), as hutch did before.
 */
export function randomHex(bytes: number, urandom = '/dev/urandom'): string {
  const buffer = Buffer.alloc(bytes);
  let fd: number | undefined;
  try {
    fd = openSync(urandom, 'r');
    for (let got = 0; got < bytes;) {
      const n = readSync(fd, buffer, got, bytes - got, null);
      if (n === 0) throw new Error(`${urandom} ended after ${got} bytes`); // not a device that streams
      got += n;
    }
    return buffer.toString('hex');
  } catch {
    return crypto().randomBytes(bytes).toString('hex');
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
