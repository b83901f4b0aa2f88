import { afterEach, beforeEach, expect, test } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadContainersConf } from '../../../src/config/containers-conf.js';

// System files under a root, the user's under HOME inside it: the reader's real file access.
let root: string;
const put = (path: string, text: string): string => {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
  return join(root, path);
};
const env = (more: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ HOME: join(root, 'home'), ...more });
beforeEach(() => void (root = mkdtempSync(join(tmpdir(), 'hutch-cconf-'))));
afterEach(() => rmSync(root, { recursive: true, force: true }));

test("system (/usr/share, /etc, drop-ins, rootless), then the user's, each overriding the keys it sets", () => {
  put(
    'usr/share/containers/containers.conf',
    '[containers]\ndefault_capabilities = ["CHOWN", "KILL"]\nenv = ["A=share"]\ndns_servers = ["192.0.2.1"]\n',
  );
  put(
    'etc/containers/containers.conf',
    '[containers]\nenv = ["A=etc"]\nseccomp_profile = "/etc/seccomp.json"\n[engine]\nruntime = "crun"\n',
  );
  put('etc/containers/containers.conf.d/10-dns.conf', '[containers]\ndns_searches = ["etc.example"]\n');
  put('etc/containers/containers.rootless.conf', '[containers]\nuserns = "keep-id"\n');
  put(
    'home/.config/containers/containers.conf',
    '[containers]\ndefault_ulimits = ["nofile=10:20"]\nvolumes = ["/a:/b:ro"]\n',
  );
  put('home/.config/containers/containers.conf.d/99-last.conf', '[containers]\nenv = ["A=user", "B=2"]\n');
  put(
    'etc/containers/storage.conf',
    '[storage]\ndriver = "overlay"\n[storage.options]\nadditionalimagestores = ["/var/lib/shared"]\n',
  );
  const c = loadContainersConf(env(), root);
  expect(c).toMatchObject({
    env: ['A=user', 'B=2'],
    dnsServers: ['192.0.2.1'],
    dnsSearches: ['etc.example'],
    defaultCapabilities: ['CHOWN', 'KILL'],
    seccompProfile: '/etc/seccomp.json',
    userns: 'keep-id',
    defaultUlimits: ['nofile=10:20'],
    volumes: ['/a:/b:ro'],
    additionalImageStores: ['/var/lib/shared'],
  });
  expect(c.files.map((f) => f.slice(root.length))).toEqual([
    '/usr/share/containers/containers.conf',
    '/etc/containers/containers.conf',
    '/etc/containers/containers.conf.d/10-dns.conf',
    '/etc/containers/containers.rootless.conf',
    '/home/.config/containers/containers.conf',
    '/home/.config/containers/containers.conf.d/99-last.conf',
    '/etc/containers/storage.conf',
  ]);
});

test("CONTAINERS_CONF replaces every file; CONTAINERS_CONF_OVERRIDE goes on top; the user's storage.conf wins", () => {
  put('usr/share/containers/containers.conf', '[containers]\ndefault_capabilities = ["CHOWN"]\n');
  const only = put('mine.conf', '[containers]\ndns_servers = ["192.0.2.9"]\n');
  const over = put('over.conf', '[containers]\ndns_searches = ["over.example"]\n');
  put('home/.config/containers/storage.conf', '[storage.options]\nadditionalimagestores = ["/home/ro"]\n');
  put('etc/containers/storage.conf', '[storage.options]\nadditionalimagestores = ["/etc/ro"]\n');
  const c = loadContainersConf(env({ CONTAINERS_CONF: only, CONTAINERS_CONF_OVERRIDE: over }), root);
  expect([c.defaultCapabilities, c.dnsServers, c.dnsSearches, c.additionalImageStores]).toEqual([
    undefined,
    ['192.0.2.9'],
    ['over.example'],
    ['/home/ro'],
  ]);
});

test('a wrong type or a mode hutch lacks is an error naming the file and key', () => {
  const f = put('etc/containers/containers.conf', '[containers]\nenv = "A=1"\n');
  expect(() => loadContainersConf(env(), root)).toThrow(
    expect.objectContaining({ code: 'CONF_VALUE', message: `${f}: containers.env must be an array of strings` }),
  );
  put('etc/containers/containers.conf', '[containers]\nuserns = "nomap"\n');
  expect(() => loadContainersConf(env(), root)).toThrow(/containers.userns = "nomap" is a mode hutch does not have/);
  put('etc/containers/containers.conf', '[containers\n');
  expect(() => loadContainersConf(env(), root)).toThrow(expect.objectContaining({ code: 'CONF_PARSE' }));
});
