// Bad input: a clear one-line error, the documented exit code, and nothing left behind.
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import type { Options } from 'execa';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { requires } from '../helpers/host.js';
import { hutch } from '../helpers/hutch-cli.js';
import { containerTest } from '../helpers/container-test.js';

const t = containerTest();
const run = (args: string[], cmd: string[] = ['true'], options?: Options) => t.run(args, cmd, options);
/** The error text with the sandbox's path replaced, for snapshots. */
const text = (r: { stderr: unknown }) => String(r.stderr).replaceAll(t.box.dir, '$BOX');

beforeAll(() => requires('userns', 'subuid', 'busybox'));

it('a missing rootfs', async () => {
  const r = await hutch(['run', '--root', t.box.root, '--rootfs', join(t.box.dir, 'nope'), '--', 'true']);
  expect(r.exitCode).toBe(125);
  expect(text(r)).toMatchInlineSnapshot(`
    "hutch: cannot use $BOX/nope as the root filesystem: not a directory
    hint: give --rootfs a directory holding a root filesystem (bin/sh, etc/passwd, ...)"
  `);
});

it('a command not found, and a directory as the command', async () => {
  const r = await run([], ['/no/such/thing']);
  expect(r.exitCode).toBe(127);
  expect(text(r)).toContain('hutch: cannot run /no/such/thing: no such file or directory in the container');
  const dir = await run([], ['/tmp']);
  expect(dir.exitCode).toBe(126);
  expect(text(dir)).toMatchInlineSnapshot(`
    "hutch: cannot run /tmp: permission denied
    hint: check that it is an executable file for this machine"
  `);
});

it('a bind source that does not exist', async () => {
  const r = await run(['-v', `${join(t.box.dir, 'missing')}:/data`]);
  expect(r.exitCode).toBe(125);
  expect(text(r)).toMatchInlineSnapshot(`
    "hutch: cannot bind $BOX/missing at /data: $BOX/missing does not exist
    hint: create the source directory first, or fix the path"
  `);
});

it('an unknown user name and group name', async () => {
  const r = await run(['-u', 'nobody-here']);
  expect(r.exitCode).toBe(125);
  expect(text(r)).toMatchInlineSnapshot(`
    "hutch: cannot run as user nobody-here: no such user in the container's /etc/passwd
    hint: give a user that exists in the image, or a numeric uid"
  `);
  const g = await run(['-u', 'user:no-group']);
  expect(text(g)).toContain("no such group in the container's /etc/group");
});

it('a user beyond the mapped range', async () => {
  const r = await run(['-u', '70000']);
  expect(r.exitCode).toBe(125);
  expect(text(r)).toContain(
    'hutch: cannot run as uid 70000: it is not mapped in the container (/etc/subuid gives 65536 ids)',
  );
});

it('an unknown flag and a bad flag value', async () => {
  const r = await run(['--no-such-flag']);
  expect(r.exitCode).toBe(125);
  expect(text(r).split('\n')[0]).toMatch(/^hutch: .*--no-such-flag/);
  const net = await run(['--network', 'bridge']);
  expect(net.exitCode).toBe(125);
  expect(text(net)).toContain('--network');
});

it('a working directory that does not exist', async () => {
  const r = await run(['-w', '/no/dir']);
  expect(r.exitCode).toBe(125);
  expect(text(r)).toMatchInlineSnapshot(`
    "hutch: cannot enter the working directory /no/dir: ENOENT
    hint: give -w a directory that exists in the container"
  `);
});

it('a mount the kernel refuses names the mount', async () => {
  mkdirSync(join(t.box.dir, 'src'));
  const r = await run(['-v', `${join(t.box.dir, 'src')}:/proc/x`]);
  expect(r.exitCode).toBe(125);
  expect(text(r).split('\n')[0]).toMatch(
    /^hutch: cannot start the container: mount \$BOX\/src at \/proc\/x: mount failed: E[A-Z]+$/,
  );
});

it('newuidmap missing: names it and the package', async () => {
  const r = await run(['--network', 'none'], ['true'], { env: { PATH: '/nonexistent' } }); // no slirp4netns notice either
  expect(r.exitCode).toBe(125);
  expect(text(r)).toMatchInlineSnapshot(`
    "hutch: cannot map ids: newuidmap is not installed
    hint: install the uidmap package (\`apt install uidmap\` or \`dnf install shadow-utils\`), or run with no /etc/subuid range"
  `);
});

it('a symlink in the rootfs cannot point a mount or a created file at the host', async () => {
  const victim = join(t.box.dir, 'victim');
  rmSync(join(t.rootfs, 'etc', 'hosts'), { force: true });
  symlinkSync(victim, join(t.rootfs, 'etc', 'hosts')); // absolute: resolved inside the rootfs, not on the host
  const r = await run([], ['true']);
  expect(r.exitCode).toBe(125);
  expect(text(r).split('\n')[0]).toMatch(
    /^hutch: cannot start the container: mount \$BOX\/state\/run\/ephemeral\/[0-9a-f]+\/hosts at \/etc\/hosts: mount failed: E(NOENT|LOOP)$/,
  );
  expect(existsSync(victim)).toBe(false);
});

it('a relative symlink inside the rootfs is followed inside it', async () => {
  writeFileSync(join(t.rootfs, 'tmp', 'real-hosts'), 'placeholder\n');
  rmSync(join(t.rootfs, 'etc', 'hosts'), { force: true });
  symlinkSync('../tmp/real-hosts', join(t.rootfs, 'etc', 'hosts'));
  const r = await run(['--hostname', 'linked'], ['sh', '-c', 'grep -c linked /tmp/real-hosts']);
  expect(r.stderr).toBe('');
  expect(String(r.stdout)).toBe('1');
});

it("an image whose /dev is a symlink to a host path: /dev's links are made inside the rootfs, never on the host", async () => {
  const victim = join(t.box.dir, 'victim-dev'); // a host directory the user may write
  mkdirSync(victim);
  mkdirSync(join(t.rootfs, victim), { recursive: true }); // the image holds the same path: the /dev tmpfs goes there
  rmSync(join(t.rootfs, 'dev'), { recursive: true, force: true });
  symlinkSync(victim, join(t.rootfs, 'dev'));
  const r = await run([], ['sh', '-c', 'readlink /dev/fd']);
  expect(readdirSync(victim)).toEqual([]); // the old helper's symlink(2) on the host path put fd, stdin, ... here
  expect(r.stderr).toBe('');
  expect(String(r.stdout)).toBe('/proc/self/fd');
});
