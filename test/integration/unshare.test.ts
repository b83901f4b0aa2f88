// `hutch unshare`: a command as root of a user namespace that maps the user's subuid range.
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { expect, it } from 'vitest';
import { requires } from '../helpers/host.js';
import { hutch } from '../helpers/hutch-cli.js';

requires('userns', 'subuid', 'newuidmap');

it('runs the command as root with the user and the subuid range mapped, and passes its exit status on', async () => {
  const r = await hutch(['unshare', 'sh', '-c', 'id -u; cat /proc/self/uid_map; exit 7']);
  expect(r.exitCode).toBe(7);
  const [uid, ...map] = r.stdout.split('\n').map((l) => l.trim().split(/\s+/).join(' '));
  expect(uid).toBe('0');
  const range = readFileSync('/etc/subuid', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${userInfo().username}:`))!
    .split(':');
  expect(map).toEqual([`0 ${userInfo().uid} 1`, `1 ${range[1]} ${range[2]}`]);
});
