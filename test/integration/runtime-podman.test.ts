// A real client: rootless podman (Debian's) drives bin/hutch-runtime as its OCI runtime, with its
// own temporary storage and a busybox image imported from a tarball (no network pulls).
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ReadStream } from 'node:tty';
import { execa, type Options } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openpty } from '../../src/sys/pty.js';
import { requires } from '../helpers/host.js';
import { fdStdio, REPO, sandbox, type Sandbox } from '../helpers/hutch-cli.js';
import { busyboxRootfs } from '../helpers/rootfs.js';
import { installProbe, verdicts } from '../helpers/syscall-probe.js';

let box: Sandbox;
const IMAGE = 'localhost/hutch-busybox:test';
const env = (): Record<string, string> => ({
  XDG_RUNTIME_DIR: join(box.dir, 'xdg'),
  XDG_CONFIG_HOME: join(box.dir, 'config'),
  HOME: box.dir,
});
const podmanWith = (runtime: string, args: string[], options: Options = {}) =>
  execa(
    'podman',
    [
      '--root',
      join(box.dir, 'storage'),
      '--runroot',
      join(box.dir, 'runroot'),
      '--storage-driver',
      'vfs',
      '--cgroup-manager',
      'cgroupfs',
      '--events-backend',
      'file',
      '--runtime',
      runtime,
      ...args,
    ],
    { reject: false, stdin: 'ignore', env: env(), extendEnv: true, ...options },
  );
const podman = (args: string[], options: Options = {}) => podmanWith(join(REPO, 'bin', 'hutch-runtime'), args, options);
/** The same podman command with runc, for the behaviours hutch must match. */
const podmanRunc = (args: string[]) => podmanWith('/usr/sbin/runc', args);

beforeAll(async () => {
  requires('podman', 'userns', 'subuid', 'newuidmap', 'busybox');
  box = sandbox();
  mkdirSync(join(box.dir, 'xdg'), { mode: 0o700 });
  const rootfs = await busyboxRootfs(box.dir);
  execFileSync('tar', ['-C', rootfs, '-cf', join(box.dir, 'busybox.tar'), '.']);
  const imported = await podman(['import', join(box.dir, 'busybox.tar'), IMAGE]);
  expect(imported.exitCode, String(imported.stderr)).toBe(0);
}, 120_000);

afterAll(async () => {
  await podman(['rm', '-af']);
  // The image's files belong to subordinate ids: remove them from inside podman's user namespace.
  await podman(['unshare', 'rm', '-rf', join(box.dir, 'storage')]);
  // Rootless podman leaves a pause process holding its user namespace, found by this XDG_RUNTIME_DIR.
  try {
    process.kill(Number(readFileSync(join(box.dir, 'xdg', 'libpod', 'tmp', 'pause.pid'), 'utf8')), 'SIGKILL');
  } catch {
    // none was started
  }
  box.remove();
});

describe('podman --runtime hutch-runtime', () => {
  it('runs a one-shot container with --rm and passes its exit status', async () => {
    const r = await podman(['run', '--rm', IMAGE, 'sh', '-c', 'echo hello from $(hostname); exit 3']);
    expect(r.stdout).toMatch(/^hello from \S+$/);
    expect(r.exitCode).toBe(3);
    expect((await podman(['run', '--rm', '--network', 'none', IMAGE, 'nosuch'])).exitCode).toBe(127);
    expect((await podman(['ps', '-aq'])).stdout).toBe('');
  });

  it('runs a detached container that podman logs, exec and stop reach', async () => {
    const run = await podman([
      'run',
      '-d',
      '--name',
      'web',
      '--network',
      'none',
      IMAGE,
      'sh',
      '-c',
      'echo started; exec sleep 1000',
    ]);
    expect(run.exitCode, String(run.stderr)).toBe(0);
    expect(String((await podman(['ps'])).stdout)).toMatch(/Up .*web/);
    for (let i = 0; i < 100 && (await podman(['logs', 'web'])).stdout !== 'started'; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect((await podman(['logs', 'web'])).stdout).toBe('started');
    const exec = await podman(['exec', 'web', 'cat', '/proc/1/cmdline']);
    expect(String(exec.stdout).split('\0').filter(Boolean)).toEqual(['sleep', '1000']);
    expect((await podman(['exec', 'web', 'sh', '-c', 'exit 4'])).exitCode).toBe(4);
    expect((await podman(['stop', '-t', '1', 'web'])).exitCode).toBe(0);
    expect((await podman(['inspect', '--format', '{{.State.ExitCode}}', 'web'])).stdout).toBe('137');
    expect((await podman(['rm', 'web'])).exitCode).toBe(0);
  });

  it('runs -it and exec -it through the console socket on a real pty', async () => {
    const { master, slave } = openpty({ rows: 30, cols: 100 });
    const out = new ReadStream(master);
    let output = '';
    out.on('data', (d: Buffer) => (output += d.toString()));
    out.on('error', () => undefined);
    const r = await podman(
      ['run', '-it', '--rm', '--network', 'none', IMAGE, 'sh', '-c', 'test -t 0 && test -t 1 && echo tty-ok; exit 6'],
      { stdin: fdStdio(slave), stdout: fdStdio(slave), stderr: fdStdio(slave) },
    );
    expect(r.exitCode).toBe(6);
    await new Promise((resolve) => setTimeout(resolve, 100)); // let the last bytes arrive
    expect(output.replace(/\r/g, '')).toContain('tty-ok');
    // exec -it: the console socket is a host path, reached before the helper joins the container's namespaces
    await podman(['run', '-d', '--name', 'ttybox', '--network', 'none', IMAGE, 'sleep', '1000']);
    const exec = await podman(['exec', '-it', 'ttybox', 'sh', '-c', 'test -t 0 && echo exec-tty-ok; exit 2'], {
      stdin: fdStdio(slave),
      stdout: fdStdio(slave),
      stderr: fdStdio(slave),
    });
    expect(exec.exitCode).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(output.replace(/\r/g, '')).toContain('exec-tty-ok');
    await podman(['rm', '-f', '-t', '0', 'ttybox']);
    out.destroy();
    closeSync(slave);
  });

  it("podman-seccomp: podman's default seccomp profile is in force in the container", async () => {
    const dir = join(box.dir, 'probe');
    mkdirSync(dir, { recursive: true });
    installProbe(dir);
    const r = await podman([
      'run',
      '--rm',
      '--network',
      'none',
      '-v',
      `${dir}:/p:ro`,
      IMAGE,
      'sh',
      '-c',
      "grep '^Seccomp:' /proc/self/status; /p/probe io_uring_setup userfaultfd add_key getpid",
    ]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const [status, ...rest] = String(r.stdout).split('\n');
    expect(status).toMatch(/^Seccomp:\s+2$/);
    expect(verdicts(rest.join('\n'))).toEqual({ io_uring_setup: 38, userfaultfd: 1, add_key: 38, getpid: 0 });
  });
});

describe('podman --runtime hutch-runtime where runc already worked (issue 18)', () => {
  it('podman info names the runtime from --version', async () => {
    const info = await podman(['info', '--format', '{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Version}}']);
    expect(info.exitCode, String(info.stderr)).toBe(0);
    expect(info.stdout).toMatch(/hutch-runtime hutch-runtime version \S+\ncommit: \S+\nspec: 1\.2\.0$/);
    expect(String(info.stderr)).not.toContain('level=error');
  });

  it("non-identity id maps: --userns=keep-id and --uidmap go through podman's own user namespace", async () => {
    const keep = await podman(['run', '--rm', '--network', 'none', '--userns=keep-id', IMAGE, 'id', '-u']);
    expect([keep.stdout, keep.exitCode], String(keep.stderr)).toEqual([String(process.getuid!()), 0]);
    const map = await podman([
      'run',
      '--rm',
      '--network',
      'none',
      '--uidmap',
      '0:1:65536',
      '--gidmap',
      '0:1:65536',
      IMAGE,
      'sh',
      '-c',
      'id -u; cat /proc/self/uid_map',
    ]);
    expect(map.exitCode, String(map.stderr)).toBe(0);
    expect(String(map.stdout).split(/\s+/).filter(Boolean).slice(0, 4)).toEqual(['0', '0', '1', '65536']);
    const nomap = ['run', '--rm', '--network', 'none', '--userns=nomap', IMAGE, 'cat', '/proc/self/uid_map'];
    const [hutchNomap, runcNomap] = [await podman(nomap), await podmanRunc(nomap)];
    expect([hutchNomap.stdout, hutchNomap.exitCode], String(hutchNomap.stderr)).toEqual([runcNomap.stdout, 0]);
  });

  it("--userns=auto: a range of podman's namespace of its own, as with runc", async () => {
    const script =
      'id -u; cat /proc/self/uid_map /proc/self/gid_map; stat -c %u:%g /bin/busybox; touch /new && stat -c %u:%g /new';
    const args = ['run', '--rm', '--network', 'none', '--userns=auto', IMAGE, 'sh', '-c', script];
    const [withHutch, withRunc] = [await podman(args), await podmanRunc(args)];
    expect(withHutch.exitCode, String(withHutch.stderr)).toBe(0);
    const words = String(withHutch.stdout).split(/\s+/).filter(Boolean);
    // Root of the container is not root of podman's namespace: a shifted range.
    expect(words[0]).toBe('0');
    expect(words[1]).toBe('0');
    expect(words[2]).not.toBe('0');
    // The image's files keep their owners as the container sees them (podman chowns its vfs copy).
    expect(words.at(-1)).toBe('0:0');
    expect(withHutch.stdout, String(withRunc.stderr)).toBe(withRunc.stdout);
  });

  it('process.terminal: /dev/console is the pty, bound as runc binds it; writes to it reach the terminal', async () => {
    const script =
      'stat -L -c %t:%T /dev/console /proc/self/fd/1; grep -c " /dev/console " /proc/self/mountinfo; echo via-console > /dev/console';
    const args = ['run', '--rm', '-t', '--network', 'none', IMAGE, 'sh', '-c', script];
    const shape = (out: unknown): string[] =>
      String(out)
        .replace(/\r/g, '')
        .split('\n')
        .map((l) => l.replace(/^88:\d+$/, 'pts'));
    const [withHutch, withRunc] = [await podman(args), await podmanRunc(args)];
    expect(withHutch.exitCode, String(withHutch.stderr)).toBe(0);
    const [console, stdout] = String(withHutch.stdout).replace(/\r/g, '').split('\n');
    expect(stdout).toBe(console);
    expect(shape(withHutch.stdout)).toEqual(['pts', 'pts', '1', 'via-console']);
    expect(shape(withHutch.stdout)).toEqual(shape(withRunc.stdout));
  });

  it('a missing executable fails run with 127 and a message, as with runc; exec of a non-executable file exits 126', async () => {
    const missing = await podman(['run', '--rm', '--network', 'none', IMAGE, '/no/such']);
    expect(missing.exitCode).toBe((await podmanRunc(['run', '--rm', '--network', 'none', IMAGE, '/no/such'])).exitCode);
    expect(missing.exitCode).toBe(127);
    expect(String(missing.stderr)).toContain('no such file or directory');
    // create then start: start fails as with runc, and the container never reports a pid
    for (const [pm, name] of [
      [podman, 'ms1'],
      [podmanRunc, 'ms2'],
    ] as const)
      await pm(['create', '--name', name, '--network', 'none', IMAGE, '/no/such']);
    const [started, startedRunc] = [await podman(['start', 'ms1']), await podmanRunc(['start', 'ms2'])];
    expect([started.exitCode, String(started.stderr)]).toEqual([
      startedRunc.exitCode,
      expect.stringContaining('command that was not found'),
    ]);
    expect((await podman(['inspect', '--format', '{{.State.Pid}} {{.State.Status}}', 'ms1'])).stdout).toBe('0 created');
    await podman(['rm', '-f', 'ms1', 'ms2']);
    await podman(['run', '-d', '--name', 'ex', '--network', 'none', IMAGE, 'sleep', '1000']);
    expect((await podman(['exec', 'ex', '/etc/passwd'])).exitCode).toBe(126);
    expect((await podman(['kill', '-s', '64', 'ex'])).exitCode).toBe(0);
    // podman update calls the runtime's update verb (-r FILE); this host gives no cgroup, as runc also finds.
    const update = await podman(['update', '--memory', '100m', 'ex']);
    expect(String(update.stderr)).toMatch(
      /cannot update container \w+: it has no cgroup of its own[\s\S]*hutch-runtime update --resources=/,
    );
    await podman(['rm', '-f', '-t', '0', 'ex']);
  });

  it("--tmpfs copies the image's content up (tmpcopyup); --user with no passwd entry gets HOME=/", async () => {
    const tmpfs = await podman([
      'run',
      '--rm',
      '--network',
      'none',
      '--tmpfs',
      '/etc',
      IMAGE,
      'sh',
      '-c',
      'head -1 /etc/group; touch /etc/new',
    ]);
    expect([tmpfs.stdout, tmpfs.exitCode], String(tmpfs.stderr)).toEqual(['root:x:0:', 0]);
    const home = await podman(['run', '--rm', '--network', 'none', '--user', '100', IMAGE, 'sh', '-c', 'echo $HOME']);
    expect([home.stdout, home.exitCode], String(home.stderr)).toEqual(['/', 0]);
  });

  it('podman build runs RUN steps (ambient capabilities without inheritable ones)', async () => {
    const dir = join(box.dir, 'build');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'Containerfile'),
      `FROM ${IMAGE}\nRUN echo built > /built && grep CapAmb /proc/self/status\n`,
    );
    const build = await podman(['build', '--network', 'none', '-t', 'localhost/hutch-built:test', dir]);
    expect(build.exitCode, String(build.stderr)).toBe(0);
    expect(
      (await podman(['run', '--rm', '--network', 'none', 'localhost/hutch-built:test', 'cat', '/built'])).stdout,
    ).toBe('built');
  });
});
