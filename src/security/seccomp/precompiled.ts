import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Seccomp } from '../../runtime/spec.js';
import { nativeArch, type Arch } from './arch.js';
import { compileSeccomp, seccompFlags, type SeccompProgram } from './compile.js';
import { defaultProfile } from './default-profile.js';
import { filterCacheDir, readCachedFilter, writeCachedFilter } from './filter-cache.js';
import { kernelSpan, resolveProfile } from './profile.js';

/**
 * The filter of a plain `run` compiled at build time (scripts/seccomp-filters.mjs, into
 * dist/bundle/): compiling the default profile is ~10 ms of every container's start, always the
 * same bytes. The build's index (INDEX) lists each filter file with the arch and the profile (as
 * JSON) it was compiled from: a profile that differs in anything (capabilities added, another
 * kernel's rules, a profile of one's own) is in no entry and is compiled. The index holds the whole
 * profile rather than a digest of it: comparing the text needs no node:crypto on a run's path
 * (~3 ms to load), and no digest can then name a file of another profile. The files are the
 * build's, as the bundle's code is.
 */
export function seccompProgram(
  profile: Seccomp,
  native: Arch = nativeArch(),
  notify: string[] = [],
  dir: string = bundleDir(),
  cacheDir: string | undefined = filterCacheDir(),
): SeccompProgram {
  if (notify.length > 0) return compileSeccomp(profile, native, notify);
  const flags = seccompFlags(profile.flags ?? []);
  const text = JSON.stringify(profile);
  const file = precompiledFile(profile, native, dir, text);
  if (file !== undefined) {
    try {
      const program = readFileSync(join(dir, file));
      // A whole filter is struct sock_filter[] (8 bytes each); anything else is compiled anew.
      if (program.length > 0 && program.length % 8 === 0) return { program, flags };
    } catch {
      // listed but gone: compiled below
    }
  }
  // Any other profile (an engine's): compiled once per build, then read from the user's cache.
  const build = cacheDir === undefined ? undefined : buildName(dir);
  if (build === undefined) return compileSeccomp(profile, native);
  const key = `${native.name} ${native.audit} ${native.bits} ${native.nrBase}\n${text}`;
  const kept = readCachedFilter(cacheDir!, build, key);
  if (kept !== undefined) return { program: kept, flags };
  const compiled = compileSeccomp(profile, native);
  writeCachedFilter(cacheDir!, build, key, compiled.program);
  return compiled;
}

/** The build's name for filter-cache.ts: its index's size and time (each build writes it), undefined with none. */
function buildName(dir: string): string | undefined {
  try {
    const st = statSync(join(dir, INDEX));
    return `${st.size}.${Math.trunc(st.mtimeMs)}`;
  } catch {
    return undefined;
  }
}

/** dist/bundle/'s list of the filters the build compiled (writePrecompiled). */
const INDEX = 'seccomp-filters.json';
/** writePrecompiled's list as lines of `ARCH FROM-BELOW FILE CAP,CAP,...`, for the C front of `run`. */
const TEXT_INDEX = 'seccomp-filters.txt';

/** One compiled filter: its file in dist/bundle/, the arch and the profile's JSON.stringify. */
interface IndexEntry {
  file: string;
  arch: string;
  profile: string;
}

/** The name of the file in `dir` that holds the filter of exactly this profile, if the build made one. */
export function precompiledFile(
  profile: Seccomp,
  native: Arch,
  dir: string,
  text: string = JSON.stringify(profile),
): string | undefined {
  let index: unknown;
  try {
    index = JSON.parse(readFileSync(join(dir, INDEX), 'utf8'));
  } catch {
    return undefined; // not built with filters (or unreadable): every profile is compiled
  }
  if (!Array.isArray(index)) return undefined;
  const entry = (index as Partial<IndexEntry>[]).find((e) => e.arch === native.name && e.profile === text);
  return typeof entry?.file === 'string' && basename(entry.file) === entry.file ? entry.file : undefined;
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

/** Writes the filters of precompiledProfiles and their index into `dir` (the build's dist/bundle/); the filters' names. */
export function writePrecompiled(
  dir: string,
  capabilitySets: readonly (readonly string[])[],
  native: Arch = nativeArch(),
): string[] {
  const arch = native.name.replace(/^SCMP_ARCH_/, '').toLowerCase();
  const entries: IndexEntry[] = precompiledProfiles(capabilitySets, native).map((profile, i) => {
    const file = `seccomp-${arch}-${i}.bpf`;
    writeFileSync(join(dir, file), compileSeccomp(profile, native).program);
    return { file, arch: native.name, profile: JSON.stringify(profile) };
  });
  writeFileSync(join(dir, INDEX), JSON.stringify(entries));
  // The same list for native/hutch-run-front, which cannot make the profile: the span of kernels
  // that resolve it as this one does (kernelSpan; BELOW empty: no bound) and the capability set
  // stand for it (the default profile is the build's own).
  const { from, below = '' } = kernelSpan(defaultProfile());
  const lines = entries.map((e, i) => `${e.arch} ${from}-${below} ${e.file} ${capabilitySets[i]!.join(',')}\n`);
  writeFileSync(join(dir, TEXT_INDEX), lines.join(''));
  return entries.map((e) => e.file);
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
