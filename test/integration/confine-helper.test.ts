// Attacks on hutch-nsexec from inside a container (issue 13, findings 1 and 2): overwriting the
// helper binary through /proc/PID/exe (runc's CVE-2019-5736), reading the caller's environment
// from the helper, and host fds left open in it. Real containers as the unprivileged test user.
import { describe, expect, it } from 'vitest';
import { expectNothingReached, helperDigest, SECRET_ENV, WATCHER } from '../helpers/exe-watcher.js';
import { hutch, type Sandbox } from '../helpers/hutch-cli.js';
import { useContainerSandbox } from '../helpers/frames.js';

let box: Sandbox;
let rootfs: string;
const secret = { env: SECRET_ENV };
const h = (...args: string[]) => hutch([args[0]!, '--root', box.root, ...args.slice(1)], secret);

useContainerSandbox((b, r) => ((box = b), (rootfs = r)));

describe('the helper binary (CVE-2019-5736 pattern)', () => {
  it('helper-overwrite: under --init PID 1 runs from a sealed memfd that cannot be written, with no caller env and no host fd', async () => {
    const before = helperDigest();
    const r = await hutch(
      [
        'run',
        '--root',
        box.root,
        '--rootfs',
        rootfs,
        '--init',
        '--',
        'sh',
        '-c',
        'readlink /proc/1/exe; if printf x 2>/dev/null >> /proc/1/exe; then echo written; else echo refused; fi; tr "\\0" "\\n" < /proc/1/environ; echo fds: $(ls /proc/1/fd)',
      ],
      secret,
    );
    expect(r.stderr).toBe('');
    const lines = String(r.stdout).split('\n');
    expect(lines[0]).toMatch(/^\/memfd:hutch-nsexec/);
    expect(lines[1]).toBe('refused');
    expect(String(r.stdout)).not.toContain('hunter2');
    expect(String(r.stdout)).not.toContain('secret-dir');
    expect(lines.at(-1)).toBe('fds: 0 1 2'); // no host pipe (was fd 251) left in PID 1
    expect(helperDigest()).toBe(before);
  });

  it('helper-overwrite: hutch exec helpers seen from inside the container cannot be written and show no caller env', async () => {
    const before = helperDigest();
    expect((await h('run', '-d', '--name', 'watch', '--rootfs', rootfs, '--', 'sh', '-c', WATCHER)).exitCode).toBe(0);
    for (let i = 0; i < 15; i++) expect((await h('exec', 'watch', 'true')).exitCode).toBe(0);
    await h('exec', 'watch', 'touch', '/tmp/stop');
    while ((await h('exec', 'watch', 'cat', '/tmp/stopped')).exitCode !== 0);
    expectNothingReached(String((await h('exec', 'watch', 'cat', '/tmp/seen')).stdout), before);
    expect((await h('rm', '-f', 'watch')).exitCode).toBe(0);
  });
});
