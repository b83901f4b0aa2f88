import { closeSync, openSync, readSync } from 'node:fs';
import { HutchError } from '../errors.js';

/**
 * `bytes` random bytes from the kernel, in hex (container and volume ids). Read from /dev/urandom
 * rather than node:crypto's randomBytes: loading node:crypto costs a run's start ~3 ms, and the
 * kernel's pool is what OpenSSL seeds from anyway.
 */
export function randomHex(bytes: number, urandom = '/dev/urandom'): string {
  const buffer = Buffer.alloc(bytes);
  let fd: number | undefined;
  try {
    fd = openSync(urandom, 'r');
    for (let got = 0; got < bytes;) {
      const n = readSync(fd, buffer, got, bytes - got, null);
      if (n === 0) throw Object.assign(new Error(`${urandom} ended after ${got} bytes`), { code: 'EOF' });
      got += n;
    }
  } catch (error) {
    const cause = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new HutchError('RANDOM_UNREADABLE', `cannot make a random id: reading ${urandom} failed (${cause})`, {
      cause: error,
      hint: `hutch reads its ids from the kernel's ${urandom}: check that it exists and is a readable character device`,
    });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return buffer.toString('hex');
}
