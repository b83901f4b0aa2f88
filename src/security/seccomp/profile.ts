import { release } from 'node:os';
import { UsageError } from '../../errors.js';
import type { Seccomp } from '../../runtime/spec.js';
import type { Arch } from './arch.js';

type Arg = NonNullable<NonNullable<Seccomp['syscalls']>[number]['args']>[number];

/** One rule of a containers-common (docker) profile: OCI's fields plus when the rule applies. */
export interface ProfileRule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: Arg[] | null;
  /** Applies only when every cap is held, the arch is listed, the kernel is at least minKernel. */
  includes?: { caps?: string[]; arches?: string[]; minKernel?: string };
  /** Does not apply when any cap is held or the arch is listed. */
  excludes?: { caps?: string[]; arches?: string[] };
  comment?: string;
}

/** A seccomp profile as `--security-opt seccomp=FILE` and containers-common's seccomp.json write it. */
export interface Profile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures?: string[] }[];
  flags?: string[];
  syscalls?: ProfileRule[];
}

/** What a profile's includes and excludes are decided against. */
export interface ProfileContext {
  /** The container's bounding set (CAP_* names). */
  caps: string[];
  arch: Arch;
  /** The running kernel, "6.1.0-..." (default: os.release()). */
  kernel?: string;
}

/** The profile as the OCI spec carries it: only the rules that apply here, archMap reduced to this arch. */
export function resolveProfile(profile: Profile, ctx: ProfileContext): Seccomp {
  const mapped = profile.archMap?.find((m) => m.architecture === ctx.arch.name);
  const architectures = mapped ? [mapped.architecture, ...(mapped.subArchitectures ?? [])] : profile.architectures;
  const syscalls = (profile.syscalls ?? [])
    .filter((r) => applies(r, ctx))
    .map((r) => ({
      names: r.names,
      action: r.action,
      ...(r.errnoRet === undefined ? {} : { errnoRet: r.errnoRet }),
      ...(r.args?.length ? { args: r.args } : {}),
    }));
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet === undefined ? {} : { defaultErrnoRet: profile.defaultErrnoRet }),
    ...(architectures === undefined ? {} : { architectures }),
    ...(profile.flags === undefined ? {} : { flags: profile.flags }),
    syscalls,
  };
}

function applies(rule: ProfileRule, ctx: ProfileContext): boolean {
  const { includes = {}, excludes = {} } = rule;
  if (includes.caps?.some((c) => !ctx.caps.includes(c))) return false;
  if (includes.arches !== undefined && includes.arches.length > 0 && !includes.arches.includes(ctx.arch.goName))
    return false;
  if (includes.minKernel && !atLeast(ctx.kernel ?? release(), includes.minKernel)) return false;
  if (excludes.caps?.some((c) => ctx.caps.includes(c))) return false;
  if (excludes.arches?.includes(ctx.arch.goName)) return false;
  return true;
}

/**
 * The kernels that resolve `profile` as `kernel` does: from the highest minKernel at or below it
 * ("0.0" when none) up to, not including, the lowest above it (none: no bound). Only major.minor
 * counts, as in atLeast. The C front of `run` (native/run-front-conf.c) uses a filter the build
 * compiled on any kernel of its span: a kernel upgrade within it changes nothing of the profile.
 */
export function kernelSpan(profile: Profile, kernel: string = release()): { from: string; below?: string } {
  const mins = [...new Set((profile.syscalls ?? []).flatMap((r) => r.includes?.minKernel ?? []))].map(majorMinor);
  const key = ([a, b]: [number, number]) => a * 1e6 + b;
  const reached = mins.filter(([a, b]) => atLeast(kernel, `${a}.${b}`)).sort((x, y) => key(y) - key(x));
  const ahead = mins.filter(([a, b]) => !atLeast(kernel, `${a}.${b}`)).sort((x, y) => key(x) - key(y));
  const from = reached[0] ?? [0, 0];
  return { from: from.join('.'), ...(ahead[0] === undefined ? {} : { below: ahead[0].join('.') }) };
}

function majorMinor(version: string): [number, number] {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return [a, b];
}

function atLeast(kernel: string, min: string): boolean {
  const [a = 0, b = 0] = kernel.split(/[.-]/).map(Number);
  const [c = 0, d = 0] = min.split('.').map(Number);
  return a > c || (a === c && b >= d);
}

/** Reads a profile (docker's format, which includes OCI's `linux.seccomp`); `source` names it in errors. */
export function parseProfile(text: string, source: string): Profile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      'SECCOMP_PROFILE_INVALID',
      `cannot read the seccomp profile ${source}: not JSON (${(error as Error).message})`,
      { hint: "give a profile in containers-common's seccomp.json format" },
    );
  }
  const bad = (what: string): never => {
    throw new UsageError('SECCOMP_PROFILE_INVALID', `cannot read the seccomp profile ${source}: ${what}`, {
      hint: "give a profile in containers-common's seccomp.json format",
    });
  };
  if (typeof value !== 'object' || value === null) return bad('not an object');
  const p = value as Record<string, unknown>;
  if (typeof p.defaultAction !== 'string') bad('defaultAction: missing');
  if (p.syscalls !== undefined && p.syscalls !== null && !Array.isArray(p.syscalls)) bad('syscalls: not a list');
  const syscalls = ((p.syscalls ?? []) as Record<string, unknown>[]).map((r, i) => {
    // docker's older format names one syscall per rule ("name").
    const names = Array.isArray(r?.names)
      ? r.names
      : typeof r?.name === 'string'
        ? [r.name]
        : bad(`syscalls[${i}].names: missing`);
    if (!names.every((n: unknown) => typeof n === 'string') || typeof r.action !== 'string')
      bad(`syscalls[${i}]: names must be strings and action a string`);
    if (r.args != null && !Array.isArray(r.args)) bad(`syscalls[${i}].args: not a list`);
    return { ...r, names } as unknown as ProfileRule;
  });
  return { ...(p as unknown as Profile), syscalls };
}
