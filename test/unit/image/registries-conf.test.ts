import { expect, test } from 'vitest';
import { endpointsFor, isBlocked, parseRegistriesConf } from '../../../src/image/registries-conf.js';

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
  expect(endpointsFor(conf, 'plain.local:5000', 'x')).toEqual([{ host: 'plain.local:5000', repository: 'x', insecure: true }]);
  expect(endpointsFor(conf, 'example.com', 'foo/app')).toEqual([{ host: 'internal.example.com', repository: 'bar/app', insecure: false }]);
  expect(endpointsFor(conf, 'other.org', 'x', true)).toEqual([{ host: 'other.org', repository: 'x', insecure: true }]);
});

test('wildcard prefixes match by host', () => {
  expect(endpointsFor(conf, 'reg.corp.example', 'team/app')).toEqual([{ host: 'reg.corp.example', repository: 'team/app', insecure: true }]);
  expect(endpointsFor(conf, 'corp.example.org', 'x')).toEqual([{ host: 'corp.example.org', repository: 'x', insecure: false }]);
});

test('blocked registries', () => {
  expect(isBlocked(conf, 'evil.example', 'x')).toBe(true);
  expect(isBlocked(conf, 'docker.io', 'x')).toBe(false);
});
