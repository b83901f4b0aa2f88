import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { ConfigFileError } from '../errors.js';
import { dropIns, readToml, TomlView, type Table } from '../config/toml.js';

/**
 * containers-registries.conf(5) and containers-registries.conf.d(5): the main file (the user's
 * when it exists, else /etc's), then the drop-ins in alphanumeric order (/etc's, then the
 * user's; only the user's when the user's main file is the one read), each overriding what it
 * sets: search registries, short-name mode and credential helpers replaced, [[registry]] tables
 * replaced by prefix, aliases merged name by name ("" erases one). Version 1's
 * [registries.search/insecure/block] is read in the main file. Short-name resolution: short-names.ts.
 */
export interface RegistriesConf {
  unqualifiedSearch: string[];
  registries: RegistryEntry[];
  /** Short name -> fully qualified repository (no tag), from [aliases] tables and the aliases file. */
  aliases: Map<string, string>;
  shortNameMode: ShortNameMode;
}
export type ShortNameMode = 'enforcing' | 'permissive' | 'disabled';
export interface RegistryEntry {
  prefix: string;
  location: string;
  insecure: boolean;
  blocked: boolean;
  mirrorByDigestOnly: boolean;
  mirrors: Mirror[];
}
export interface Mirror {
  location: string;
  insecure: boolean;
  pullFromMirror: 'all' | 'digest-only' | 'tag-only';
}

/** Where an image is fetched from: endpoints in order (mirrors first, then the registry). */
export interface Endpoint {
  host: string;
  /** The repository path at that endpoint (a `location` may rewrite the prefix). */
  repository: string;
  insecure: boolean;
}

export const emptyRegistriesConf = (): RegistriesConf => ({
  unqualifiedSearch: [],
  registries: [],
  aliases: new Map(),
  shortNameMode: 'permissive',
});

/** The user's directories per the XDG base directory spec (config and cache homes). */
export function userDirs(env: NodeJS.ProcessEnv): { config: string; cache: string } {
  const home = env.HOME || homedir();
  return { config: env.XDG_CONFIG_HOME || join(home, '.config'), cache: env.XDG_CACHE_HOME || join(home, '.cache') };
}

/**
 * The file hutch records a short name's resolution in (containers/image's, so podman and hutch
 * share it): the user's cache home for a rootless user.
 */
export function aliasesFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(userDirs(env).cache, 'containers', 'short-name-aliases.conf');
}

/**
 * Reads the configuration as podman would. `root` prefixes the system paths (tests); the user's
 * come from HOME/XDG_CONFIG_HOME; CONTAINERS_REGISTRIES_CONF names the one file to read instead
 * (the recorded aliases still apply, as in containers/image).
 */
export function loadRegistriesConf(env: NodeJS.ProcessEnv = process.env, root = ''): RegistriesConf {
  const conf = emptyRegistriesConf();
  if (env.CONTAINERS_REGISTRIES_CONF) applyFile(conf, env.CONTAINERS_REGISTRIES_CONF, true);
  else {
    const user = join(userDirs(env).config, 'containers');
    const userMain = join(user, 'registries.conf');
    const userFirst = existsSync(userMain);
    applyFile(conf, userFirst ? userMain : join(root, '/etc/containers/registries.conf'), true);
    const dirs = userFirst
      ? [join(user, 'registries.conf.d')]
      : [join(root, '/etc/containers/registries.conf.d'), join(user, 'registries.conf.d')];
    for (const dir of dirs) for (const file of dropIns(dir)) applyFile(conf, file, false);
  }
  // The recorded resolutions take precedence over the aliases of registries.conf files.
  const cache = readToml(aliasesFile(env));
  if (cache !== undefined) mergeAliases(conf, new TomlView(aliasesFile(env), cache));
  return conf;
}

/** Parses one registries.conf text alone (tests, and the checks of a single file). */
export function parseRegistriesConf(text: string, file = 'registries.conf'): RegistriesConf {
  const conf = emptyRegistriesConf();
  apply(conf, new TomlView(file, parse(text) as Table), true);
  return conf;
}

function applyFile(conf: RegistriesConf, file: string, main: boolean): void {
  const table = readToml(file);
  if (table !== undefined) apply(conf, new TomlView(file, table), main);
}

/** Lays one file over the configuration read so far (the override rules of registries.conf.d(5)). */
function apply(conf: RegistriesConf, t: TomlView, main: boolean): void {
  const v1 = t.sub('registries');
  const v2 = t.has('registry') || t.has('unqualified-search-registries');
  if (v1 !== undefined && (v2 || !main)) {
    throw new ConfigFileError(
      'CONF_REGISTRIES_V1',
      `${t.file}: the version 1 [registries.*] tables cannot be mixed with version 2 settings or used in a drop-in`,
      { hint: 'write unqualified-search-registries and [[registry]] tables instead (containers-registries.conf(5))' },
    );
  }
  if (v1 !== undefined) return applyV1(conf, v1);
  const search = t.strings('unqualified-search-registries');
  if (search !== undefined) conf.unqualifiedSearch = search;
  const mode = t.str('short-name-mode');
  if (mode !== undefined && mode !== '') {
    if (mode !== 'enforcing' && mode !== 'permissive' && mode !== 'disabled') {
      throw new ConfigFileError(
        'CONF_VALUE',
        `${t.file}: short-name-mode must be enforcing, permissive or disabled, not ${JSON.stringify(mode)}`,
        { hint: 'fix the value (containers-registries.conf(5))' },
      );
    }
    conf.shortNameMode = mode;
  }
  for (const r of t.subs('registry')) {
    const entry = registryEntry(r);
    const at = conf.registries.findIndex((x) => x.prefix === entry.prefix);
    if (at >= 0) conf.registries[at] = entry;
    else conf.registries.push(entry);
  }
  mergeAliases(conf, t);
}

function registryEntry(r: TomlView): RegistryEntry {
  const location = r.str('location') ?? '';
  const prefix = r.str('prefix') || location;
  if (prefix === '')
    throw new ConfigFileError('CONF_VALUE', `${r.file}: a [[registry]] table needs a location or a prefix`, {
      hint: 'add location = "host[/path]" (containers-registries.conf(5))',
    });
  const mirrorByDigestOnly = r.bool('mirror-by-digest-only') ?? false;
  const mirrors = r.subs('mirror').map((m): Mirror => {
    const pull = m.str('pull-from-mirror') || 'all';
    if (pull !== 'all' && pull !== 'digest-only' && pull !== 'tag-only')
      throw new ConfigFileError('CONF_VALUE', `${m.file}: pull-from-mirror must be all, digest-only or tag-only`, {
        hint: 'fix the value (containers-registries.conf(5))',
      });
    return { location: m.str('location') ?? '', insecure: m.bool('insecure') ?? false, pullFromMirror: pull };
  });
  return {
    prefix,
    location,
    insecure: r.bool('insecure') ?? false,
    blocked: r.bool('blocked') ?? false,
    mirrorByDigestOnly,
    mirrors,
  };
}

/** Version 1: search, insecure and blocked lists of registries. */
function applyV1(conf: RegistriesConf, v1: TomlView): void {
  const list = (k: string): string[] => v1.sub(k)?.strings('registries') ?? [];
  conf.unqualifiedSearch = list('search');
  const entry = (host: string): RegistryEntry => {
    let e = conf.registries.find((r) => r.prefix === host);
    if (e === undefined)
      conf.registries.push(
        (e = { prefix: host, location: host, insecure: false, blocked: false, mirrorByDigestOnly: false, mirrors: [] }),
      );
    return e;
  };
  for (const host of list('insecure')) entry(host).insecure = true;
  for (const host of list('block')) entry(host).blocked = true;
}

function mergeAliases(conf: RegistriesConf, t: TomlView): void {
  for (const [name, value] of t.stringMap('aliases') ?? []) {
    if (value === '') conf.aliases.delete(name);
    else conf.aliases.set(name, value);
  }
}

/**
 * The endpoints to try for `host/repository`, longest matching prefix first, as podman does;
 * `byDigest`: the reference names a digest (mirrors may be limited to one kind of pull).
 */
export function endpointsFor(
  conf: RegistriesConf,
  host: string,
  repository: string,
  insecureDefault = false,
  byDigest = false,
): Endpoint[] {
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
  const usable = (m: Mirror): boolean =>
    m.location !== '' &&
    (best.mirrorByDigestOnly
      ? byDigest
      : m.pullFromMirror === 'all' || (m.pullFromMirror === 'digest-only') === byDigest);
  const out = best.mirrors
    .filter(usable)
    .map((m) => ({ ...rewrite(m.location), insecure: m.insecure || insecureDefault }));
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
