import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseReference, splitReference, type ImageRef } from './ref.js';

/** What hutch uses of containers-registries.conf(5), version 2. */
export interface RegistriesConf {
  unqualifiedSearch: string[];
  registries: RegistryEntry[];
}
export interface RegistryEntry {
  prefix: string;
  location: string;
  insecure: boolean;
  blocked: boolean;
  mirrors: { location: string; insecure: boolean }[];
}

/** Where an image is fetched from: endpoints in order (mirrors first, then the registry). */
export interface Endpoint {
  host: string;
  /** The repository path at that endpoint (a `location` may rewrite the prefix). */
  repository: string;
  insecure: boolean;
}

/**
 * Reads the system file then the user's (podman's order: the user's file replaces the system's
 * when it exists). `files` lets tests point elsewhere; CONTAINERS_REGISTRIES_CONF overrides both.
 */
export function loadRegistriesConf(env: NodeJS.ProcessEnv = process.env, files?: string[]): RegistriesConf {
  const home = env.HOME || homedir();
  const candidates = files ?? (env.CONTAINERS_REGISTRIES_CONF ? [env.CONTAINERS_REGISTRIES_CONF]
    : [join(env.XDG_CONFIG_HOME || join(home, '.config'), 'containers', 'registries.conf'), '/etc/containers/registries.conf']);
  for (const file of candidates) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    return parseRegistriesConf(text);
  }
  return { unqualifiedSearch: [], registries: [] };
}

/** Parses the subset of TOML registries.conf uses: keys, strings, booleans, arrays, [[tables]]. */
export function parseRegistriesConf(text: string): RegistriesConf {
  const conf: RegistriesConf = { unqualifiedSearch: [], registries: [] };
  let table: 'top' | 'registry' | 'mirror' | 'other' = 'top';
  for (const statement of statements(text)) {
    if (statement.startsWith('[')) {
      const name = statement.replace(/^\[+|\]+$/g, '').trim();
      if (name === 'registry') {
        conf.registries.push({ prefix: '', location: '', insecure: false, blocked: false, mirrors: [] });
        table = 'registry';
      } else if (name === 'registry.mirror' && conf.registries.length > 0) {
        conf.registries.at(-1)!.mirrors.push({ location: '', insecure: false });
        table = 'mirror';
      } else table = 'other';
      continue;
    }
    const eq = statement.indexOf('=');
    if (eq < 0) continue;
    const key = statement.slice(0, eq).trim().replace(/^"|"$/g, '');
    const value = parseValue(statement.slice(eq + 1).trim());
    applyKey(conf, table, key, value);
  }
  for (const r of conf.registries) if (r.prefix === '') r.prefix = r.location;
  return conf;
}

/** The endpoints to try for `host/repository`, longest matching prefix first, as podman does. */
export function endpointsFor(conf: RegistriesConf, host: string, repository: string, insecureDefault = false): Endpoint[] {
  const full = `${host}/${repository}`;
  let best: RegistryEntry | undefined;
  for (const r of conf.registries) {
    if (!matches(r.prefix, host, full)) continue;
    if (best === undefined || r.prefix.length > best.prefix.length) best = r;
  }
  if (best === undefined) return [{ host, repository, insecure: insecureDefault }];
  // A wildcard prefix (*.example.com) matches the host; its location, if any, stands for the host.
  const matched = best.prefix.startsWith('*.') ? host : best.prefix;
  const rewrite = (location: string): Endpoint => {
    const target = `${location}${full.slice(matched.length)}`;
    const slash = target.indexOf('/');
    return { host: target.slice(0, slash), repository: target.slice(slash + 1), insecure: false };
  };
  const out = best.mirrors.filter((m) => m.location !== '').map((m) => ({ ...rewrite(m.location), insecure: m.insecure || insecureDefault }));
  out.push({ ...rewrite(best.location || matched), insecure: best.insecure || insecureDefault });
  return out;
}

/** True when the user's configuration blocks `host/repository`. */
export function isBlocked(conf: RegistriesConf, host: string, repository: string): boolean {
  const full = `${host}/${repository}`;
  return conf.registries.some((r) => r.blocked && matches(r.prefix, host, full));
}

/** registries.conf prefix matching: `host[/path]` by path components, or `*.domain` by host. */
function matches(prefix: string, host: string, full: string): boolean {
  if (prefix === '') return false;
  if (prefix.startsWith('*.')) return host.endsWith(prefix.slice(1));
  return full === prefix || full.startsWith(`${prefix}/`) || host === prefix;
}

type Value = string | boolean | string[] | undefined;

function applyKey(conf: RegistriesConf, table: string, key: string, value: Value): void {
  if (table === 'top' && key === 'unqualified-search-registries' && Array.isArray(value)) conf.unqualifiedSearch = value;
  const registry = conf.registries.at(-1);
  if (table === 'registry' && registry !== undefined) {
    if (key === 'prefix' && typeof value === 'string') registry.prefix = value;
    if (key === 'location' && typeof value === 'string') registry.location = value;
    if (key === 'insecure') registry.insecure = value === true;
    if (key === 'blocked') registry.blocked = value === true;
  }
  const mirror = registry?.mirrors.at(-1);
  if (table === 'mirror' && mirror !== undefined) {
    if (key === 'location' && typeof value === 'string') mirror.location = value;
    if (key === 'insecure') mirror.insecure = value === true;
  }
}

function parseValue(text: string): Value {
  if (text === 'true' || text === 'false') return text === 'true';
  if (text.startsWith('[')) return [...text.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'/g)].map((m) => m[1] ?? m[2] ?? '');
  const m = /^"((?:[^"\\]|\\.)*)"|^'([^']*)'/.exec(text);
  return m ? (m[1] ?? m[2]) : undefined;
}

/** Strips comments and joins multi-line arrays so each statement is one string. */
function statements(text: string): string[] {
  const out: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#(?=(?:[^"]*"[^"]*")*[^"]*$).*/, '').trim();
    if (line === '') continue;
    pending = pending === '' ? line : `${pending} ${line}`;
    const open = (pending.match(/\[/g) ?? []).length;
    const close = (pending.match(/\]/g) ?? []).length;
    if (open > close && pending.includes('=')) continue;
    out.push(pending);
    pending = '';
  }
  return out;
}

/** The references a name may mean: itself when qualified, else one per search registry. */
export function candidates(text: string, env: NodeJS.ProcessEnv = process.env): ImageRef[] {
  const bare = text.startsWith('docker://') ? text.slice(9) : text;
  if (splitReference(bare).host !== undefined) return [parseReference(bare)];
  const search = loadRegistriesConf(env).unqualifiedSearch;
  return search.length === 0 ? [parseReference(bare)] : search.map((registry) => parseReference(bare, registry));
}
