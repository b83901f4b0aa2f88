// seccomp as podman has it (issue 13, finding 4): hutch's default profile in force in the
// container, observed through the kernel's verdicts; unconfined, a profile file, and exec.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hutch, type Sandbox } from '../helpers/hutch-cli.js';
import { useContainerSandbox } from '../helpers/frames.js';
import { installProbe, verdicts } from '../helpers/syscall-probe.js';

let box: Sandbox;
let rootfs: string;
const h = (...args: string[]) => hutch([args[0]!, '--root', box.root, ...args.slice(1)]);
const CALLS = [
  'io_uring_setup',
  'perf_event_open',
  'add_key',
  'userfaultfd',
  'personality-query',
  'personality-exec',
  'getpid',
];
const ENOSYS = 38,
  EPERM = 1;

useContainerSandbox((b, r) => ((box = b), (rootfs = r)));

describe('the default seccomp profile', () => {
  it('seccomp-missing: filters every container: io_uring_setup and add_key ENOSYS, perf_event_open and userfaultfd EPERM, normal programs work', async () => {
    const probe = installProbe(rootfs);
    const r = await h(
      'run',
      '--rootfs',
      rootfs,
      '--',
      'sh',
      '-c',
      `grep '^Seccomp:' /proc/self/status; ${probe} ${CALLS.join(' ')}; mkdir /tmp/d && echo ok > /tmp/d/f && cat /tmp/d/f`,
    );
    expect(r.stderr).toBe('');
    const [status, ...rest] = String(r.stdout).split('\n');
    expect(status).toMatch(/^Seccomp:\s+2$/);
    expect(verdicts(rest.slice(0, -1).join('\n'))).toEqual({
      io_uring_setup: ENOSYS,
      perf_event_open: EPERM,
      add_key: ENOSYS,
      userfaultfd: EPERM,
      'personality-query': 0,
      'personality-exec': ENOSYS,
      getpid: 0,
    });
    expect(rest.at(-1)).toBe('ok');
  });

  it("seccomp-missing: hutch exec runs under the container's filter", async () => {
    const probe = installProbe(rootfs);
    expect((await h('run', '-d', '--name', 's', '--rootfs', rootfs, '--', 'sleep', '1000')).exitCode).toBe(0);
    const r = await h('exec', 's', probe, 'io_uring_setup', 'userfaultfd');
    expect(verdicts(String(r.stdout))).toEqual({ io_uring_setup: ENOSYS, userfaultfd: EPERM });
    expect((await h('rm', '-f', 's')).exitCode).toBe(0);
  });

  it('--security-opt seccomp=unconfined installs no filter; seccomp=FILE installs that profile', async () => {
    const probe = installProbe(rootfs);
    const open = await h(
      'run',
      '--rootfs',
      rootfs,
      '--security-opt',
      'seccomp=unconfined',
      '--',
      'sh',
      '-c',
      `grep '^Seccomp:' /proc/self/status; ${probe} io_uring_setup add_key`,
    );
    expect(String(open.stdout).split('\n')[0]).toMatch(/^Seccomp:\s+0$/);
    expect(verdicts(String(open.stdout).split('\n').slice(1).join('\n'))).toEqual({ io_uring_setup: 0, add_key: 0 });
    const file = join(box.dir, 'profile.json');
    writeFileSync(
      file,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
      }),
    );
    const own = await h(
      'run',
      '--rootfs',
      rootfs,
      '--security-opt',
      `seccomp=${file}`,
      '--',
      probe,
      'getpid',
      'io_uring_setup',
    );
    expect(verdicts(String(own.stdout))).toEqual({ getpid: 13, io_uring_setup: 0 });
  });

  it('no_new_privs is off by default, as in podman, and --security-opt no-new-privileges sets it', async () => {
    const off = await h('run', '--rootfs', rootfs, '--', 'grep', '^NoNewPrivs:', '/proc/self/status');
    expect(off.stdout).toBe('NoNewPrivs:\t0');
    const on = await h(
      'run',
      '--rootfs',
      rootfs,
      '--security-opt',
      'no-new-privileges',
      '--',
      'grep',
      '^NoNewPrivs:',
      '/proc/self/status',
    );
    expect(on.stdout).toBe('NoNewPrivs:\t1');
  });

  it('--privileged: every capability, no filter, nothing masked; exec takes --cap-add, --cap-drop and --privileged', async () => {
    const r = await h(
      'run',
      '--rootfs',
      rootfs,
      '--privileged',
      '--',
      'sh',
      '-c',
      "grep -E '^(CapEff|Seccomp):' /proc/self/status; grep -c ' /proc/keys ' /proc/mounts",
    );
    expect(String(r.stdout).split('\n')).toEqual(['CapEff:\t000001ffffffffff', 'Seccomp:\t0', '0']);
    expect((await h('run', '-d', '--name', 'c', '--rootfs', rootfs, '--', 'sleep', '1000')).exitCode).toBe(0);
    const capEff = async (...flags: string[]) =>
      String((await h('exec', ...flags, 'c', 'grep', '^CapEff:', '/proc/self/status')).stdout);
    expect(await capEff()).toBe('CapEff:\t00000000a80425fb');
    expect(await capEff('--cap-add', 'SYS_ADMIN', '--cap-drop', 'CHOWN')).toBe('CapEff:\t00000000a82425fa');
    expect(await capEff('--privileged')).toBe('CapEff:\t000001ffffffffff');
    expect((await h('rm', '-f', 'c')).exitCode).toBe(0);
  });

  it('--security-opt mask= hides more paths, unmask= leaves a default mask off', async () => {
    writeFileSync(join(rootfs, 'etc', 'secret'), 'secret\n');
    const r = await h(
      'run',
      '--rootfs',
      rootfs,
      '--security-opt',
      'mask=/etc/secret',
      '--security-opt',
      'unmask=/proc/keys',
      '--',
      'sh',
      '-c',
      "wc -c < /etc/secret; grep -c ' /proc/keys ' /proc/mounts; grep -c ' /proc/timer_list ' /proc/mounts",
    );
    expect(String(r.stdout).split('\n')).toEqual(['0', '0', '1']);
  });

  it('refuses a profile it cannot read or compile, before anything runs', async () => {
    const file = join(box.dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ defaultAction: 'SCMP_ACT_NOTIFY' }));
    const bad = await h('run', '--rootfs', rootfs, '--security-opt', `seccomp=${file}`, '--', 'true');
    expect(bad.exitCode).toBe(125);
    expect(bad.stderr).toContain(
      'cannot compile the seccomp profile: defaultAction: action SCMP_ACT_NOTIFY is not supported',
    );
    const missing = await h('run', '--rootfs', rootfs, '--security-opt', 'seccomp=/nonexistent.json', '--', 'true');
    expect(missing.exitCode).toBe(125);
    expect(missing.stderr).toContain('cannot read the seccomp profile /nonexistent.json: ENOENT');
    const unknown = await h('run', '--rootfs', rootfs, '--security-opt', 'apparmor=foo', '--', 'true');
    expect(unknown.stderr).toContain('invalid --security-opt apparmor=foo: unknown option');
  });
  it('seccomp-old-record: a container recorded before hutch had seccomp restarts with the default filter', async () => {
    const cmd = ['--', 'grep', '^Seccomp:', '/proc/self/status'];
    expect((await h('create', '--name', 'old', '--network', 'none', '--rootfs', rootfs, ...cmd)).exitCode).toBe(0);
    const [info] = JSON.parse((await h('inspect', 'old')).stdout) as { Id: string }[];
    const file = join(box.root, 'data', 'containers', info!.Id, 'config.json');
    const record = JSON.parse(readFileSync(file, 'utf8')) as {
      blueprint: { security?: unknown };
      spec: { linux: { seccomp?: unknown } };
    };
    delete record.blueprint.security; // as hutch wrote it before issue 13
    delete record.spec.linux.seccomp;
    writeFileSync(file, JSON.stringify(record));
    expect((await h('start', 'old')).exitCode).toBe(0);
    expect((await h('wait', 'old')).stdout).toBe('0');
    expect((await h('logs', 'old')).stdout).toBe('Seccomp:\t2');
    await h('rm', 'old');
  });
});
