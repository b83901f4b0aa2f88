import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import type { Seccomp } from '../runtime/spec.js';
import { defaultProfile, nativeArch, parseProfile, resolveProfile, type Profile } from './seccomp/index.js';

/** `--security-opt` values, as podman reads them. */
export interface SecurityOptions {
  /** The seccomp profile: hutch's default, none, or one read from a file. */
  seccomp: 'default' | 'unconfined' | Profile;
  /** no-new-privileges[=true|false]; undefined: not given. */
  noNewPrivileges?: boolean;
  /** mask=PATH[:PATH...]: more paths to mask. */
  mask: string[];
  /** unmask=PATH[:PATH...] or ALL: default masks to leave off. */
  unmask: string[];
}

const invalid = (value: string, why: string): UsageError =>
  new UsageError('SECURITY_OPT_INVALID', `invalid --security-opt ${value}: ${why}`, {
    hint: 'use seccomp=unconfined, seccomp=PROFILE.json, no-new-privileges[=true|false], mask=PATHS or unmask=PATHS|ALL',
  });

/** Parses every --security-opt; reads a seccomp profile file now (relative to the working directory). */
export function parseSecurityOpts(values: string[]): SecurityOptions {
  const out: SecurityOptions = { seccomp: 'default', mask: [], unmask: [] };
  for (const value of values) {
    const eq = value.search(/[=:]/); // podman also takes the older KEY:VALUE spelling
    const [key, arg] = eq < 0 ? [value, undefined] : [value.slice(0, eq), value.slice(eq + 1)];
    if (key === 'seccomp' && arg) out.seccomp = arg === 'unconfined' ? 'unconfined' : readProfile(arg);
    else if (key === 'no-new-privileges' && (arg === undefined || arg === 'true' || arg === 'false'))
      out.noNewPrivileges = arg !== 'false';
    else if ((key === 'mask' || key === 'unmask') && arg) out[key].push(...paths(value, arg, key === 'unmask'));
    else throw invalid(value, eq < 0 || arg ? 'unknown option' : 'missing value');
  }
  return out;
}

function paths(value: string, arg: string, allowAll: boolean): string[] {
  const list = arg.split(':');
  for (const p of list)
    if (!(p.startsWith('/') || (allowAll && p === 'ALL'))) throw invalid(value, `${p} is not an absolute path`);
  return list;
}

function readProfile(path: string): Profile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(
      'SECCOMP_PROFILE_UNREADABLE',
      `cannot read the seccomp profile ${path}: ${(error as NodeJS.ErrnoException).code}`,
      { hint: 'give the path of a readable profile file, or seccomp=unconfined', cause: error },
    );
  }
  return parseProfile(text, path);
}

/** The container's linux.seccomp: the chosen profile resolved for its capabilities and this arch. */
export function seccompFor(options: SecurityOptions, bounding: string[]): Seccomp | undefined {
  if (options.seccomp === 'unconfined') return undefined;
  const profile = options.seccomp === 'default' ? defaultProfile() : options.seccomp;
  return resolveProfile(profile, { caps: bounding, arch: nativeArch() });
}

/** The masked paths: the defaults without the unmasked ones (ALL: none), then the added ones. */
export function maskedPaths(defaults: string[], options: Pick<SecurityOptions, 'mask' | 'unmask'>): string[] {
  const kept = options.unmask.includes('ALL') ? [] : defaults.filter((p) => !options.unmask.includes(p));
  return [...kept, ...options.mask.filter((p) => !kept.includes(p))];
}
