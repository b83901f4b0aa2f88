import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { findCredentials, removeCredentials, saveCredentials } from '../../../src/image/auth.js';

function env(): NodeJS.ProcessEnv {
  const home = mkdtempSync(join(tmpdir(), 'hutch-auth-'));
  return { HOME: home, XDG_RUNTIME_DIR: join(home, 'run'), XDG_CONFIG_HOME: join(home, 'config') };
}
const b64 = (s: string): string => Buffer.from(s).toString('base64');

test('login writes podman auth.json; lookup prefers it to docker config.json; logout removes it', async () => {
  const e = env();
  mkdirSync(join(e.HOME!, '.docker'));
  writeFileSync(
    join(e.HOME!, '.docker', 'config.json'),
    JSON.stringify({
      auths: { 'r.example': { auth: b64('docker:pw') }, 'https://index.docker.io/v1/': { auth: b64('hub:pw') } },
    }),
  );
  expect(findCredentials('r.example', 'a/b', e)).toEqual({ username: 'docker', password: 'pw' });
  expect(findCredentials('docker.io', 'library/alpine', e)).toEqual({ username: 'hub', password: 'pw' });
  const file = await saveCredentials('r.example', { username: 'me', password: 'p:w' }, e);
  expect(file).toBe(join(e.XDG_RUNTIME_DIR!, 'containers', 'auth.json'));
  expect(JSON.parse(readFileSync(file, 'utf8')).auths['r.example'].auth).toBe(b64('me:p:w'));
  expect(findCredentials('r.example', 'a/b', e)).toEqual({ username: 'me', password: 'p:w' });
  expect(await removeCredentials('r.example', e)).toBe(true);
  expect(await removeCredentials('r.example', e)).toBe(false);
  expect(findCredentials('r.example', 'a/b', e)?.username).toBe('docker');
});

test('a repository-scoped entry wins over the host entry', () => {
  const e = env();
  mkdirSync(join(e.XDG_RUNTIME_DIR!, 'containers'), { recursive: true });
  writeFileSync(
    join(e.XDG_RUNTIME_DIR!, 'containers', 'auth.json'),
    JSON.stringify({ auths: { 'q.io': { auth: b64('host:1') }, 'q.io/team': { auth: b64('team:2') } } }),
  );
  expect(findCredentials('q.io', 'team/app', e)?.username).toBe('team');
  expect(findCredentials('q.io', 'other/app', e)?.username).toBe('host');
});
