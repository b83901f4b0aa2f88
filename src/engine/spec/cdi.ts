import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join } from 'node:path';
import type * as Yaml from 'yaml';
import { UsageError } from '../../errors.js';
import type { Hook, Hooks, Mount } from '../../runtime/spec.js';
import { deviceMount } from './devices.js';

/**
 * CDI, the Container Device Interface (github.com/cncf-tags/container-device-interface): JSON or
 * YAML specs a vendor's tool writes to /etc/cdi or /var/run/cdi, naming devices
 * `vendor.com/class=name` and what a container using one gets (containerEdits). hutch applies env,
 * deviceNodes (bound as --device is), bind mounts and hooks (the OCI spec's, run as both faces run
 * them: engine/launch/hooks.ts); other edits are refused rather than skipped. A spec is trusted as
 * in podman: the admin wrote it, and its hooks are host programs run with the user's rights.
 */

/** podman's defaults; a later folder's device of the same name wins. */
export const CDI_SPEC_DIRS = ['/etc/cdi', '/var/run/cdi'];

const CDI_VERSIONS = ['0.3.0', '0.4.0', '0.5.0', '0.6.0', '0.7.0', '0.8.0', '1.0.0'];
const EDIT_KEYS = ['env', 'deviceNodes', 'mounts', 'hooks'];
const HOOK_NAMES = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;

/** What devices add to a container: KEY=VALUE entries, mounts and OCI hooks (none when absent). */
export interface DeviceEdits {
  env: string[];
  mounts: Mount[];
  hooks?: Hooks;
}

interface CdiHook extends Hook {
  hookName: (typeof HOOK_NAMES)[number];
}

interface ContainerEdits {
  env?: string[];
  deviceNodes?: { path: string; hostPath?: string; permissions?: string }[];
  mounts?: { hostPath: string; containerPath: string; type?: string; options?: string[] }[];
  hooks?: CdiHook[];
}

/** One spec file, checked. */
export interface CdiSpec {
  file: string;
  kind: string;
  edits: ContainerEdits;
  devices: Map<string, ContainerEdits>;
}

/** `vendor.com/class=name`: a CDI device, not a host path (podman tells them apart the same way). */
export function isCdiDevice(value: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*=[A-Za-z0-9_.:-]+$/.test(value);
}

/** Every *.json and *.yaml spec of the folders (CDI's two kinds), in order; a missing folder has none. */
export function readCdiSpecs(dirs: string[]): CdiSpec[] {
  return dirs.flatMap((dir) => specFiles(dir).map((file) => parseCdiSpec(file, readSpecFile(file))));
}

function specFiles(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((name) => name.endsWith('.json') || name.endsWith('.yaml'))
      .sort()
      .map((name) => join(dir, name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw invalidSpec(dir, `cannot list it: ${(error as NodeJS.ErrnoException).code}`);
  }
}

function readSpecFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw invalidSpec(file, `cannot read it: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  if (file.endsWith('.yaml')) return parseYaml(file, text);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw invalidSpec(file, `not JSON: ${(error as Error).message}`);
  }
}

/**
 * One YAML document (nvidia-ctk's default output), strictly: a repeated key, a second document
 * or an alias bomb is an error. The parser (npm's yaml, outside the bundle: scripts/bundle.mjs) is
 * loaded only here: it costs a run that reads no YAML spec several times smol-toml's load time.
 */
function parseYaml(file: string, text: string): unknown {
  const { parse } = createRequire(import.meta.url)('yaml') as typeof Yaml;
  try {
    return parse(text, { strict: true, uniqueKeys: true, maxAliasCount: 100, prettyErrors: false }) as unknown;
  } catch (error) {
    throw invalidSpec(file, `not YAML: ${(error as Error).message.split('\n')[0]}`);
  }
}

/** Checks a parsed spec (the parts hutch uses, strictly: a spec is input from outside). */
export function parseCdiSpec(file: string, raw: unknown): CdiSpec {
  const spec = record(file, 'the spec', raw);
  if (typeof spec.cdiVersion !== 'string' || !CDI_VERSIONS.includes(spec.cdiVersion))
    throw invalidSpec(
      file,
      `cdiVersion ${JSON.stringify(spec.cdiVersion)} is not one hutch knows (${CDI_VERSIONS.join(', ')})`,
    );
  if (typeof spec.kind !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(spec.kind))
    throw invalidSpec(file, `kind ${JSON.stringify(spec.kind)} is not vendor.com/class`);
  if (!Array.isArray(spec.devices) || spec.devices.length === 0)
    throw invalidSpec(file, 'devices must be a non-empty list');
  const devices = new Map<string, ContainerEdits>();
  spec.devices.forEach((d, i) => {
    const device = record(file, `devices[${i}]`, d);
    if (typeof device.name !== 'string' || !/^[A-Za-z0-9_.:-]+$/.test(device.name) || device.name === 'all')
      throw invalidSpec(file, `devices[${i}].name ${JSON.stringify(device.name)} is not a device name`);
    devices.set(device.name, checkEdits(file, `devices[${i}].containerEdits`, device.containerEdits));
  });
  const edits = spec.containerEdits === undefined ? {} : checkEdits(file, 'containerEdits', spec.containerEdits);
  return { file, kind: spec.kind, edits, devices };
}

function checkEdits(file: string, where: string, raw: unknown): ContainerEdits {
  const edits = record(file, where, raw);
  for (const key of Object.keys(edits))
    if (!EDIT_KEYS.includes(key)) throw invalidSpec(file, `${where}.${key}: hutch does not apply this edit`);
  const list = (key: string): Record<string, unknown>[] =>
    edits[key] === undefined
      ? []
      : array(file, `${where}.${key}`, edits[key]).map((v, i) => record(file, `${where}.${key}[${i}]`, v));
  const env = edits.env === undefined ? [] : array(file, `${where}.env`, edits.env);
  if (!env.every((e) => typeof e === 'string' && e.indexOf('=') > 0))
    throw invalidSpec(file, `${where}.env must be KEY=VALUE strings`);
  list('deviceNodes').forEach((n, i) => {
    paths(file, `${where}.deviceNodes[${i}]`, n, ['path'], ['hostPath']);
    if (n.permissions !== undefined && (typeof n.permissions !== 'string' || !/^[rwm]+$/.test(n.permissions)))
      throw invalidSpec(file, `${where}.deviceNodes[${i}].permissions must be made of r, w and m`);
  });
  list('mounts').forEach((m, i) => {
    paths(file, `${where}.mounts[${i}]`, m, ['hostPath', 'containerPath'], []);
    if (m.type !== undefined && m.type !== 'bind')
      throw invalidSpec(file, `${where}.mounts[${i}].type ${String(m.type)}: hutch applies bind mounts only`);
    if (
      m.options !== undefined &&
      !array(file, `${where}.mounts[${i}].options`, m.options).every((o) => typeof o === 'string')
    )
      throw invalidSpec(file, `${where}.mounts[${i}].options must be strings`);
  });
  list('hooks').forEach((h, i) => checkHook(file, `${where}.hooks[${i}]`, h));
  return edits as ContainerEdits;
}

/** A hook as the OCI spec has it, named by its kind: a host program (absolute), strings, a timeout. */
function checkHook(file: string, where: string, hook: Record<string, unknown>): void {
  if (!HOOK_NAMES.includes(hook.hookName as CdiHook['hookName']))
    throw invalidSpec(
      file,
      `${where}.hookName ${JSON.stringify(hook.hookName)} is not one of ${HOOK_NAMES.join(', ')}`,
    );
  paths(file, where, hook, ['path'], []);
  for (const key of ['args', 'env'])
    if (hook[key] !== undefined && !array(file, `${where}.${key}`, hook[key]).every((v) => typeof v === 'string'))
      throw invalidSpec(file, `${where}.${key} must be strings`);
  if (hook.env !== undefined && !(hook.env as string[]).every((e) => e.indexOf('=') > 0))
    throw invalidSpec(file, `${where}.env must be KEY=VALUE strings`);
  if (hook.timeout !== undefined && (!Number.isInteger(hook.timeout) || (hook.timeout as number) <= 0))
    throw invalidSpec(file, `${where}.timeout must be a positive number of seconds`);
}

function paths(
  file: string,
  where: string,
  value: Record<string, unknown>,
  required: string[],
  optional: string[],
): void {
  for (const key of [...required, ...optional.filter((k) => value[k] !== undefined)])
    if (typeof value[key] !== 'string' || !isAbsolute(value[key]))
      throw invalidSpec(file, `${where}.${key} must be an absolute path`);
}

function record(file: string, where: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidSpec(file, `${where} must be an object`);
  return value as Record<string, unknown>;
}

function array(file: string, where: string, value: unknown): unknown[] {
  if (!Array.isArray(value)) throw invalidSpec(file, `${where} must be a list`);
  return value;
}

function invalidSpec(file: string, why: string): UsageError {
  return new UsageError('CDI_SPEC_INVALID', `invalid CDI spec ${file}: ${why}`, {
    hint: "fix or remove the file (its vendor's tool writes it, e.g. nvidia-ctk cdi generate)",
  });
}

/** The edits of the named CDI devices (`kind=name` or `kind=all`), each spec's own edits once. */
export function cdiEdits(names: string[], specs: CdiSpec[]): DeviceEdits {
  const known = new Map<string, { spec: CdiSpec; edits: ContainerEdits }>();
  for (const spec of specs)
    for (const [name, edits] of spec.devices) known.set(`${spec.kind}=${name}`, { spec, edits });
  const chosen = new Map<string, { spec: CdiSpec; edits: ContainerEdits }>();
  for (const name of names) {
    const [kind = '', device = ''] = name.split('=');
    const found =
      device === 'all' ? [...known].filter(([n]) => n.startsWith(`${kind}=`)) : [...known].filter(([n]) => n === name);
    if (found.length === 0) throw unknownDevice(name, [...known.keys()]);
    for (const [n, d] of found) chosen.set(n, d);
  }
  const used = [...new Set([...chosen.values()].map((d) => d.spec))];
  const all = [...used.map((s) => ({ spec: s, edits: s.edits })), ...chosen.values()];
  const hooks = all.flatMap((d) => d.edits.hooks ?? []);
  return {
    env: all.flatMap((d) => d.edits.env ?? []),
    mounts: all.flatMap((d) => applyEdits(d.edits)),
    ...(hooks.length === 0 ? {} : { hooks: ociHooks(hooks) }),
  };
}

/** CDI's list of named hooks as the OCI spec's hooks by kind, each kind in the specs' order. */
function ociHooks(hooks: CdiHook[]): Hooks {
  const out: Hooks = {};
  for (const { hookName, ...hook } of hooks) (out[hookName] ??= []).push(hook);
  return out;
}

function unknownDevice(name: string, known: string[]): UsageError {
  return new UsageError(
    'CDI_DEVICE_UNKNOWN',
    `cannot add --device ${name}: no CDI spec names it (known: ${known.length > 0 ? known.join(', ') : 'none'})`,
    {
      hint: "generate the vendor's spec into /etc/cdi or /var/run/cdi (e.g. nvidia-ctk cdi generate), or give --cdi-spec-dir",
    },
  );
}

function applyEdits(edits: ContainerEdits): Mount[] {
  const nodes = (edits.deviceNodes ?? []).map((n) =>
    deviceMount(`${n.hostPath ?? n.path}:${n.path}${n.permissions === undefined ? '' : `:${n.permissions}`}`),
  );
  const mounts = (edits.mounts ?? []).map((m): Mount => {
    const options = m.options ?? [];
    const bind = options.includes('bind') || options.includes('rbind') ? [] : ['rbind'];
    return {
      destination: m.containerPath,
      type: 'bind',
      source: m.hostPath,
      options: [...bind, 'nosuid', ...options.filter((o) => o !== 'nosuid')],
    };
  });
  return [...nodes, ...mounts];
}
