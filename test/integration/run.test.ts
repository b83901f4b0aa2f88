// hutch run as the unprivileged test user: identity, namespaces, filesystem, process and hardening.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { requires } from '../helpers/host.js';
import { containerTest } from '../helpers/container-test.js';
import { untilOutput } from '../helpers/hutch-cli.js';
import { parseSubid } from '../../src/userns/subid.js';

const t = containerTest();
const { run, sh } = t;
const subuidStart = () =>
  parseSubid(readFileSync('/etc/subuid', 'utf8'), { name: userInfo().username, id: userInfo().uid })[0]!.start;

beforeAll(() => requires('userns', 'subuid', 'newuidmap', 'busybox'));

describe('identity', () => {
  it('is root inside, the subuid range in uid_map, PID 1, its own hostname', async () => {
    const r = await sh(
      'id; cat /proc/self/uid_map; echo pid=$$; hostname; cat /etc/hostname; cut -d: -f3 /proc/self/cgroup | sort -u',
      ['--hostname', 'box'],
    );
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const lines = String(r.stdout).split('\n');
    expect(lines[0]).toBe('uid=0(root) gid=0(root)');
    expect(lines[1]!.trim().split(/\s+/)).toEqual(['0', String(userInfo().uid), '1']);
    expect(lines[2]!.trim().split(/\s+/)).toEqual(['1', String(subuidStart()), '65536']);
    // Its own cgroup namespace, rooted at the cgroup it runs in.
    expect(lines.slice(3)).toEqual(['pid=1', 'box', 'box', '/']);
  });

  it.each([
    [[], () => userInfo().uid],
    [['-u', '1000'], () => subuidStart() + 999],
  ])('runs the process under the right host uid (%j), and SIGKILL from the host gives 137', async (args, hostUid) => {
    const tag = String(40000 + Math.floor(Math.random() * 20000));
    const child = run(args as string[], ['sh', '-c', `echo ready; exec sleep ${tag}`]);
    await untilOutput(child, 'ready');
    const pid = await findProcess(`sleep ${tag}`);
    expect(statusField(pid, 'Uid').split('\t')[0]).toBe(String(hostUid()));
    process.kill(pid, 'SIGKILL');
    expect((await child).exitCode).toBe(137);
  });
});

describe('process', () => {
  it('sets env, env files, the working directory and a user with its groups', async () => {
    writeFileSync(join(t.box.dir, 'env'), '# comment\nFROM_FILE=1\nFOO=overridden\n');
    const r = await sh('echo $FOO $FROM_FILE $HOME; pwd; id', [
      '-e',
      'FOO=bar',
      '--env-file',
      join(t.box.dir, 'env'),
      '-w',
      '/tmp',
      '-u',
      'user',
    ]);
    expect(r.stderr).toBe('');
    expect(String(r.stdout).split('\n')).toEqual([
      'bar 1 /home/user',
      '/tmp',
      'uid=1000(user) gid=1000(user) groups=50(staff)',
    ]);
  });

  it('resolves USER:GROUP by name and numbers', async () => {
    const r = await sh('id -u; id -g', ['-u', 'user:staff']);
    expect(String(r.stdout).split('\n')).toEqual(['1000', '50']);
    const n = await sh('id -u; id -g', ['-u', '4242:4343']);
    expect(String(n.stdout).split('\n')).toEqual(['4242', '4343']);
  });

  it('passes the exit status: 0, 3, 126, 127', async () => {
    expect((await sh('exit 0')).exitCode).toBe(0);
    expect((await sh('exit 3')).exitCode).toBe(3);
    const notExec = await run([], ['/etc/passwd']);
    expect(notExec.exitCode).toBe(126);
    expect(notExec.stderr).toContain('cannot run /etc/passwd');
    const notFound = await run([], ['no-such-command']);
    expect(notFound.exitCode).toBe(127);
    expect(notFound.stderr).toMatchInlineSnapshot(`
      "hutch: cannot run no-such-command: no such file or directory in the container
      hint: check the command name and the PATH inside the container"
    `);
  });

  it('applies rlimits', async () => {
    const r = await sh('ulimit -n; ulimit -Hn', ['--ulimit', 'nofile=512:1024']);
    expect(String(r.stdout).split('\n')).toEqual(['512', '1024']);
  });
});

describe('filesystem', () => {
  it('binds read-write and read-only volumes, mounts tmpfs', async () => {
    const rw = join(t.box.dir, 'rw');
    const ro = join(t.box.dir, 'ro');
    mkdirSync(rw);
    mkdirSync(ro);
    writeFileSync(join(ro, 'f'), 'hello');
    const r = await sh(
      'echo written > /rw/out; cat /ro/f; echo; (touch /ro/x) 2>&1; grep " /scratch " /proc/mounts | cut -d" " -f3',
      ['-v', `${rw}:/rw`, '-v', `${ro}:/ro:ro`, '--tmpfs', '/scratch'],
    );
    expect(readFileSync(join(rw, 'out'), 'utf8')).toBe('written\n');
    expect(String(r.stdout).split('\n')).toEqual(['hello', 'touch: /ro/x: Read-only file system', 'tmpfs']);
    expect(existsSync(join(ro, 'x'))).toBe(false);
  });

  it('refuses writes to a read-only root', async () => {
    const r = await sh('touch /x', ['--read-only']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('Read-only file system');
    expect(existsSync(join(t.rootfs, 'x'))).toBe(false);
  });

  it('has /dev with the standard nodes and links, /dev/pts, /dev/shm, read-only /sys', async () => {
    const r = await sh(
      'ls /dev | tr "\\n" " "; echo; readlink /dev/fd; readlink /dev/ptmx; echo x > /dev/null && head -c 4 /dev/zero | wc -c; (touch /sys/x) 2>&1; touch /dev/shm/ok && echo shm',
    );
    expect(String(r.stdout).split('\n')).toEqual([
      'core fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero ',
      '/proc/self/fd',
      'pts/ptmx',
      '4',
      'touch: /sys/x: Read-only file system',
      'shm',
    ]);
  });
});

describe('hardening', () => {
  it("has docker's default capabilities, no_new_privs, masked and read-only paths", async () => {
    const r = await sh(
      'grep -E "^(CapEff|CapBnd|NoNewPrivs)" /proc/self/status; wc -c < /proc/keys; wc -c < /proc/timer_list; ls /sys/firmware | wc -l; (echo 1 > /proc/sys/kernel/domainname) 2>&1',
      ['--security-opt', 'no-new-privileges'],
    );
    expect(String(r.stdout).split('\n')).toEqual([
      'CapEff:\t00000000a80425fb',
      'CapBnd:\t00000000a80425fb',
      'NoNewPrivs:\t1',
      '0',
      '0',
      '0',
      "sh: can't create /proc/sys/kernel/domainname: Read-only file system",
    ]);
  });

  it('gives a non-root user no capabilities; --cap-add and --cap-drop change the set', async () => {
    expect(String((await sh('grep CapEff /proc/self/status', ['-u', 'user'])).stdout)).toBe(
      'CapEff:\t0000000000000000',
    );
    const r = await sh('grep CapEff /proc/self/status', ['--cap-add', 'NET_ADMIN', '--cap-drop', 'chown']);
    expect(String(r.stdout)).toBe(`CapEff:\t${((0xa80425fbn | (1n << 12n)) & ~1n).toString(16).padStart(16, '0')}`);
  });
});

describe('network', () => {
  it("none: only loopback, up; host: the host's interfaces", async () => {
    const none = await sh(
      'ls /sys/class/net | tr "\\n" " "; cat /sys/class/net/lo/operstate; ping -c1 -W1 127.0.0.1 >/dev/null && echo ping',
      ['--network', 'none'],
    );
    expect(String(none.stdout).split('\n')).toEqual(['lo unknown', 'ping']);
    const host = await sh('ls /sys/class/net | sort | tr "\\n" " "', ['--network', 'host']);
    expect(String(host.stdout).trim()).toBe(execSyncList());
  });
});

function execSyncList(): string {
  return readdirSorted('/sys/class/net').join(' ');
}
import { readdirSync } from 'node:fs';
function readdirSorted(dir: string): string[] {
  return readdirSync(dir).sort();
}

/** The process running `cmdline` (polled: the shell execs it just after saying ready). */
async function findProcess(cmdline: string): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const pid = scan(cmdline);
    if (pid !== undefined) return pid;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no process ${cmdline}`);
}

function scan(cmdline: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() === cmdline) return Number(entry);
    } catch {
      // gone
    }
  }
  return undefined;
}

function statusField(pid: number, field: string): string {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return line!.slice(field.length + 1).trim();
}
