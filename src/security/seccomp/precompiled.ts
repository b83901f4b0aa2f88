import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Seccomp } from '../../runtime/spec.js';
import { nativeArch, type Arch } from './arch.js';
import { compileSeccomp, seccompFlags, type SeccompProgram } from './compile.js';
import { defaultProfile } from './default-profile.js';
import { resolveProfile } from './profile.js';

/**
 * The filter of a plain `run` compiled at build time (scripts/seccomp-filters.mjs, into
 * dist/bundle/): compiling the default profile is ~10 ms of every container's start, always the
 * same bytes. A filter file is named by the hash of the profile it was compiled from and the arch:
 * a profile that differs in anything (capabilities added, another kernel's rules, a profile of
 * one's own) names no file and is compiled. The file is the build's, as the bundle's code is.
 */
export function seccompProgram(
  profile: Seccomp,
  native: Arch = nativeArch(),
  notify: string[] = [],
  dir: string = bundleDir(),
): SeccompProgram {
  if (notify.length === 0) {
    try {
      const program = readFileSync(join(dir, filterName(profile, native)));
      // A whole filter is struct sock_filter[] (8 bytes each); anything else is compiled anew.
      if (program.length > 0 && program.length % 8 === 0) return { program, flags: seccompFlags(profile.flags ?? []) };
    } catch {
      // not compiled at build time
    }
  }
  return compileSeccomp(profile, native, notify);
}

/**
 * The profiles the build compiles: the default profile for each default capability set of a plain
 * run (src/runtime/linux.ts PLAIN_RUN_CAPABILITY_SETS: docker's and containers-common's), resolved
 * on this kernel.
 */
export function precompiledProfiles(
  capabilitySets: readonly (readonly string[])[],
  native: Arch = nativeArch(),
): Seccomp[] {
  return capabilitySets.map((caps) => resolveProfile(defaultProfile(), { caps: [...caps], arch: native }));
}

/** Writes the filters of precompiledProfiles into `dir` (the build's dist/bundle/); their names. */
export function writePrecompiled(
  dir: string,
  capabilitySets: readonly (readonly string[])[],
  native: Arch = nativeArch(),
): string[] {
  return precompiledProfiles(capabilitySets, native).map((profile) => {
    const name = filterName(profile, native);
    writeFileSync(join(dir, name), compileSeccomp(profile, native).program);
    return name;
  });
}

export function filterName(profile: Seccomp, native: Arch): string {
  const hash = createHash('sha256').update(JSON.stringify(profile)).digest('hex').slice(0, 32);
  return `seccomp-${native.name.replace(/^SCMP_ARCH_/, '').toLowerCase()}-${hash}.bpf`;
}

/**
 * dist/bundle/ from wherever this code was loaded: the bundle itself, the compiled tree
 * (dist/src/security/seccomp) or the sources under vitest (src/security/seccomp), as entryCommand
 * (src/sys/entry-points.ts) finds the bundle.
 */
function bundleDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  if (basename(here) === 'bundle') return here;
  const top = join(here, '..', '..', '..');
  return join(basename(top) === 'dist' ? top : join(top, 'dist'), 'bundle');
}
