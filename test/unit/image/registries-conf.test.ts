import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  endpointsFor,
  isBlocked,
  loadRegistriesConf,
  parseRegistriesConf,
} from '../../../src/image/registries-conf.js';

const conf = parseRegistriesConf(`
# comment
unqualified-search-registries = ["registry.example.org",
  "docker.io"]  # trailing comment

[[registry]]
prefix = "docker.io"
location = "docker.io"

[[registry.mirror]]
location = "mirror.local:5000"
insecure = true

[[registry]]
location = "plain.local:5000"
insecure = true

[[registry]]
prefix = "example.com/foo"
location = "internal.example.com/bar"

[[registry]]
location = "evil.example"
blocked = true

[[registry]]
prefix = "*.corp.example"
insecure = true
`);

test('search registries and registry tables', () => {
  expect(conf.unqualifiedSearch).toEqual(['registry.example.org', 'docker.io']);
  expect(conf.registries).toHaveLength(5);
});

test('mirrors come first, then the registry itself', () => {
  expect(endpointsFor(conf, 'docker.io', 'library/alpine')).toEqual([
    { host: 'mirror.local:5000', repository: 'library/alpine', insecure: true },
    { host: 'docker.io', repository: 'library/alpine', insecure: false },
  ]);
});

test('insecure registries and prefix rewriting', () => {
  expect(endpointsFor(conf, 'plain.local:5000', 'x')).toEqual([
    { host: 'plain.local:5000', repository: 'x', insecure: true },
  ]);
  expect(endpointsFor(conf, 'example.com', 'foo/app')).toEqual([
    { host: 'internal.example.com', repository: 'bar/app', insecure: false },
  ]);
  expect(endpointsFor(conf, 'other.org', 'x', true)).toEqual([{ host: 'other.org', repository: 'x', insecure: true }]);
});

test('wildcard prefixes match by host', () => {
  expect(endpointsFor(conf, 'reg.corp.example', 'team/app')).toEqual([
    { host: 'reg.corp.example', repository: 'team/app', insecure: true },
  ]);
  expect(endpointsFor(conf, 'corp.example.org', 'x')).toEqual([
    { host: 'corp.example.org', repository: 'x', insecure: false },
  ]);
});

test('blocked registries', () => {
  expect(isBlocked(conf, 'evil.example', 'x')).toBe(true);
  expect(isBlocked(conf, 'docker.io', 'x')).toBe(false);
});

describe('the files podman reads, in its order (a root and HOME of files, no mocks)', () => {
  let root: string;
  const put = (path: string, text: string): void => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  const env = (): NodeJS.ProcessEnv => ({ HOME: join(root, 'home') });
  beforeEach(() => void (root = mkdtempSync(join(tmpdir(), 'hutch-regconf-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  test('drop-ins override by key, replace [[registry]] by prefix, merge and erase aliases', () => {
    put(
      'etc/containers/registries.conf',
      `unqualified-search-registries = ['a.example', "b.example"]\nshort-name-mode = "enforcing"\n[[registry]]\nlocation = "a.example"\ninsecure = true\n[aliases]\n"app" = "a.example/team/app"\n"gone" = "a.example/gone"\n`,
    );
    put(
      'etc/containers/registries.conf.d/10-first.conf',
      `[[registry]]\nprefix = "a.example"\nlocation = "mirror.example/a"\n[aliases]\ngone = ""\n`,
    );
    put('etc/containers/registries.conf.d/20-second.conf', `unqualified-search-registries = ["c.example"]\n`);
    put('etc/containers/registries.conf.d/ignored.txt', `not = toml = at all`);
    put(
      'home/.config/containers/registries.conf.d/50-user.conf',
      `short-name-mode = "disabled"\n[aliases]\napp = "c.example/app"\n`,
    );
    const conf = loadRegistriesConf(env(), root);
    expect(conf.unqualifiedSearch).toEqual(['c.example']);
    expect(conf.shortNameMode).toBe('disabled');
    expect(conf.registries).toEqual([
      {
        prefix: 'a.example',
        location: 'mirror.example/a',
        insecure: false,
        blocked: false,
        mirrorByDigestOnly: false,
        mirrors: [],
      },
    ]);
    expect([...conf.aliases]).toEqual([['app', 'c.example/app']]);
  });

  test("the user's main file replaces the system's and its drop-ins; the aliases file wins over both", () => {
    put('etc/containers/registries.conf', `unqualified-search-registries = ["sys.example"]\n`);
    put('etc/containers/registries.conf.d/x.conf', `[aliases]\nsys = "sys.example/sys"\n`);
    put(
      'home/.config/containers/registries.conf',
      `unqualified-search-registries = ["user.example"]\n[aliases]\napp = "user.example/app"\n`,
    );
    put('home/.cache/containers/short-name-aliases.conf', `[aliases]\napp = "cache.example/app"\n`);
    const conf = loadRegistriesConf(env(), root);
    expect(conf.unqualifiedSearch).toEqual(['user.example']);
    expect([...conf.aliases]).toEqual([['app', 'cache.example/app']]);
    const only = loadRegistriesConf(
      { ...env(), CONTAINERS_REGISTRIES_CONF: join(root, 'etc/containers/registries.conf') },
      root,
    );
    expect([only.unqualifiedSearch, [...only.aliases]]).toEqual([['sys.example'], [['app', 'cache.example/app']]]);
  });

  test('version 1 tables in the main file; refused beside version 2 keys or in a drop-in', () => {
    put(
      'etc/containers/registries.conf',
      `[registries.search]\nregistries = ['one.example', 'two.example']\n[registries.insecure]\nregistries = ['two.example']\n[registries.block]\nregistries = ['bad.example']\n`,
    );
    const conf = loadRegistriesConf(env(), root);
    expect(conf.unqualifiedSearch).toEqual(['one.example', 'two.example']);
    expect(endpointsFor(conf, 'two.example', 'x')).toEqual([{ host: 'two.example', repository: 'x', insecure: true }]);
    expect(isBlocked(conf, 'bad.example', 'x')).toBe(true);
    put('etc/containers/registries.conf.d/v1.conf', `[registries.search]\nregistries = ['x']\n`);
    expect(() => loadRegistriesConf(env(), root)).toThrow(expect.objectContaining({ code: 'CONF_REGISTRIES_V1' }));
  });

  test('TOML in full (escapes, inline tables, dotted keys) and errors that name the file and line', () => {
    put(
      'etc/containers/registries.conf',
      `aliases.esc = "q.example/tab\\u0041"\nregistry = [{ location = "r.example", mirror = [{ location = "m.example", pull-from-mirror = "digest-only" }] }]\n`,
    );
    const conf = loadRegistriesConf(env(), root);
    expect(conf.aliases.get('esc')).toBe('q.example/tabA');
    expect(endpointsFor(conf, 'r.example', 'x', false, true).map((e) => e.host)).toEqual(['m.example', 'r.example']);
    expect(endpointsFor(conf, 'r.example', 'x', false, false).map((e) => e.host)).toEqual(['r.example']);
    put('etc/containers/registries.conf', `unqualified-search-registries = ["a"\n`);
    expect(() => loadRegistriesConf(env(), root)).toThrow(
      /^cannot parse \S+\/etc\/containers\/registries.conf at line \d+/,
    );
    put('etc/containers/registries.conf', `unqualified-search-registries = "a"\n`);
    expect(() => loadRegistriesConf(env(), root)).toThrow(
      expect.objectContaining({
        code: 'CONF_VALUE',
        message: expect.stringMatching(/unqualified-search-registries must be an array of strings/),
      }),
    );
  });

  test('mirror-by-digest-only keeps tag pulls on the registry itself', () => {
    put(
      'etc/containers/registries.conf',
      `[[registry]]\nlocation = "r.example"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "m.example"\n`,
    );
    const conf = loadRegistriesConf(env(), root);
    expect(endpointsFor(conf, 'r.example', 'x').map((e) => e.host)).toEqual(['r.example']);
    expect(endpointsFor(conf, 'r.example', 'x', false, true).map((e) => e.host)).toEqual(['m.example', 'r.example']);
  });
});
