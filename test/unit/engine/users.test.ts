import { expect, it } from 'vitest';
import { resolveUser } from '../../../src/engine/spec/users.js';

const passwd = 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n';
const group = 'root:x:0:\nstaff:x:50:user,other\nuser:x:1000:\nwheel:x:10:root\n';

it('resolves names, numbers and supplementary groups', () => {
  expect(resolveUser('user', passwd, group)).toEqual({
    uid: 1000,
    gid: 1000,
    additionalGids: [50],
    name: 'user',
    home: '/home/user',
  });
  expect(resolveUser('0', passwd, group)).toMatchObject({ uid: 0, gid: 0, additionalGids: [10], name: 'root' });
  expect(resolveUser('user:root', passwd, group)).toMatchObject({ uid: 1000, gid: 0 });
  expect(resolveUser('4242', passwd, group)).toEqual({
    uid: 4242,
    gid: 0,
    additionalGids: [],
    name: undefined,
    home: undefined,
  });
  expect(resolveUser('4242:77', passwd, group)).toMatchObject({ uid: 4242, gid: 77 });
});

it('refuses unknown names', () => {
  expect(() => resolveUser('ghost', passwd, group)).toThrow(
    "cannot run as user ghost: no such user in the container's /etc/passwd",
  );
  expect(() => resolveUser('user:ghosts', passwd, group)).toThrow(
    "cannot run as group ghosts: no such group in the container's /etc/group",
  );
});
