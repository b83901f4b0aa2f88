import { expect, it } from 'vitest';
import { hasCapability, idMapTools, mapToolFailed } from '../../../src/userns/newidmap.js';

it('reads CAP_SETUID and CAP_SETGID from CapEff, to write nested maps without newuidmap', () => {
  const status = (eff: string) => `Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t${eff}\nCapBnd:\t000001ffffffffff\n`;
  expect(hasCapability(7, status('000001ffffffffff'))).toBe(true);
  expect(hasCapability(6, status('0000000000000080'))).toBe(false);
  expect(hasCapability(7, status('0000000000000080'))).toBe(true);
  expect(hasCapability(7, status('0000000000000000'))).toBe(false);
});

it('gives the helper the setuid tools, by absolute path, only for maps hutch may not write itself', () => {
  const me = { uid: process.getuid!(), gid: process.getgid!() };
  const own = [{ containerID: 0, hostID: me.uid, size: 1 }];
  const range = [...own, { containerID: 1, hostID: 100000, size: 65536 }];
  const user = 'CapEff:\t0000000000000000\n';
  expect(idMapTools(own, [{ containerID: 0, hostID: me.gid, size: 1 }], me, user)).toEqual([]);
  const tools = idMapTools(range, [{ containerID: 0, hostID: me.gid, size: 1 }], me, user);
  expect(tools.map((t) => [t.kind, t.args])).toEqual([['uid', ['0', String(me.uid), '1', '1', '100000', '65536']]]);
  expect(tools[0]!.tool).toMatch(/^\/.*\/newuidmap$/);
  // Root of its own user namespace (CAP_SETUID, CAP_SETGID) writes every map itself.
  expect(idMapTools(range, range, me, 'CapEff:\t00000000000000c0\n')).toEqual([]);
});

it("names the tool and says why in its own last line when the helper's tool fails", () => {
  const error = mapToolFailed(
    { kind: 'gid', tool: '/usr/bin/newgidmap', args: ['0', '1', '1'] },
    'newgidmap: warning\nnewgidmap: gid range [1-11) -> [100100000-100100010) not allowed\n',
  );
  expect(error.code).toBe('IDMAP_FAILED');
  expect(error.message).toBe(
    'cannot map gids with newgidmap: newgidmap: gid range [1-11) -> [100100000-100100010) not allowed',
  );
  expect(error.hint).toContain('/etc/subgid');
});
