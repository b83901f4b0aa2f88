// `hutch sandbox`: a command confined on the host's own root filesystem (bubblewrap's job), run as
// the unprivileged test user. Each flag, and what must stay out of reach: the host's /home and
// /tmp, other users' files, the network, the caller's fds, session sockets not asked for.
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa, type Options } from 'execa';
import { requires } from '../helpers/host.js';
import { fdStdio, HUTCH, sandbox as scratch, type HutchResultPromise, type Sandbox } from '../helpers/hutch-cli.js';

requires('userns');

let dir: Sandbox;
let home: string;
beforeAll(() => {
  dir = scratch();
  home = join(dir.dir, 'home');
  mkdirSync(home);
  writeFileSync(join(home, 'secret'), 'host home\n');
});
afterAll(() => dir.remove());

/**
 * `hutch ARGS` as a user runs it: bin/hutch through sh, which execs the C fast path
 * native/hutch-sandbox for `hutch sandbox`. HUTCH_SANDBOX_NO_NODE=1 (the default here) makes a
 * hand-over to the TypeScript path fail (exit 99) instead: what passes ran in C alone. The error
 * cases clear it: the C front hands every error to the TypeScript path, which words it.
 */
function hutch(args: string[], options: Options = {}): HutchResultPromise {
  const stdin = options.stdio === undefined ? { stdin: 'ignore' as const } : {};
  return execa(HUTCH, args, {
    reject: false,
    ...stdin,
    ...options,
    env: { HUTCH_DEBUG: '', HUTCH_SANDBOX_NO_NODE: '1', ...options.env },
  }) as unknown as HutchResultPromise;
}

/** `hutch sandbox FLAGS -- sh -c SCRIPT` with HOME at the scratch home; extra env on top. */
function sandboxed(flags: string[], script: string, env: Record<string, string> = {}) {
  return hutch(['sandbox', ...flags, '--', 'sh', '-c', script], { env: { HOME: home, ...env } });
}

/** The same for a case the TypeScript path answers (an error). */
const viaNode = { HUTCH_SANDBOX_NO_NODE: '' };

describe('hutch sandbox: the confinement', () => {
  it('runs as the caller, without capabilities, with no_new_privs and seccomp on, and passes the exit status on', async () => {
    const r = await sandboxed(
      [],
      'id -u; id -g; grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status; exit 7',
    );
    expect(r.exitCode).toBe(7);
    const [uid, gid, ...status] = r.stdout.split('\n');
    expect([Number(uid), Number(gid)]).toEqual([userInfo().uid, userInfo().gid]);
    expect(status.map((l) => l.replace(/\s+/g, ' '))).toEqual([
      'CapEff: 0000000000000000',
      'CapBnd: 0000000000000000',
      'NoNewPrivs: 1',
      'Seccomp: 2',
    ]);
  });

  it('passes a death by signal on as 128+N', async () => {
    expect((await sandboxed([], 'kill -9 $$')).exitCode).toBe(137);
  });

  it("has a root of its own: the system directories read-only, /bin as the host has it, no one's home", async () => {
    const r = await sandboxed(
      [],
      'ls /; readlink /bin; touch /usr/x /etc/x 2>/dev/null && echo writable; ls -A "$HOME"',
    );
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split('\n');
    // The host's own tree (/var, /srv, /root, /run, /sys, /mnt, ...) is not there.
    for (const absent of ['var', 'srv', 'root', 'run', 'sys', 'mnt', 'boot']) expect(lines).not.toContain(absent);
    for (const present of ['usr', 'etc', 'proc', 'dev', 'tmp']) expect(lines).toContain(present);
    expect(lines).toContain(readlinkOr('/bin'));
    expect(r.stdout).not.toContain('writable');
    expect(r.stdout).not.toContain('secret'); // $HOME is an empty tmpfs
    // The host's /home (this user's real home, other users') is not there: $HOME is under /tmp here.
    const homes = await sandboxed(
      [],
      'ls -A /home 2>&1; ls -A /home/hutchtest /home/hutchnosub 2>&1 | grep -vc "No such file"',
    );
    expect(homes.stdout.split('\n').at(-1)).toBe('0');
  });

  it('has a private /tmp: the host /tmp is not seen, and writes stay inside', async () => {
    writeFileSync(join(dir.dir, 'host-tmp-file'), 'x');
    // (/tmp holds only the path to $HOME here: the scratch home is under the host's /tmp.)
    const r = await sandboxed([], `test -e ${dir.dir}/host-tmp-file && echo seen; echo y > /tmp/made-inside`);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('');
    expect(() => readFileSync('/tmp/made-inside')).toThrow();
  });

  it('has a pid namespace (an init as PID 1), a fresh /proc and a minimal /dev', async () => {
    const r = await sandboxed([], 'echo $$; ls /proc | grep -c "^[0-9]"; ls /dev | tr "\\n" " "');
    expect(r.exitCode).toBe(0);
    const [pid, count, dev] = r.stdout.split('\n');
    expect(pid).toBe('2');
    expect(Number(count)).toBeLessThanOrEqual(4); // init, sh, ls, grep
    expect(dev!.trim().split(' ').sort()).toEqual(
      [
        'core',
        'fd',
        'full',
        'null',
        'ptmx',
        'pts',
        'random',
        'shm',
        'stderr',
        'stdin',
        'stdout',
        'tty',
        'urandom',
        'zero',
      ].sort(),
    );
  });

  it('runs in a session of its own, and TIOCSTI is refused by seccomp (EPERM, not ENOTTY)', async () => {
    const python =
      'import fcntl, os, termios\ntry: fcntl.ioctl(os.open("/dev/null", 0), termios.TIOCSTI, b"x")\nexcept OSError as e: print(e.errno)';
    const r = await sandboxed([], `cut -d" " -f6 /proc/$$/stat; echo $$; /usr/bin/python3 -c '${python}'`);
    const [sid, pid, errno] = r.stdout.split('\n');
    expect(sid).toBe(pid);
    expect(Number(errno)).toBe(1);
  });

  it("does not pass the caller's fds on", async () => {
    const fd = openSync(join(dir.dir, 'host-tmp-file'), 'r');
    try {
      const r = await hutch(['sandbox', '--', 'sh', '-c', 'ls /proc/self/fd | tr "\\n" " "'], {
        stdio: ['ignore', 'pipe', 'pipe', fdStdio(fd)],
        env: { HOME: home },
      });
      expect(r.exitCode).toBe(0);
      expect(r.stdout.trim().split(' ')).toEqual(['0', '1', '2', '3']); // 3: ls's own directory
    } finally {
      closeSync(fd);
    }
  });
});

describe('hutch sandbox: the network', () => {
  let server: Server;
  let port = 0;
  const seen: string[] = [];
  beforeAll(async () => {
    server = createServer((s) => s.on('data', (d) => seen.push(String(d).trim())));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => server.close());
  const send = (word: string): string => `bash -c 'echo ${word} > /dev/tcp/127.0.0.1/${port}' 2>/dev/null; echo $?`;

  it('has none by default (only its own lo)', async () => {
    const r = await sandboxed([], `${send('closed')}; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "`);
    expect(r.stdout.split('\n')).toEqual(['1', 'lo']);
    expect(seen).not.toContain('closed');
  });

  it("shares the host's with --share-net", async () => {
    const r = await sandboxed(['--share-net'], send('shared'));
    expect(r.stdout.trim()).toBe('0');
    await expect.poll(() => seen).toContain('shared');
  });
});

describe('hutch sandbox: binds', () => {
  it('--bind is read-write, --ro-bind read-only, at the destination given', async () => {
    const rw = join(dir.dir, 'rw');
    const ro = join(dir.dir, 'ro');
    mkdirSync(rw);
    mkdirSync(ro);
    writeFileSync(join(ro, 'f'), 'ro\n');
    const r = await sandboxed(
      ['--bind', rw, '/work', '--ro-bind', ro, '/work/in'],
      'echo made > /work/out; cat /work/in/f; echo no > /work/in/g 2>/dev/null || echo refused',
    );
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('ro\nrefused');
    expect(readFileSync(join(rw, 'out'), 'utf8')).toBe('made\n');
  });

  it('--dev-bind binds devices usable', async () => {
    const r = await sandboxed(['--dev-bind', '/dev/null', '/dev-null'], 'echo x > /dev-null && echo ok');
    expect(r.stdout).toBe('ok');
  });

  it('-try forms skip a missing source; the plain forms fail on it and run nothing', async () => {
    const gone = join(dir.dir, 'gone');
    const tried = await sandboxed(
      ['--bind-try', gone, '/a', '--ro-bind-try', gone, '/b', '--dev-bind-try', gone, '/c'],
      'ls / | grep -cx "[abc]"',
    );
    expect(tried.stdout).toBe('0');
    for (const flag of ['--bind', '--ro-bind', '--dev-bind']) {
      const r = await sandboxed([flag, gone, '/a'], 'echo ran', viaNode);
      expect(r.exitCode).toBe(125);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`cannot bind ${gone} at /a: ${gone} does not exist`);
    }
  });

  it('resolves destinations inside the new root: a relative one is refused, `..` stays inside', async () => {
    const r = await sandboxed(['--bind', dir.dir, 'work'], 'true', viaNode);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain('must be absolute');
    const up = await sandboxed(['--ro-bind', join(dir.dir, 'home'), '/../../up'], 'ls /up');
    expect(up.stdout).toBe('secret');
  });

  it('--tmpfs mounts an empty tmpfs (0755), a bind inside it going on top whatever the order', async () => {
    const rw = join(dir.dir, 'under-tmpfs');
    mkdirSync(rw);
    const r = await sandboxed(
      ['--bind', rw, '/work/in', '--tmpfs', '/work'],
      'echo a > /work/scratch && echo b > /work/in/kept && stat -c %a /work && ls /work',
    );
    expect(r.stdout).toBe('755\nin\nscratch');
    expect(readFileSync(join(rw, 'kept'), 'utf8')).toBe('b\n');
  });

  it('--home binds a directory read-write at $HOME', async () => {
    const other = join(dir.dir, 'other-home');
    mkdirSync(other);
    const r = await sandboxed(['--home', other, '--chdir', '/tmp'], 'pwd; echo kept > "$HOME/note"');
    expect(r.stdout).toBe('/tmp');
    expect(readFileSync(join(other, 'note'), 'utf8')).toBe('kept\n');
  });
});

describe('hutch sandbox: --dir and --symlink', () => {
  it('makes directories (0755, with parents) and symlinks (their text as given) inside the root', async () => {
    const r = await sandboxed(
      [
        '--dir',
        '/run/user/1000',
        '--dir',
        '/var/',
        '--symlink',
        'usr/lib',
        '/lib64x',
        '--symlink',
        '/no/where',
        '/x/dangling',
      ],
      'stat -c "%F %a" /run /run/user/1000 /var; readlink /lib64x /x/dangling; test -d /lib64x && echo followed',
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual([
      'directory 755',
      'directory 755',
      'directory 755',
      'usr/lib',
      '/no/where',
      'followed',
    ]);
  });

  it('an identical link is fine; anything else at DEST is an error naming it, and nothing runs', async () => {
    const same = await sandboxed(['--symlink', 'a', '/l', '--symlink', 'a', '/l'], 'readlink /l');
    expect(same.stdout).toBe('a');
    for (const flags of [
      ['--symlink', 'a', '/l', '--symlink', 'b', '/l'],
      ['--symlink', 'a', '/tmp'],
    ]) {
      const r = await sandboxed(flags, 'echo ran', viaNode);
      expect(r.exitCode).toBe(125);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`make the symlink ${flags.at(-1)} -> ${flags.at(-2)}: symlink failed: EEXIST`);
    }
    const file = await sandboxed(['--ro-bind', join(home, 'secret'), '/f', '--dir', '/f/sub'], 'echo ran', viaNode);
    expect([file.exitCode, file.stdout]).toEqual([125, '']);
    expect(file.stderr).toContain('make the directory /f/sub: dir failed: ENOTDIR');
  });

  it('a DEST on a read-only bind fails before the command runs, naming DEST and the cause', async () => {
    for (const [flags, dest] of [
      [['--ro-bind', home, '/ro', '--dir', '/ro/sub'], '/ro/sub'],
      [['--dir', '/usr/hutch-made'], '/usr/hutch-made'],
    ] as const) {
      const r = await sandboxed([...flags], 'echo ran', viaNode);
      expect(r.exitCode).toBe(125);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`make the directory ${dest}: dir failed: EROFS`);
    }
    const link = await sandboxed(['--symlink', 'x', '/usr/hutch-link'], 'echo ran', viaNode);
    expect(link.stderr).toContain('make the symlink /usr/hutch-link -> x: symlink failed: EROFS');
  });

  it('applies them in order with --tmpfs and --bind: under a tmpfs in it, under a bind on the host', async () => {
    const rw = join(dir.dir, 'dir-bind');
    mkdirSync(rw);
    const r = await sandboxed(
      ['--dir', '/w/d', '--tmpfs', '/w', '--bind', rw, '/w/in', '--dir', '/w/in/sub', '--symlink', '../d', '/w/in/l'],
      'stat -f -c %T /w; ls /w; readlink /w/in/l',
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['tmpfs', 'd', 'in', '../d']);
    expect(readdirSync(rw).sort()).toEqual(['l', 'sub']);
    expect(readlinkSync(join(rw, 'l'))).toBe('../d');
  });

  it('a hostile DEST stays inside the root: `..`, a link to /.., a link naming a host path', async () => {
    const state = join(dir.dir, 'hostile-state'); // HUTCH_ROOT: the root is STATE/run/sandbox-root
    const host = join(dir.dir, 'hostile-host');
    const name = `hutch-sandboxfs-${process.pid}`; // made in the sandbox's /tmp, never in the host's
    mkdirSync(state, { mode: 0o700 });
    mkdirSync(host);
    const r = await sandboxed(
      [
        ...['--dir', '/../../escaped-dir', '--symlink', '/..', '/up', '--dir', '/up/up-dir'],
        ...['--symlink', '/../..', '/up2', '--symlink', 'text', '/up2/up-link'],
        ...['--symlink', '/tmp', '/hostlink', '--dir', `/hostlink/${name}`, '--symlink', 'y', `/hostlink/${name}-l`],
      ],
      `ls -d /escaped-dir /up-dir /up-link /tmp/${name} /tmp/${name}-l`,
      { HUTCH_ROOT: state },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['/escaped-dir', `/tmp/${name}`, `/tmp/${name}-l`, '/up-dir', '/up-link']);
    expect(readdirSync(state)).toEqual(['run']);
    expect(readdirSync(join(state, 'run'))).not.toContain('up-dir');
    expect(readdirSync('/tmp').filter((f) => f.startsWith(name))).toEqual([]);
    // A link to a host path missing in the sandbox: nothing is made through it, inside or out.
    for (const flags of [
      ['--dir', '/hostlink/made'],
      ['--symlink', 'y', '/hostlink/made/l'],
    ]) {
      const dangling = await sandboxed(['--symlink', host, '/hostlink', ...flags], 'echo ran', viaNode);
      expect([dangling.exitCode, dangling.stdout]).toEqual([125, '']);
      expect(dangling.stderr).toMatch(/make the (directory|symlink) \/hostlink\/made.*: (dir|symlink) failed: ENOENT/);
    }
    expect(readdirSync(host)).toEqual([]);
  });
});

describe('hutch sandbox: the environment', () => {
  it('passes the environment minus the blocklist; --setenv and --unsetenv; the working directory is $HOME', async () => {
    const r = await sandboxed(
      ['--setenv', 'ADDED', 'yes', '--unsetenv', 'DROPPED'],
      'pwd; echo "$KEPT/$ADDED/${DROPPED-unset}/${SSH_AUTH_SOCK-unset}/${HUTCH_SECRET-unset}/${DISPLAY-unset}"',
      { KEPT: 'kept', DROPPED: 'x', SSH_AUTH_SOCK: '/tmp/agent', HUTCH_SECRET: 'x', DISPLAY: ':0' },
    );
    expect(r.stdout).toBe(`${home}\nkept/yes/unset/unset/unset/unset`);
  });

  it('--clearenv passes nothing of the caller (HOME names the sandbox home)', async () => {
    const r = await sandboxed(['--clearenv', '--setenv', 'ONLY', '1'], 'env | grep -v -E "^(PWD|SHLVL|_)=" | sort', {
      KEPT: 'kept',
    });
    expect(r.stdout).toBe(`HOME=${home}\nONLY=1`);
  });
});

describe('hutch sandbox: session sockets', () => {
  let runtimeDir: string;
  let server: Server;
  let connections = 0;
  beforeAll(async () => {
    runtimeDir = join(dir.dir, 'xdg');
    mkdirSync(runtimeDir, { mode: 0o700 });
    server = createServer(() => void connections++);
    await new Promise<void>((resolve) => server.listen(join(runtimeDir, 'wayland-test'), resolve));
  });
  afterAll(() => server.close());
  const env = (): Record<string, string> => ({ XDG_RUNTIME_DIR: runtimeDir, WAYLAND_DISPLAY: 'wayland-test' });
  const probe =
    'test -S "$XDG_RUNTIME_DIR/wayland-test" && echo socket; echo "${WAYLAND_DISPLAY-unset}"; ' +
    'perl -MIO::Socket::UNIX -e \'IO::Socket::UNIX->new(Peer => "$ENV{XDG_RUNTIME_DIR}/$ENV{WAYLAND_DISPLAY}") or exit 3\'; echo $?';

  it('a Wayland socket is not there unless asked for', async () => {
    const r = await sandboxed(
      [],
      `test -e ${runtimeDir}/wayland-test && echo socket; echo "\${WAYLAND_DISPLAY-unset}/\${XDG_RUNTIME_DIR-unset}"`,
      env(),
    );
    expect(r.stdout).toBe('unset/unset');
  });

  it('--socket wayland binds it at its path and sets WAYLAND_DISPLAY and XDG_RUNTIME_DIR', async () => {
    const before = connections;
    const r = await sandboxed(['--socket', 'wayland'], probe, env());
    expect(r.stdout.split('\n')).toEqual(['socket', 'wayland-test', '0']);
    await expect.poll(() => connections).toBe(before + 1);
  });

  it('--socket dbus binds the session bus named by DBUS_SESSION_BUS_ADDRESS', async () => {
    const bus = `unix:path=${runtimeDir}/wayland-test,guid=0`;
    const r = await sandboxed(['--socket', 'dbus'], 'echo "$DBUS_SESSION_BUS_ADDRESS"', {
      DBUS_SESSION_BUS_ADDRESS: bus,
    });
    expect(r.stdout).toBe(`unix:path=${runtimeDir}/wayland-test`);
  });

  it('a socket asked for that is not there is an error', async () => {
    const r = await sandboxed(['--socket', 'pulseaudio'], 'true', {
      PULSE_SERVER: `unix:${runtimeDir}/none`,
      ...viaNode,
    });
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain(`cannot pass the pulseaudio socket into the sandbox: ${runtimeDir}/none does not exist`);
    const bad = await sandboxed(['--socket', 'telepathy'], 'true', viaNode);
    expect(bad.exitCode).toBe(125);
    expect(bad.stderr).toContain('invalid --socket telepathy');
  });
});

describe('hutch sandbox: --die-with-parent', () => {
  it('ends the sandbox when the process that started hutch dies', async () => {
    const marker = join(dir.dir, 'alive');
    // A parent shell that starts hutch and is then killed: hutch, and the sandbox, must follow.
    const parent = execa(
      'sh',
      [
        '-c',
        `${HUTCH} sandbox --die-with-parent --bind ${dir.dir} ${dir.dir} -- sh -c 'while :; do date +%s%N > ${marker}; sleep 0.05; done' & wait`,
      ],
      {
        env: { HOME: home, HUTCH_SANDBOX_NO_NODE: '1' },
        reject: false,
      },
    );
    await expect.poll(() => readOr(marker), { timeout: 20_000 }).not.toBe('');
    parent.kill('SIGKILL');
    await parent;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const stopped = readOr(marker);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(readOr(marker)).toBe(stopped);
  });
});

function readlinkOr(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
