/**
 * The subset of the OCI runtime specification (config.json, runtime-spec v1.2) that hutch reads.
 * Field names are the spec's, so `hutch runtime` can parse a bundle's config.json straight into
 * these types. Fields hutch does not act on yet are still typed where engines commonly set them.
 */
export interface Spec {
  ociVersion: string;
  process?: Process;
  /** Absent only for a program run inside a new user namespace without a root of its own. */
  root?: Root;
  hostname?: string;
  domainname?: string;
  mounts?: Mount[];
  hooks?: Hooks;
  annotations?: Record<string, string>;
  linux?: Linux;
}

export interface Root {
  path: string;
  readonly?: boolean;
}

export interface Process {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: User;
  args: string[];
  env?: string[];
  cwd: string;
  capabilities?: Capabilities;
  rlimits?: Rlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
}

export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  username?: string;
}

/** Capability names as the spec writes them: "CAP_CHOWN", ... */
export interface Capabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export interface Rlimit {
  /** "RLIMIT_NOFILE", ... */
  type: string;
  soft: number;
  hard: number;
}

export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface Hooks {
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

export type NamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';

export interface Namespace {
  type: NamespaceType;
  /** Join this namespace instead of creating one (not supported by hutch yet). */
  path?: string;
}

export type { IdMapping } from '../userns/idmap.js';
import type { IdMapping } from '../userns/idmap.js';

export interface Device {
  path: string;
  type: 'c' | 'b' | 'u' | 'p';
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface Seccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  listenerPath?: string;
  architectures?: string[];
  flags?: string[];
  syscalls?: {
    names: string[];
    action: string;
    errnoRet?: number;
    args?: { index: number; value: number; valueTwo?: number; op: string }[];
  }[];
}

export interface Linux {
  namespaces?: Namespace[];
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
  devices?: Device[];
  cgroupsPath?: string;
  resources?: Resources;
  rootfsPropagation?: string;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  seccomp?: Seccomp;
  sysctl?: Record<string, string>;
  mountLabel?: string;
}

export interface Resources {
  memory?: { limit?: number; reservation?: number; swap?: number };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
}

/** The namespace of `type` in the spec, if the container gets one. */
export function namespaceOf(spec: Spec, type: NamespaceType): Namespace | undefined {
  return spec.linux?.namespaces?.find((ns) => ns.type === type);
}
