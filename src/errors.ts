/**
 * One error hierarchy for all of hutch. Every error carries a stable `code` (listed in
 * docs/errors.md, never reused), a lower-case message naming the thing, the step and the cause,
 * and an optional hint saying what to do.
 */
import type { ErrorCode } from './error-codes.js';

export class HutchError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  /** Exit status the CLI uses when this error ends a command (125: hutch's own failure). */
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown; exitCode?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 125;
  }
}

/** The user asked for something malformed or impossible: a bad flag, a bad reference. */
export class UsageError extends HutchError {}
export class RegistryError extends HutchError {}
export class StoreError extends HutchError {}
export class UserNsError extends HutchError {}
export class CgroupError extends HutchError {}
export class NetworkError extends HutchError {}
export class FuseError extends HutchError {}
export class RuntimeError extends HutchError {}

/** The helper (native/hutch-nsexec) failed at a named step with an errno. */
export class HelperError extends HutchError {
  readonly step: string;
  readonly errno: number;
  /** What the failed record did ("map gids with newgidmap") and the words the step sent with it (a tool's stderr). */
  readonly what: string | undefined;
  readonly detail: string | undefined;
  constructor(
    step: string,
    errno: number,
    message: string,
    options: { hint?: string; exitCode?: number; what?: string; detail?: string } = {},
  ) {
    super(`HELPER_${step.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`, message, options);
    this.step = step;
    this.errno = errno;
    this.what = options.what;
    this.detail = options.detail;
  }
}

/** A failed system call, thrown by src/sys/libc.ts; `code` is the errno name (ENOENT, ...). */
export class SysError extends HutchError {
  readonly syscall: string;
  readonly errno: number;
  readonly path: string | undefined;
  constructor(syscall: string, errno: number, errnoName: string, path?: string) {
    super(errnoName as ErrorCode, `${syscall}${path === undefined ? '' : ` ${path}`}: ${errnoName}`);
    this.syscall = syscall;
    this.errno = errno;
    this.path = path;
  }
}

/** Something that must not happen happened: a bug in hutch. The CLI prints its stack. */
export class BugError extends HutchError {
  constructor(message: string, cause?: unknown) {
    super('BUG', message, { cause, hint: 'this is a bug in hutch; please report it with the output above' });
  }
}

/** The command inside the container could not be run (126) or was not found (127). */
export class CommandError extends HutchError {}
/** A `hutch build` step failed (its command, its sources). */
export class BuildError extends HutchError {}
/** A configuration file podman users share with hutch (registries.conf, containers.conf, storage.conf). */
export class ConfigFileError extends HutchError {}

/** Pulls a short reason out of anything thrown, for "…: <cause>" messages. */
export function describeCause(error: unknown): string {
  if (error instanceof HutchError) return error.message;
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code !== undefined && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
