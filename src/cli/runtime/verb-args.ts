/**
 * What each `hutch runtime` verb is given, parsed: the clipanion classes (base.ts and the verb
 * files) have these fields, and so does the runtime entry's own parse (syntax.ts), so both call
 * the same verb bodies (light-verbs.ts, bundle-verbs.ts).
 */
export interface GlobalArgs {
  rootDir?: string;
  log?: string;
  logFormat: string;
  debug: boolean;
  systemdCgroup: boolean;
  rootless?: string;
}

export interface IdArgs extends GlobalArgs {
  id: string;
}

export interface KillArgs extends IdArgs {
  all: boolean;
  signal?: string;
}

export interface DeleteArgs extends IdArgs {
  force: boolean;
}

export interface ListArgs extends GlobalArgs {
  format: string;
  quiet: boolean;
}

export interface PsArgs extends IdArgs {
  format: string;
}

export interface BundleArgs extends IdArgs {
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds: number;
  noPivot: boolean;
  noNewKeyring: boolean;
}

export interface RunArgs extends BundleArgs {
  detach: boolean;
}

export interface ExecArgs extends IdArgs {
  processFile?: string;
  detach: boolean;
  pidFile?: string;
  consoleSocket?: string;
  tty: boolean;
  cwd?: string;
  env: string[];
  user?: string;
  cap: string[];
  noNewPrivs: boolean;
  preserveFds: number;
  processLabel?: string;
  apparmor?: string;
  args: string[];
}

/** Where a verb prints: process.stdout, or clipanion's context.stdout. */
export interface TextOut {
  write(text: string): unknown;
}
