import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Seccomp } from '../runtime/spec.js';
import { compileSeccomp, defaultProfile, nativeArch, resolveProfile } from '../security/seccomp/index.js';

const TIOCSTI = 0x5412;
const TIOCLINUX = 0x541c;
const EPERM = 1;

/**
 * The default profile for a process without capabilities, and TIOCSTI and TIOCLINUX refused:
 * pushing characters into the terminal's input would run them outside, after the sandbox exits
 * (CVE-2017-5226; bubblewrap refuses them too). The low 32 bits only: the kernel reads an int.
 */
export function sandboxSeccomp(): Seccomp {
  const profile = resolveProfile(defaultProfile(), { caps: [], arch: nativeArch() });
  const refuse = (request: number): NonNullable<Seccomp['syscalls']>[number] => ({
    names: ['ioctl'],
    action: 'SCMP_ACT_ERRNO',
    errnoRet: EPERM,
    args: [{ index: 1, value: 0xffffffff, valueTwo: request, op: 'SCMP_CMP_MASKED_EQ' }],
  });
  return { ...profile, syscalls: [refuse(TIOCSTI), refuse(TIOCLINUX), ...(profile.syscalls ?? [])] };
}

/**
 * The profile compiled, kept in the user's runtime directory under the hash of the profile:
 * compiling costs ~20-60 ms, a good part of a sandbox's start. Same profile, same bytes (the
 * compiler is pure); a cache file that is not a whole filter is compiled again.
 */
export function compiledSandboxSeccomp(profile: Seccomp, runDir: string): { program: Uint8Array; flags: number } {
  const hash = createHash('sha256').update(JSON.stringify(profile)).digest('hex').slice(0, 32);
  const file = join(runDir, `seccomp-${hash}.bpf`);
  const flags = 0; // the default profile sets no SECCOMP_FILTER_FLAG_*
  try {
    const program = readFileSync(file);
    if (program.length > 0 && program.length % 8 === 0 && profile.flags === undefined) return { program, flags };
  } catch {
    // not cached yet
  }
  const compiled = compileSeccomp(profile);
  try {
    writeFileSync(`${file}.${process.pid}`, compiled.program, { mode: 0o600 });
    renameSync(`${file}.${process.pid}`, file);
  } catch {
    // a cache we cannot write costs the next start the compile, nothing else
  }
  return compiled;
}

/**
 * The filter native/hutch-sandbox sends (scripts/sandbox-seccomp.mjs writes it at build time into
 * dist/bundle/ under this name): the same profile through the same compiler, for this machine's
 * arch; its flags are 0, as compiledSandboxSeccomp's.
 */
export function sandboxSeccompFile(): { name: string; program: Uint8Array } {
  return { name: `sandbox-seccomp-${process.arch}.bpf`, program: compileSeccomp(sandboxSeccomp()).program };
}
