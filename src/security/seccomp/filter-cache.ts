import { lstatSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Filters compiled at run time, kept for the next container of the same profile: an engine's
 * profile (podman's containers-common one, resolved for the container's capabilities) is in no
 * build index (precompiled.ts), and compiling it was ~8-10 ms of every `hutch runtime create`
 * under podman. The files live in the bundle loader's code cache folder (HUTCH_CODE_CACHE_DIR:
 * the user's private runtime folder), as what is trusted to run: a folder that is not a directory
 * of this uid closed to others' writes is not used.
 *
 * A file is `seccomp-BUILD-HASH.bpf`: BUILD names the build (the compiler may change with it; a
 * new build's first write removes the older builds' files), HASH is FNV-1a of the key. Its bytes
 * are the key's length (u32 LE), the key (arch, notified syscalls and the profile's JSON), the
 * program. The whole key is compared on reading: a hash no collision can turn into another
 * profile's filter, and no node:crypto on a container's path (~3 ms to load).
 */
const CACHE_ENV = 'HUTCH_CODE_CACHE_DIR';

/** The cache folder, when there is a private one. */
export function filterCacheDir(): string | undefined {
  const dir = process.env[CACHE_ENV];
  if (dir === undefined || dir === '') return undefined;
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o022) === 0 ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** The program kept for `key` by this build, or undefined. */
export function readCachedFilter(dir: string, build: string, key: string): Buffer | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(join(dir, fileName(build, key)));
  } catch {
    return undefined;
  }
  const keyBytes = Buffer.from(key);
  if (bytes.length < 4 || bytes.readUInt32LE(0) !== keyBytes.length) return undefined;
  const program = bytes.subarray(4 + keyBytes.length);
  // A whole filter is struct sock_filter[] (8 bytes each); anything else is compiled anew.
  if (!bytes.subarray(4, 4 + keyBytes.length).equals(keyBytes) || program.length === 0 || program.length % 8 !== 0)
    return undefined;
  return program;
}

/** Keeps `program` for `key` (atomically: another create may be reading it); a failure only costs a compile. */
export function writeCachedFilter(dir: string, build: string, key: string, program: Uint8Array): void {
  try {
    const keyBytes = Buffer.from(key);
    const length = Buffer.alloc(4);
    length.writeUInt32LE(keyBytes.length);
    const file = join(dir, fileName(build, key));
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, Buffer.concat([length, keyBytes, program]), { mode: 0o600 });
    renameSync(temp, file);
    for (const other of readdirSync(dir))
      if (other.startsWith('seccomp-') && !other.startsWith(`seccomp-${build}-`))
        rmSync(join(dir, other), { force: true });
  } catch {
    // unwritable: the next create compiles again
  }
}

function fileName(build: string, key: string): string {
  return `seccomp-${build}-${fnv1a(key)}.bpf`;
}

/** 32-bit FNV-1a of the string's UTF-16 code units, as 8 hex digits. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(16).padStart(8, '0');
}
