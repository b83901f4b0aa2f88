import { posix } from 'node:path';
import { UsageError } from '../errors.js';
import type { Spec } from './spec.js';

const NAMESPACE_TYPES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'];
const HOOK_KINDS = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];

/**
 * Parses a bundle's config.json into a Spec, refusing what the runtime spec forbids or hutch
 * cannot do, with an error naming the field (`linux.namespaces[2].type: ...`). Pure.
 */
export function parseSpec(text: string, file = 'config.json'): Spec {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw invalid(file, '', `not valid JSON (${(error as Error).message})`);
  }
  const spec = obj(raw, file, '');
  checkVersion(str(spec.ociVersion, file, 'ociVersion'), file);
  const root = spec.root === undefined ? undefined : obj(spec.root, file, 'root');
  if (root === undefined) throw invalid(file, 'root', 'missing: a container needs a root filesystem');
  str(root.path, file, 'root.path');
  checkProcess(spec.process, file);
  checkMounts(spec.mounts, file);
  checkHooks(spec.hooks, file);
  checkLinux(spec.linux, file);
  return spec as unknown as Spec;
}

/** The runtime-spec versions hutch implements: 1.0.x to 1.2.x, pre-releases and builds included (podman writes 1.0.2-dev). */
function checkVersion(version: string, file: string): void {
  if (!/^1\.[0-2]\.\d+(-[\w.-]+)?(\+[\w.-]+)?$/.test(version))
    throw invalid(
      file,
      'ociVersion',
      `unsupported version ${JSON.stringify(version)} (hutch implements runtime-spec 1.0.0 to 1.2.x)`,
    );
}

function checkProcess(value: unknown, file: string): void {
  if (value === undefined) throw invalid(file, 'process', 'missing: `create` needs a process to run');
  const p = obj(value, file, 'process');
  const args = arr(p.args, file, 'process.args');
  if (args.length === 0) throw invalid(file, 'process.args', 'empty: give the command to run');
  args.forEach((a, i) => str(a, file, `process.args[${i}]`));
  if (!posix.isAbsolute(str(p.cwd, file, 'process.cwd')))
    throw invalid(file, 'process.cwd', `${String(p.cwd)} is not an absolute path`);
  const user = obj(p.user, file, 'process.user');
  uint(user.uid, file, 'process.user.uid');
  uint(user.gid, file, 'process.user.gid');
  if (p.env !== undefined) arr(p.env, file, 'process.env').forEach((e, i) => str(e, file, `process.env[${i}]`));
}

function checkMounts(value: unknown, file: string): void {
  if (value === undefined) return;
  arr(value, file, 'mounts').forEach((m, i) => {
    const mount = obj(m, file, `mounts[${i}]`);
    if (!posix.isAbsolute(str(mount.destination, file, `mounts[${i}].destination`)))
      throw invalid(file, `mounts[${i}].destination`, `${String(mount.destination)} is not an absolute path`);
  });
}

function checkHooks(value: unknown, file: string): void {
  if (value === undefined) return;
  const hooks = obj(value, file, 'hooks');
  for (const [kind, list] of Object.entries(hooks)) {
    if (!HOOK_KINDS.includes(kind))
      throw invalid(file, `hooks.${kind}`, `unknown hook kind (use ${HOOK_KINDS.join(', ')})`);
    arr(list, file, `hooks.${kind}`).forEach((h, i) => {
      const path = str(obj(h, file, `hooks.${kind}[${i}]`).path, file, `hooks.${kind}[${i}].path`);
      if (!posix.isAbsolute(path)) throw invalid(file, `hooks.${kind}[${i}].path`, `${path} is not an absolute path`);
    });
  }
}

function checkLinux(value: unknown, file: string): void {
  if (value === undefined) return;
  const linux = obj(value, file, 'linux');
  const seen = new Set<string>();
  arr(linux.namespaces ?? [], file, 'linux.namespaces').forEach((n, i) => {
    const ns = obj(n, file, `linux.namespaces[${i}]`);
    const type = str(ns.type, file, `linux.namespaces[${i}].type`);
    if (!NAMESPACE_TYPES.includes(type))
      throw invalid(
        file,
        `linux.namespaces[${i}].type`,
        `unknown namespace type ${type} (use ${NAMESPACE_TYPES.join(', ')})`,
      );
    if (seen.has(type)) throw invalid(file, `linux.namespaces[${i}].type`, `namespace type ${type} given twice`);
    seen.add(type);
    if (ns.path !== undefined && !posix.isAbsolute(str(ns.path, file, `linux.namespaces[${i}].path`)))
      throw invalid(file, `linux.namespaces[${i}].path`, 'not an absolute path');
  });
  for (const key of ['uidMappings', 'gidMappings']) {
    if (linux[key] === undefined) continue;
    arr(linux[key], file, `linux.${key}`).forEach((m, i) => {
      const map = obj(m, file, `linux.${key}[${i}]`);
      for (const field of ['containerID', 'hostID', 'size']) uint(map[field], file, `linux.${key}[${i}].${field}`);
      if (map.size === 0) throw invalid(file, `linux.${key}[${i}].size`, 'must be at least 1');
    });
  }
  if ((linux.uidMappings !== undefined || linux.gidMappings !== undefined) && !seen.has('user')) {
    throw invalid(file, 'linux.uidMappings', 'id mappings need a user namespace in linux.namespaces');
  }
}

type Json = Record<string, unknown>;

function obj(v: unknown, file: string, field: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw invalid(file, field, v === undefined ? 'missing' : 'must be an object');
  return v as Json;
}
function arr(v: unknown, file: string, field: string): unknown[] {
  if (!Array.isArray(v)) throw invalid(file, field, v === undefined ? 'missing' : 'must be an array');
  return v;
}
function str(v: unknown, file: string, field: string): string {
  if (typeof v !== 'string') throw invalid(file, field, v === undefined ? 'missing' : 'must be a string');
  return v;
}
function uint(v: unknown, file: string, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff)
    throw invalid(
      file,
      field,
      v === undefined ? 'missing' : `${JSON.stringify(v)} is not an id (a whole number from 0 to 4294967295)`,
    );
  return v;
}

function invalid(file: string, field: string, what: string): UsageError {
  return new UsageError('SPEC_INVALID', `invalid ${file}: ${field === '' ? '' : field + ': '}${what}`, {
    hint: "fix the bundle's config.json (runtime-spec config.md); `hutch runtime spec --rootless` writes a valid one",
  });
}
