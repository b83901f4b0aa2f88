// hutch run for a user without a /etc/subuid range (runs as `hutchnosub`): the user alone is mapped.
import { readlinkSync } from 'node:fs';
import { userInfo } from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { missing, requires } from '../helpers/host.js';
import { hutch } from '../helpers/hutch-cli.js';
import { containerTest } from '../helpers/container-test.js';

const t = containerTest();
const me = userInfo();
const sh = (args: string[], script: string) => t.sh(script, args);

// npm test runs this file as the user without a range (HUTCH_TEST_NOSUBID_USER); anyone else who
// has a range cannot show what it tests, and skips it.
const noRangeUser = process.env.HUTCH_TEST_NOSUBID_USER;
const skip = me.username !== noRangeUser && missing('subuid') === undefined;
describe.skipIf(skip)('without a subuid range', () => {
  beforeAll(() => {
    requires('userns', 'busybox');
    if (missing('subuid') === undefined)
      throw new Error(`${me.username} has a /etc/subuid range: this file must run as a user without one`);
  });

  it('maps the user alone to root, says so once, and still runs a full container', async () => {
    const first = await sh([], 'id -u; cat /proc/self/uid_map; echo pid=$$; grep CapEff /proc/self/status');
    expect(first.exitCode).toBe(0);
    expect(
      String(first.stdout)
        .split('\n')
        .map((l) => l.trim().split(/\s+/).join(' ')),
    ).toEqual(['0', `0 ${me.uid} 1`, 'pid=1', 'CapEff: 00000000a80425fb']);
    expect(first.stderr).toContain(`hutch: warning: no /etc/subuid range for ${me.username}`);
    const second = await sh([], 'true');
    expect(second.stderr).toBe('');
  });

  it('--userns=keep-id maps the user to itself', async () => {
    const r = await sh(['--userns=keep-id'], 'id -u; cat /proc/self/uid_map');
    expect(
      String(r.stdout)
        .split('\n')
        .map((l) => l.trim().split(/\s+/).join(' ')),
    ).toEqual([String(me.uid), `${me.uid} ${me.uid} 1`]);
  });

  it("--hpc: the user alone, as themselves, in the host's PID and IPC namespaces", async () => {
    const r = await sh(['--hpc'], 'id -u; echo $HOME; readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc');
    expect(String(r.stderr).replace(/^hutch: warning: no \/etc\/subuid range .*\n?/, '')).toBe('');
    expect(String(r.stdout).split('\n')).toEqual([
      String(me.uid),
      me.homedir,
      readlinkSync('/proc/self/ns/pid'),
      readlinkSync('/proc/self/ns/ipc'),
    ]);
  });

  it('a user other than root cannot be mapped: a clear error', async () => {
    const r = await sh(['-u', '1000'], 'true');
    expect(r.exitCode).toBe(125);
    expect(String(r.stderr).split('\n').slice(-2).join('\n')).toMatchInlineSnapshot(`
      "hutch: cannot run as uid 1000: it is not mapped in the container (/etc/subuid gives no range)
      hint: ask an administrator to add a range of 65536 ids for you to /etc/subuid (e.g. \`usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER\`)"
    `);
  });

  it('hutch system info names the missing range and its fix', async () => {
    const r = await hutch(['system', 'info', '--format', 'json']);
    const info = JSON.parse(String(r.stdout)) as { checks: { name: string; ok: boolean; fix?: string }[] };
    const subuid = info.checks.find((c) => c.name === '/etc/subuid range')!;
    expect(subuid.ok).toBe(false);
    expect(subuid.fix).toBe(`\`sudo usermod --add-subuids 100000-165535 ${me.username}\``);
    expect(info.checks.find((c) => c.name === 'user namespaces')!.ok).toBe(true);
  });
});
