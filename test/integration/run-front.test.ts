// `hutch run [--network none|host|slirp4netns] --rootfs DIR CMD` has two paths: the C front
// native/hutch-run-front (bin/hutch execs it for `run`) and the TypeScript one, which stays the
// reference. Each row of a table of command lines, environments, containers.conf contents and
// trees runs through both with HUTCH_RUN_PRINT_PLAN=1 and the plans must be the same bytes (the
// run's random id aside). What the front does not handle it hands to the TypeScript path
// (HUTCH_RUN_NO_NODE=1 makes it say so and exit 99 instead), which then gives its own output and
// status. Real runs: the user inside and out, the exit status, stdin, a signal relayed, the
// default network (slirp4netns) and nothing left behind.
import { execa } from 'execa';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerTerminal } from '../helpers/caller-terminal.js';
import { startsDetachedContainer } from '../../src/cli/early-monitor.cjs';
import { CONTAINER_LINES } from '../helpers/container-lines.js';
import { requires } from '../helpers/host.js';
import { HUTCH, sandbox as scratch, type Sandbox } from '../helpers/hutch-cli.js';
import {
  hutchVia as hutchAt,
  IN_C,
  normalized,
  noNetworkRun,
  PATH,
  startedVia,
  text,
  type Via,
} from '../helpers/run-front.js';
import { expectNoLeaks, leakSnapshot } from '../helpers/leaks.js';
import { hostHttpServer } from '../helpers/netns.js';
import { busyboxRootfs } from '../helpers/rootfs.js';

let dir: Sandbox;
let home: string;
/** Trees: the busybox one, and variants of its /etc/passwd and /etc/group. */
const trees: Record<string, string> = {};

/** A copy of the busybox tree at DIR/NAME/rootfs, changed by `edit`. */
async function tree(name: string, edit: (rootfs: string) => void = () => undefined): Promise<string> {
  const rootfs = await busyboxRootfs(join(dir.dir, name));
  edit(rootfs);
  return rootfs;
}

beforeAll(async () => {
  requires('userns', 'subuid', 'newuidmap', 'busybox', 'slirp4netns', 'tun');
  dir = scratch();
  home = join(dir.dir, 'home');
  mkdirSync(home);
  trees.plain = await tree('plain');
  trees.groups = await tree('groups', (r) => {
    writeFileSync(
      join(r, 'etc/passwd'),
      '# users\nuser:x:1000:1000::/home/user:/bin/sh\nroot:x:0:0:root:/home/r:/bin/sh\n',
    );
    // wheel and audio hold root; 70000 is not mapped; root's own gid is not a supplementary one.
    writeFileSync(
      join(r, 'etc/group'),
      'root:x:0:root\nwheel:x:10:user,root\n#x:x:11:root\nbig:x:70000:root\naudio:x:29:root\n',
    );
  });
  trees.noRoot = await tree('no-root', (r) =>
    writeFileSync(join(r, 'etc/passwd'), 'user:x:1000:1000::/home/user:/bin/sh\n'),
  );
  trees.noFiles = await tree('no-files', (r) => ['passwd', 'group'].forEach((f) => unlinkSync(join(r, 'etc', f))));
  trees.emptyHome = await tree('empty-home', (r) => writeFileSync(join(r, 'etc/passwd'), 'root:x:0:0:root::/bin/sh\n'));
  trees.hostileLink = await tree('hostile', (r) => {
    unlinkSync(join(r, 'etc/passwd'));
    symlinkSync('/etc/passwd', join(r, 'etc/passwd')); // the host's: read through a link out of the root
  });
  trees.noHosts = await tree('no-hosts', (r) => unlinkSync(join(r, 'etc/hosts'))); // runs on the union
  trees.procLink = await tree('proc-link', (r) => {
    rmSync(join(r, 'proc'), { recursive: true });
    symlinkSync('/etc', join(r, 'proc')); // proc must be mounted on a plain directory
  });
  trees.etcLink = await tree('etc-link', (r) => {
    renameSync(join(r, 'etc'), join(r, 'real-etc'));
    symlinkSync('real-etc', join(r, 'etc')); // a mount target's folder a link: the TypeScript path's to resolve
  });
  trees.hostsLink = await tree('hosts-link', (r) => {
    unlinkSync(join(r, 'etc/hosts'));
    symlinkSync('/etc/shadow', join(r, 'etc/hosts')); // resolved in the root: missing there
  });
});
afterAll(() => dir.remove());

/** A containers.conf of the user's (XDG_CONFIG_HOME=DIR/conf-N), for a row's environment. */
let confs = 0;
function conf(text: string): Record<string, string> {
  const config = join(dir.dir, `conf-${confs++}`);
  mkdirSync(join(config, 'containers'), { recursive: true });
  writeFileSync(join(config, 'containers', 'containers.conf'), text);
  return { XDG_CONFIG_HOME: config };
}

/** bin/hutch through sh (the C front) or `node bin/hutch` (the TypeScript path), with exactly `env`. */
function hutchVia(via: Via, args: string[], env: Record<string, string>, extra: Record<string, string> = {}) {
  return hutchAt(via, args, { cwd: dir.dir, home }, { ...env, ...extra });
}

interface Row {
  name: string;
  args: string[];
  env?: Record<string, string>;
  /** The environment of the HUTCH_RUN_NO_NODE=1 proof when not `env` (which may hold a HUTCH_ variable). */
  proofEnv?: Record<string, string>;
  /** What the front says it hands over. */
  why?: string;
  /** The proof alone: the TypeScript path's run of it is another test's. */
  proofOnly?: boolean;
}

/** A file DIR/NAME holding `content` (an --env-file), its path. */
function envFile(name: string, content: string | Buffer): string {
  const path = join(dir.dir, name);
  writeFileSync(path, content);
  return path;
}

/** A folder holding directories named slirp4netns, newuidmap and newgidmap (executable, not files). */
function toolDirs(): string {
  const d = join(dir.dir, 'tool-dirs');
  for (const tool of ['slirp4netns', 'newuidmap', 'newgidmap'])
    mkdirSync(join(d, tool), { recursive: true, mode: 0o755 });
  return d;
}

function rows(): Row[] {
  const root = dir.root;
  const run = (...rest: string[]): string[] => ['--root', root, 'run', ...rest];
  const docker = 'cap_chown DAC_OVERRIDE CAP_FSETID FOWNER mknod NET_RAW SETGID SETUID SETFCAP SETPCAP';
  return [
    { name: '--network none', args: run('--rm', '--network', 'none', '--rootfs', trees.plain!, 'true') },
    { name: '-i', args: run('-i', '--rm', '--network', 'none', '--rootfs', trees.plain!, 'cat') },
    { name: '--interactive', args: run('--network', 'none', '--interactive', '--rootfs', trees.plain!, 'cat') },
    {
      name: '-t (TERM=xterm, the terminal)',
      args: run('-t', '--rm', '--network', 'none', '--rootfs', trees.plain!, 'true'),
    },
    { name: '-it', args: run('-it', '--network', 'none', '--rootfs', trees.plain!, 'cat') },
    {
      name: '--tty, -i apart, -e TERM (its place kept)',
      args: run('--tty', '--network', 'none', '-i', '-e', 'TERM=dumb', '-e', 'A=1', '--rootfs', trees.plain!, 'cat'),
    },
    { name: '-ti', args: run('-ti', '--network', 'host', '--rootfs', trees.plain!, 'cat') },
    { name: 'the default network (slirp4netns): its tap', args: run('--rm', '--rootfs', trees.plain!, 'true') },
    {
      name: '--network slirp4netns, -u, --hostname',
      args: run('--network=slirp4netns', '-u', 'user', '--hostname', 'box', '--rootfs', trees.plain!, 'id'),
    },
    {
      name: '--network host, arguments with spaces and non-ASCII',
      args: run('--network', 'host', '--rootfs', trees.plain!, '--rm', 'sh', '-c', 'echo "$0"', 'x y é ✓'),
    },
    {
      name: '--root=, --network=, --rootfs=, --, no --rm',
      args: [`--root=${root}`, 'run', '--network=none', `--rootfs=${trees.plain}`, '--', 'id', '-u'],
    },
    {
      name: '--root after run, a relative --rootfs with `..`',
      args: ['run', '--root', root, '--network', 'none', '--rootfs', 'plain/rootfs/bin/../', 'true'],
    },
    {
      name: 'HUTCH_ROOT',
      args: ['run', '--network', 'none', '--rootfs', trees.plain!, 'true'],
      env: { HUTCH_ROOT: root },
    },
    {
      name: 'XDG_DATA_HOME and XDG_RUNTIME_DIR',
      args: ['run', '--network', 'none', '--rootfs', trees.plain!, 'true'],
      env: { XDG_DATA_HOME: join(dir.dir, 'xdg-data'), XDG_RUNTIME_DIR: join(dir.dir, 'xdg-run') },
    },
    {
      name: '-e and --env: K=V, K from the caller, an unset K, =V, PATH, HOSTNAME and HOME set, a name set twice',
      args: run(
        ...['--network', 'none', '--rootfs', trees.plain!, '-e', 'A=1', '--env', 'FROM_HOST', '-e', 'UNSET_ONE'],
        ...['-e', '=x', '--env=B=2=3', '-e', 'HOSTNAME=h', '-e', 'A=again', '-e', 'HOME=', '-e', 'É=é ✓'],
        ...['-e', 'PATH=/bin', 'true'],
      ),
      env: { FROM_HOST: 'host value' },
    },
    {
      name: '--env-file twice, then -e: comments, blank lines, CRLF, spaces at the edges, K from the caller, an unset K, =V, UTF-8 inside a line',
      args: run(
        ...['--network', 'none', '--env-file', envFile('env-a', '# a comment\n\n  A=from file  \r\nB=1\nFROM_HOST\n')],
        ...[
          `--env-file=${envFile('env-b', 'UNSET_ONE\n=x\nC=é inside\n\t# indented comment\nA=second')}`,
          '-e',
          'B=flag',
        ],
        ...['--rootfs', trees.plain!, 'true'],
      ),
      env: { FROM_HOST: 'host value' },
    },
    { name: '--init', args: run('--init', '--rm', '--network', 'none', '--rootfs', trees.plain!, 'true') },
    ...['1g', '512M', '100', '1536kib', '2GB', '3Pb'].map((size) => ({
      name: `--shm-size ${size}`,
      args: run(`--shm-size=${size}`, '--network', 'none', '--rootfs', trees.plain!, 'true'),
    })),
    {
      name: "--env-host: the caller's variables but the blocked ones, under --env-file's and -e's; TERM over -t's",
      args: run(
        ...[
          '--env-host',
          '-t',
          '--network',
          'none',
          '--env-file',
          envFile('env-host', 'FROM_FILE=1\nSLURM_JOB_ID=file\n'),
        ],
        ...['-e', 'FROM_HOST=flag', '--rootfs', trees.plain!, 'true'],
      ),
      env: {
        FROM_HOST: 'host',
        SLURM_JOB_ID: '7',
        OTHER: 'x y',
        TERM: 'vt100',
        LD_LIBRARY_PATH: '/nowhere',
        SSH_AUTH_SOCK: '/s',
        'BASH_FUNC_f%%': '() { :; }',
        PWD: '/somewhere',
        '1': 'an index',
      },
    },
    {
      name: '--security-opt no-new-privileges',
      args: run('--security-opt', 'no-new-privileges', '--network', 'none', '--rootfs', trees.plain!, 'true'),
    },
    {
      name: '--security-opt no-new-privileges:true, then =false (the last counts)',
      args: run(
        ...['--security-opt=no-new-privileges:true', '--security-opt', 'no-new-privileges=false'],
        ...['--network', 'none', '--rootfs', trees.plain!, 'true'],
      ),
    },
    {
      name: '--security-opt no-new-privileges=false, then no-new-privileges',
      args: run(
        ...['--security-opt', 'no-new-privileges=false', '--security-opt', 'no-new-privileges'],
        ...['--network', 'none', '--rootfs', trees.plain!, 'true'],
      ),
    },
    {
      name: '--ulimit: soft and hard, soft alone, -1 (unlimited), -0, leading zeros, a name twice',
      args: run(
        ...['--ulimit', 'nofile=1024:2048', '--ulimit=core=-1', '--ulimit', 'cpu=007:-5', '--ulimit', 'nproc=-0'],
        ...['--ulimit', 'nofile=512', '--network', 'none', '--rootfs', trees.plain!, 'true'],
      ),
    },
    {
      name: '--read-only (the root remounted read-only once the mounts are made), with a --tmpfs',
      args: run('--read-only', '--network', 'none', '--tmpfs', '/tmp', '--rootfs', trees.plain!, 'true'),
    },
    {
      name: '-w, --workdir= (as given), --hostname',
      args: run('-w', '/tmp', '--hostname', 'box.example', '--network', 'host', '--rootfs', trees.plain!, 'true'),
    },
    {
      name: '--workdir= with `..`, a hostname of 64 characters',
      args: run(
        '--workdir=/etc/../tmp/',
        `--hostname=${'h'.repeat(64)}`,
        '--network',
        'none',
        '--rootfs',
        trees.plain!,
        'true',
      ),
    },
    ...['user', '1000', '--user=user:staff', 'user:0', '0:5', '4242', '4242:50', 'root:wheel'].map((u) => ({
      name: `-u ${u} (names and ids, a uid without a line, a group by name and by id)`,
      args: run(
        ...(u.startsWith('--') ? [u] : ['-u', u]),
        ...['--network', 'none', '--rootfs', u.startsWith('root') ? trees.groups! : trees.plain!, 'true'],
      ),
    })),
    {
      name: 'root with a home, supplementary groups',
      args: run('--network', 'none', '--rootfs', trees.groups!, 'true'),
    },
    { name: 'no root in /etc/passwd', args: run('--network', 'none', '--rootfs', trees.noRoot!, 'true') },
    { name: 'no /etc/passwd nor /etc/group', args: run('--network', 'none', '--rootfs', trees.noFiles!, 'true') },
    { name: 'an empty home', args: run('--network', 'none', '--rootfs', trees.emptyHome!, 'true') },
    {
      name: "containers.conf: docker's set in any order and spelling, comments, keys hutch does not read",
      args: run('--network', 'none', '--rootfs', trees.plain!, 'true'),
      env: conf(
        `# mine\n[containers]  # the table\ndefault_capabilities = [\n  ${docker
          .split(' ')
          .map((c) => `"${c}"`)
          .join(',\n  ')},\n  "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE", # last\n]\n` +
          'default_sysctls = ["net.ipv4.ping_group_range=0 0"]\ninit = false\npids_limit = 2048\n\n[engine]\nevents_logger = "file"\n[engine.runtimes]\n',
      ),
    },
    {
      // src/sys/on-path.ts and its C twin: an empty entry is the working directory, a relative one
      // is under it, and a directory named like the tool is passed over (slirp4netns, newuidmap).
      name: 'PATH with an empty and a relative entry, and directories named slirp4netns and newuidmap first',
      args: run('--rm', '--rootfs', trees.plain!, 'true'),
      env: { PATH: `:fakebin:${toolDirs()}:${PATH}` },
    },
    {
      name: '--tmpfs /tmp (mode=1777)',
      args: run('--network', 'none', '--tmpfs', '/tmp', '--rootfs', trees.plain!, 'true'),
    },
    {
      name: '--tmpfs with flags and data, a -v beneath it (made in the tmpfs), another beneath the first',
      args: run(
        '--network=none',
        '--tmpfs=/tmp:size=1m,noexec,mode=0700,,ro,rw,private,notmpcopyup',
        '--tmpfs',
        '/tmp/in/side:',
        '-v',
        `${home}:/tmp/bound`,
        '--rootfs',
        trees.plain!,
        'true',
      ),
    },
    {
      name: 'containers.conf: an empty [containers]',
      args: run('--network', 'host', '--rootfs', trees.plain!, 'true'),
      env: conf('[containers]\n[network]\n'),
    },
  ];
}

/** A real run of the TypeScript path with slirp4netns: it caches slirp4netns' --help, which the front reads. */
/** bin/hutch on `args`, in C (a hand-over would exit 99), once its container has printed "up" (in an object: awaiting the child itself would wait for its end). */
/** A run through the C front, once its command said `up`; `extraFds` pipes open at fds 3 and up without close-on-exec. */
async function startedInC(args: string[], extraFds = 0) {
  const child = execa(HUTCH, args, {
    env: { PATH, HOME: home, HUTCH_RUN_NO_NODE: '1' },
    extendEnv: false,
    reject: false,
    stdio: ['ignore', 'pipe', 'pipe', ...Array<'pipe'>(extraFds).fill('pipe')],
  });
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (d: Buffer) => d.toString().includes('up') && resolve()),
  );
  return { child };
}

async function cacheSlirpHelp(): Promise<void> {
  const made = await hutchVia('node', ['--root', dir.root, 'run', '--rootfs', trees.plain!, 'true'], {});
  expect(made.exitCode).toBe(0);
  expect(existsSync(join(dir.root, 'run', 'net', 'slirp4netns-help'))).toBe(true);
}

describe('hutch run --rootfs: the C front and the TypeScript path make the same plan', () => {
  it('for every row of the table', async () => {
    await cacheSlirpHelp();
    for (const row of rows()) {
      const env = { HUTCH_RUN_PRINT_PLAN: '1', ...row.env };
      // The TypeScript path first (the store probed in C is another test's).
      const node = await hutchVia('node', row.args, env);
      const c = await hutchVia('c', row.args, env, { HUTCH_RUN_NO_NODE: '1' });
      expect({ row: row.name, status: node.exitCode, stderr: Buffer.from(node.stderr).toString() }).toEqual({
        row: row.name,
        status: 0,
        stderr: '',
      });
      expect({ row: row.name, status: c.exitCode, stderr: Buffer.from(c.stderr).toString() }).toEqual({
        row: row.name,
        status: 0,
        stderr: '',
      });
      expect(normalized(c.stdout), row.name).toBe(normalized(node.stdout));
    }
  });
});

describe('hutch run --rootfs: what the C front hands over', () => {
  const script = 'echo "A=$A"; grep CapEff /proc/self/status; id';
  const handed = (): Row[] => {
    const root = dir.root;
    const run = (...rest: string[]): string[] => ['--root', root, 'run', ...rest];
    const none = (...rest: string[]): string[] => run('--network', 'none', '--rootfs', trees.plain!, ...rest);
    return [
      {
        name: '--env-file of a file that is not a regular one',
        args: run('--env-file', '/dev/null', '--network', 'none', '--rootfs', trees.plain!, 'sh', '-c', script),
        why: 'an --env-file it does not read',
      },
      {
        name: 'a missing --env-file',
        args: none('--env-file', join(dir.dir, 'no-such-env'), 'true'),
        why: 'does not read',
      },
      {
        name: 'an --env-file with a byte order mark',
        args: none('--env-file', envFile('env-bom', '\ufeffA=1\n'), 'sh', '-c', script),
        why: 'non-ASCII edge',
      },
      {
        name: 'an --env-file line ending in a non-ASCII letter',
        args: none('--env-file', envFile('env-end', 'A=é\n'), 'sh', '-c', script),
        why: 'non-ASCII edge',
      },
      {
        name: 'an --env-file holding a NUL',
        args: none('--env-file', envFile('env-nul', 'A=1\0\nB=2\n'), 'sh', '-c', script),
        why: 'NUL',
      },
      {
        name: 'an --env-file that is not UTF-8',
        args: none(
          '--env-file',
          envFile('env-latin1', Buffer.from([0x41, 0x3d, 0xe9, 0x78, 0x0a])),
          'sh',
          '-c',
          script,
        ),
        why: 'not UTF-8',
      },
      { name: 'a relative -w', args: none('-w', 'tmp', 'true') },
      { name: 'a relative --tmpfs', args: none('--tmpfs', 'tmp', 'true'), why: 'not an absolute path' },
      { name: '--tmpfs with two colons', args: none('--tmpfs', '/tmp:mode=1777:x', 'true'), why: "a second ':'" },
      { name: '--tmpfs over a system mount', args: none('--tmpfs', '/dev/shm', 'true'), why: 'system mount' },
      { name: '--tmpfs over /etc', args: none('--tmpfs', '/etc', 'true'), why: 'system mount' },
      { name: '--tmpfs tmpcopyup', args: none('--tmpfs', '/tmp:tmpcopyup', 'true'), why: 'tmpcopyup' },
      { name: '--tmpfs the tree lacks', args: none('--tmpfs', '/no/such', 'true'), why: 'lacks a --tmpfs' },
      {
        name: '--network given twice',
        args: run('--network', 'none', '--network', 'host', '--rootfs', trees.plain!, 'true'),
        why: 'given twice',
      },
      { name: '-w given twice', args: none('-w', '/', '-w', '/tmp', 'pwd'), why: 'given twice' },
      // a name linux.ts does not know, a unit, two colons, capitals
      ...['bogus=1', 'nofile=1k', 'nofile=1:2:3', 'NOFILE=1'].map((value) => ({
        name: `--ulimit ${value}`,
        args: none('--ulimit', value, 'true'),
        why: 'a --ulimit',
      })),
      {
        name: 'a --ulimit past what a double holds exactly',
        args: none('--ulimit', 'fsize=12345678901234567', 'true'),
        why: 'a --ulimit',
        proofOnly: true,
      },
      {
        name: '--security-opt seccomp=unconfined',
        args: none('--security-opt', 'seccomp=unconfined', 'true'),
        why: 'a --security-opt',
      },
      { name: '--security-opt mask', args: none('--security-opt', 'mask=/etc', 'true'), why: 'a --security-opt' },
      {
        name: '--security-opt no-new-privileges=yes',
        args: none('--security-opt', 'no-new-privileges=yes', 'true'),
        why: 'a --security-opt',
      },
      {
        name: '--security-opt label=disable',
        args: none('--security-opt', 'label=disable', 'true'),
        why: 'a --security-opt',
      },
      { name: '--env-host given twice', args: none('--env-host', '--env-host', 'true'), why: 'given twice' },
      { name: '--no-env-host', args: none('--no-env-host', 'true'), why: 'a flag it does not handle' },
      // IPv6, host-gateway, brackets, a leading zero, a name parseAddHost refuses, no name
      ...['v6:::1', 'h:host-gateway', 'h:[10.0.0.1]', 'h:10.0.0.01', 'h-:10.0.0.1', ':10.0.0.1'].map((value) => ({
        name: `--add-host ${value}`,
        args: none('--add-host', value, 'true'),
        why: 'NAME:IPv4',
      })),
      {
        name: '--dns with a line break',
        args: none('--dns', '10.0.0.1\nnameserver 6.6.6.6', 'true'),
        why: 'line break',
      },
      { name: '--dns-option JSON escapes', args: none('--dns-option', 'a"b', 'true'), why: 'JSON would escape' },
      // a fraction, 0, white space, an unknown unit, more digits than a double holds
      ...['1.5g', '0', '1 g', '1x', '12345678901234567'].map((size) => ({
        name: `--shm-size ${size}`,
        args: none('--shm-size', size, 'true'),
        why: 'a --shm-size it does not read',
      })),
      {
        name: '--shm-size given twice',
        args: none('--shm-size', '1g', '--shm-size', '2g', 'true'),
        why: 'given twice',
      },
      { name: '--init given twice', args: none('--init', '--init', 'true'), why: 'given twice' },
      { name: '--read-only given twice', args: none('--read-only', '--read-only', 'true'), why: 'given twice' },
      { name: '--no-read-only', args: none('--no-read-only', 'true'), why: 'a flag it does not handle' },
      { name: '--read-only=true', args: none('--read-only=true', 'true'), why: 'a flag it does not handle' },
      { name: '-u of a user the tree lacks', args: none('-u', 'nosuch', 'true'), why: 'lacks' },
      { name: '-u of a group the tree lacks', args: none('-u', 'user:nosuch', 'true'), why: 'lacks' },
      { name: '-u of an unmapped uid', args: none('-u', '70000', 'true'), why: 'not mapped' },
      { name: '-u with two colons', args: none('-u', '1:2:3', 'true'), why: "more than one ':'" },
      { name: 'a --hostname with a space', args: none('--hostname', 'a b', 'true') },
      { name: 'a --hostname of 65 characters', args: none('--hostname', 'h'.repeat(65), 'true') },
      { name: 'a -w that is not in the tree (the helper fails)', args: none('-w', '/no/such/dir', 'true') },
      { name: '-e=V', args: none('-e=A=1', 'sh', '-c', script) },
      {
        name: "-itd (a batch with -d: a detached run is Node's)",
        args: none('-itd', 'true'),
        why: '-d (a detached run',
        proofOnly: true,
      },
      { name: '-t given twice', args: none('-t', '--tty', 'true'), why: 'given twice' },
      { name: '-tt', args: none('-tt', 'true'), why: 'given twice' },
      { name: '-i given twice', args: none('-i', '--interactive', 'true'), why: 'given twice' },
      {
        name: 'slirp4netns with options',
        args: run('--network', 'slirp4netns:mtu=1500', '--rootfs', trees.plain!, 'sh', '-c', script),
        why: 'a network other than none, host or slirp4netns',
      },
      {
        name: "the default network, slirp4netns' --help not cached yet (a root of its own)",
        args: ['--root', join(dir.dir, 'fresh-root'), 'run', '--rootfs', trees.plain!, 'sh', '-c', script],
        why: 'no cached slirp4netns --help yet',
      },
      {
        name: 'the default network without slirp4netns on PATH (none, with a notice)',
        args: run('--rootfs', trees.plain!, 'sh', '-c', script),
        env: { PATH: '/no/such/dir' },
        why: 'slirp4netns is not installed',
        proofOnly: true, // sh, id and grep are the tree's, but node is not on that PATH either
      },
      {
        name: 'an image',
        args: run('--network', 'none', 'localhost/no-such-image', 'true'),
        env: { HUTCH_FS_LINGER: '0' }, // a union daemon started ahead ends with the run
        proofEnv: {},
      },
      {
        name: 'a --rootfs that is no directory',
        args: run('--network', 'none', '--rootfs', join(dir.dir, 'nope'), 'true'),
      },
      {
        name: "a symlinked /etc/passwd (the host's)",
        args: run('--network', 'none', '--rootfs', trees.hostileLink!, 'id'),
      },
      {
        name: 'a hostile tree: /proc a symlink',
        args: run('--network', 'none', '--rootfs', trees.procLink!, 'id'),
        why: 'a mount target in the tree is a symlink',
      },
      {
        name: "--entrypoint with --rootfs (an image run's flag)",
        args: run('--network', 'none', '--entrypoint', '/bin/echo', '--rootfs', trees.plain!, 'id'),
        why: '--entrypoint or --pull with --rootfs',
      },
      {
        name: 'a tree whose /etc is a symlink (read_user finds it before check_tree, which checks each component)',
        args: run('--network', 'none', '--rootfs', trees.etcLink!, 'id'),
        why: 'is a symlink',
      },
      {
        name: "a hostile tree: /etc/hosts a symlink to the host's /etc/shadow",
        args: run('--network', 'none', '--rootfs', trees.hostsLink!, 'id'),
        why: 'a mount target in the tree is a symlink',
        proofOnly: true,
      },
      {
        name: 'a tree lacking /etc/hosts (the union: run-rootfs-tree.test.ts runs it)',
        args: run('--network', 'none', '--rootfs', trees.noHosts!, 'id'),
        why: 'the tree lacks a mount target',
        proofOnly: true,
      },
      { name: 'a HUTCH_ variable', args: none('sh', '-c', script), env: { HUTCH_DEBUG: '1' } },
      { name: 'containers.conf env', args: none('sh', '-c', script), env: conf('[containers]\nenv = ["A=2"]\n') },
      {
        name: 'containers.conf: a capability set the build compiled no filter for',
        args: none('sh', '-c', script),
        env: conf('[containers]\ndefault_capabilities = ["CHOWN", "SETUID", "SETGID"]\n'),
      },
      { name: 'containers.conf that is not TOML', args: none('true'), env: conf('[containers\n') },
      { name: 'a [hutch] table', args: none('sh', '-c', script), env: conf('[hutch]\nhpc = false\n') },
      {
        name: 'the command missing (the helper fails: the run starts again there)',
        args: none('no-such-command'),
        why: 'the helper failed before the command ran',
      },
    ];
  };

  it('says why with HUTCH_RUN_NO_NODE=1, and gives the TypeScript path output and status otherwise', async () => {
    for (const row of handed()) {
      const proof = await hutchVia('c', row.args, row.proofEnv ?? row.env ?? {}, { HUTCH_RUN_NO_NODE: '1' });
      expect({ row: row.name, status: proof.exitCode }).toEqual({ row: row.name, status: 99 });
      expect(Buffer.from(proof.stderr).toString()).toMatch(/^hutch-run-front: would hand over to node: /);
      if (row.why !== undefined) expect(Buffer.from(proof.stderr).toString()).toContain(row.why);
      if (row.proofOnly) continue;
      const [c, node] = [await hutchVia('c', row.args, row.env ?? {}), await hutchVia('node', row.args, row.env ?? {})];
      const shown = (b: Uint8Array): string =>
        Buffer.from(b)
          .toString()
          .replace(/[0-9a-f]{12,64}/g, 'ID');
      expect({ row: row.name, status: c.exitCode, out: shown(c.stdout), err: shown(c.stderr) }).toEqual({
        row: row.name,
        status: node.exitCode,
        out: shown(node.stdout),
        err: shown(node.stderr),
      });
    }
  });

  it("a missing --env-file is hutch's error through bin/hutch, not Node's own --env-file (which exits 9)", async () => {
    const missing = join(dir.dir, 'no-such-env');
    for (const args of [
      ['--root', dir.root, 'run', '--network', 'none', '--env-file', missing, '--rootfs', trees.plain!, 'true'], // front, handed over
      ['--root', dir.root, 'create', '--network', 'none', '--env-file', missing, '--rootfs', trees.plain!, 'true'], // sh, Node
    ]) {
      const r = await hutchVia('c', args, {});
      expect({ status: r.exitCode, err: text(r.stderr) }).toEqual({
        status: 125,
        err: expect.stringContaining(`cannot read --env-file ${missing}: ENOENT`),
      });
    }
  });

  it("sweeps a killed run's folders through the TypeScript path", async () => {
    const stale = join(dir.root, 'run', 'ephemeral', 'f'.repeat(64));
    const staleNet = join(dir.root, 'run', 'net', 'f'.repeat(16)); // its network's folder, swept with it
    mkdirSync(stale, { recursive: true });
    mkdirSync(staleNet, { recursive: true });
    writeFileSync(join(stale, 'lock'), '');
    const args = ['--root', dir.root, 'run', '--network', 'none', '--rootfs', trees.plain!, 'true'];
    const proof = await hutchVia('c', args, {}, { HUTCH_RUN_NO_NODE: '1' });
    expect(Buffer.from(proof.stderr).toString()).toContain("a killed run's folders to sweep");
    expect((await hutchVia('c', args, {})).exitCode).toBe(0);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(staleNet)).toBe(false);
  });
});

let bound = 0;
/**
 * bin/hutch's plan (HUTCH_RUN_PRINT_PLAN=1; in C with HUTCH_RUN_NO_NODE=1) in a user and mount
 * namespace of the test's own with `files` (host path -> text) bound over the host's, where it is
 * root (getpwuid: "root") with no capability left (securebits noroot: newidmap.ts mapWay takes the
 * tools' way, as outside). The plans alone: newuidmap runs in no such namespace.
 */
async function withFilesBound(via: Via, files: Record<string, string>, args: string[]) {
  const at = join(dir.dir, `bound-${bound++}`);
  mkdirSync(at);
  const binds = Object.entries(files).map(([target, text], i) => {
    writeFileSync(join(at, `${i}`), text);
    return `mount --bind ${join(at, `${i}`)} ${target}`;
  });
  const hutch = via === 'c' ? HUTCH : `${process.execPath} ${HUTCH}`;
  // The same length of --root on both paths: the plan holds it in strings with their length.
  const run = `${hutch} --root ${join(at, 'root')} run --network none --rootfs ${trees.plain} ${args.join(' ')}`;
  const drop =
    'setpriv --securebits +noroot,+noroot_locked,+no_setuid_fixup,+no_setuid_fixup_locked --bounding-set -all --inh-caps -all';
  return execa('unshare', ['--map-root-user', '--mount', 'sh', '-c', `${binds.join(' && ')} && exec ${drop} ${run}`], {
    env: { PATH, HOME: home, HUTCH_RUN_PRINT_PLAN: '1', ...(via === 'c' ? { HUTCH_RUN_NO_NODE: '1' } : {}) },
    extendEnv: false,
    encoding: 'buffer',
    reject: false,
    cwd: dir.dir,
    stdin: 'ignore',
  });
}

describe('hutch run -d handed over: the CLI it forks is its own monitor', () => {
  // The front's scan (native/run-front.c detached_line) against the bundle loader's
  // (early-monitor.cts, which test/unit/cli/early-monitor.test.ts holds to clipanion's parse): a
  // line it wrongly read as detached would run in the foreground without the caller's stdin.
  // The lines bin/hutch hands to the front (`run` first, or after --root's value), and spellings of its own.
  const LINES = [
    ...CONTAINER_LINES.filter((l) => l[0] === 'run' || (l[0] === '--root' && l[2] === 'run')),
    ['run', '--security-opt', 'seccomp=unconfined', '-d', 'img'],
    ['run', '--detach=true', 'img'],
    ['run', '-d', '--detach=false', 'img'],
    ['--root=/nowhere', 'run', '-d', 'img'],
  ];
  it('reads a line as detached exactly where the bundle loader does', async () => {
    for (const line of LINES) {
      const proof = await hutchVia('c', line, {}, { HUTCH_RUN_NO_NODE: '1' });
      const said = Buffer.from(proof.stderr).toString();
      expect([line, proof.exitCode]).toEqual([line, 99]);
      expect([line, said.endsWith(' (as its own monitor)\n') || said.endsWith(' (as its own monitor)')]).toEqual([
        line,
        startsDetachedContainer(line),
      ]);
    }
  });

  it('runs a --rootfs container detached, as Node runs it, with one Node start on its way', async () => {
    const args = [
      '--root',
      dir.root,
      'run',
      '-d',
      '--name',
      'handed',
      '--network',
      'none',
      '--rootfs',
      trees.plain!,
      'sh',
      '-c',
      'id -u; exec sleep 1000',
    ];
    const started = await hutchVia('c', args, {});
    expect([Buffer.from(started.stderr).toString(), started.exitCode]).toEqual(['', 0]);
    const id = Buffer.from(started.stdout).toString().trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const inspect = await hutchVia('node', ['--root', dir.root, 'inspect', 'handed'], {});
    const state = JSON.parse(Buffer.from(inspect.stdout).toString())[0].State;
    expect(state).toMatchObject({ Status: 'running', Running: true });
    expect(readFileSync(`/proc/${state.MonitorPid}/cmdline`, 'latin1').split('\0')[0]).toBe('hutch-monitor');
    expect(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${state.Pid}/status`, 'utf8'))?.[1]).toBe(
      String(process.getuid!()),
    );
    const removed = await hutchVia('c', ['--root', dir.root, 'rm', '-f', 'handed'], {});
    expect([Buffer.from(removed.stderr).toString(), removed.exitCode]).toEqual(['', 0]);
  });
});

describe('hutch run --rootfs: /etc/subuid and /etc/subgid read as subid.ts reads them', () => {
  // Files no test user has, bound over the host's (withFilesBound).
  interface Files {
    subuid: string;
    subgid: string;
    nsswitch?: string;
  }
  const inNamespace = (via: Via, files: Files, args: string[]) =>
    withFilesBound(
      via,
      Object.fromEntries(
        Object.entries(files).map(([name, text]) => [`/etc/${name.replace('nsswitch', 'nsswitch.conf')}`, text]),
      ),
      args,
    );
  const plan = (b: Uint8Array): string => normalized(b).replace(/bound-\d+/g, 'bound-N');
  /** The id map tools' arguments in a plan. */
  const maps = (b: Uint8Array): string[] =>
    Buffer.from(b)
      .toString('latin1')
      .match(/0 0 1[ 0-9]*/g) ?? [];

  beforeAll(() => requires('userns', 'newuidmap'));

  it('in C, the same plan: several ranges merged and laid out, lines skipped as parseSubid skips them', async () => {
    const rows: [string, Files, string[], string[]][] = [
      [
        'disjoint ranges, one inside another, a count of 0, a comment, a line of four fields, white space, the uid',
        {
          subuid:
            'root:100000:10\n# root:1:1\nroot:300000:0\nroot:1:2:3\n\t 0:200000:20 \r\nroot:100005:3\nother:5:5\n',
          subgid: 'root:500000:7\nroot:500007:3\n',
        },
        ['-u', '30:10', 'true'],
        ['0 0 1 1 100000 10 11 200000 20', '0 0 1 1 500000 10'],
      ],
      [
        'no subuid range (the user alone for uids, and its warning), a subgid range',
        { subuid: 'other:100000:65536\n', subgid: 'root:500000:65536\n' },
        ['true'],
        ['0 0 1 1 500000 65536'],
      ],
      ['the user alone: empty files', { subuid: '', subgid: '' }, ['true'], []],
      [
        'no subid line in nsswitch.conf: getsubids reads the same files',
        { subuid: '', subgid: '', nsswitch: 'passwd: files\nsubid: files\n' },
        ['true'],
        [],
      ],
    ];
    for (const [name, files, args, expected] of rows) {
      const node = await inNamespace('node', files, args);
      const c = await inNamespace('c', files, args);
      expect({ name, status: c.exitCode, err: Buffer.from(c.stderr).toString() }).toEqual({
        name,
        status: node.exitCode,
        err: Buffer.from(node.stderr).toString(),
      });
      expect(node.exitCode, name).toBe(0);
      expect(plan(c.stdout), name).toBe(plan(node.stdout));
      expect(maps(c.stdout), name).toEqual(expected);
    }
  });

  it('hands over what it does not read as subid.ts does, and a subid source getsubids asks', async () => {
    const rows: [string, Files, string][] = [
      ['a number Number() reads otherwise', { subuid: 'root:1e5:10\n', subgid: 'root:500000:7\n' }, 'does not read'],
      ['a line ending in non-ASCII', { subuid: 'root:100000:10\u00a0\n', subgid: '' }, 'non-ASCII'],
      [
        'no range, a line naming the user (getsubids reads it its own way)',
        { subuid: 'root:100000\n', subgid: '' },
        'naming the user gave no range',
      ],
      [
        'no range, and nsswitch.conf names a subid source',
        { subuid: '', subgid: '', nsswitch: 'passwd: files\nsubid: sss\n' },
        'names a subid source',
      ],
      ['the user’s own uid in a range', { subuid: 'root:0:10\n', subgid: '' }, "holds the user's own id"],
    ];
    for (const [name, files, why] of rows) {
      const proof = await inNamespace('c', files, ['true']);
      expect({ name, status: proof.exitCode }).toEqual({ name, status: 99 });
      expect(Buffer.from(proof.stderr).toString(), name).toContain(why);
    }
  });
});

describe('hutch run --rootfs: a store not probed yet, probed in C', () => {
  const args = (root: string): string[] => noNetworkRun(root, trees.plain!, 'true');
  const cache = (root: string): string => join(root, 'data', '.fs-probe.json');
  /** DATA's dot files: the cache alone (no probe folder, no temporary file left). */
  const dotFiles = (root: string): string[] => readdirSync(join(root, 'data')).filter((n) => n.startsWith('.'));
  /** The cache the TypeScript path writes for a fresh store on the same filesystem (`seed`: a cache there before). */
  async function byNode(name: string, seed?: string): Promise<string> {
    const root = join(dir.dir, name);
    if (seed !== undefined) {
      mkdirSync(join(root, 'data'), { recursive: true });
      writeFileSync(cache(root), seed);
    }
    expect((await hutchVia('node', args(root), {})).exitCode).toBe(0);
    return readFileSync(cache(root), 'utf8');
  }

  it('leaves the cache the TypeScript path leaves, which the TypeScript path then reads', async () => {
    const root = join(dir.dir, 'probe-c');
    const c = await hutchVia('c', args(root), {}, { HUTCH_RUN_NO_NODE: '1' });
    expect({ status: c.exitCode, err: Buffer.from(c.stderr).toString() }).toEqual({ status: 0, err: '' });
    const written = readFileSync(cache(root), 'utf8');
    expect(written).toBe(await byNode('probe-node'));
    expect(statSync(cache(root)).mode & 0o777).toBe(statSync(cache(join(dir.dir, 'probe-node'))).mode & 0o777);
    expect(dotFiles(root)).toEqual(['.fs-probe.json']);
    // Read, not probed again: a write would rename a new file over it (another inode).
    const ino = statSync(cache(root)).ino;
    expect((await hutchVia('node', args(root), {})).exitCode).toBe(0);
    expect((await hutchVia('c', args(root), {}, { HUTCH_RUN_NO_NODE: '1' })).exitCode).toBe(0);
    expect(statSync(cache(root)).ino).toBe(ino);
    expect(readFileSync(cache(root), 'utf8')).toBe(written);
  });

  it("adds this filesystem's entry last to a cache of others, as the TypeScript path adds it", async () => {
    const seed = '{"1:2":{"type":"nfs","userXattrs":false,"hardLinks":true,"symlinks":true}}';
    const root = join(dir.dir, 'probe-c-seeded');
    mkdirSync(join(root, 'data'), { recursive: true });
    writeFileSync(cache(root), seed);
    expect((await hutchVia('c', args(root), {}, { HUTCH_RUN_NO_NODE: '1' })).exitCode).toBe(0);
    const expected = await byNode('probe-node-seeded', seed);
    expect(expected.startsWith(seed.slice(0, -1) + ',"')).toBe(true);
    expect(readFileSync(cache(root), 'utf8')).toBe(expected);
  });

  it('concurrent first runs leave one whole cache', async () => {
    const root = join(dir.dir, 'probe-concurrent');
    const runs = await Promise.all(
      Array.from({ length: 6 }, () => hutchVia('c', args(root), {}, { HUTCH_RUN_NO_NODE: '1' })),
    );
    expect(runs.map((r) => [r.exitCode, Buffer.from(r.stderr).toString()])).toEqual(runs.map(() => [0, '']));
    expect(readFileSync(cache(root), 'utf8')).toBe(await byNode('probe-concurrent-node'));
    expect(dotFiles(root)).toEqual(['.fs-probe.json']);
  });

  it('hands a cache it does not read (not as JSON.stringify writes it) over', async () => {
    const root = join(dir.dir, 'probe-odd');
    mkdirSync(join(root, 'data'), { recursive: true });
    writeFileSync(cache(root), '{ }\n');
    const proof = await hutchVia('c', args(root), {}, { HUTCH_RUN_NO_NODE: '1' });
    expect(proof.exitCode).toBe(99);
    expect(Buffer.from(proof.stderr).toString()).toContain('a store probe cache it does not read');
    expect((await hutchVia('c', args(root), {})).exitCode).toBe(0); // the TypeScript path probes and writes it
    expect(readFileSync(cache(root), 'utf8')).toBe(await byNode('probe-odd-node'));
  });
});

describe('hutch run --rootfs through the C front, for real', () => {
  let before: ReturnType<typeof leakSnapshot>;
  beforeAll(() => {
    before = leakSnapshot();
  });
  const run = (rootfs: string, cmd: string[]): string[] => noNetworkRun(dir.root, rootfs, ...cmd);
  const left = (): string[] =>
    ['run/ephemeral', 'data/ephemeral', 'run/net'].flatMap((d) =>
      existsSync(join(dir.root, d))
        ? readdirSync(join(dir.root, d))
            .filter((n) => /^[0-9a-f]{16,64}$/.test(n)) // a run's folders (not slirp4netns-help, say)
            .map((n) => `${d}/${n}`)
        : [],
    );

  it('runs as the TypeScript path does: the user inside and out, the /etc files, the exit status, stdin', async () => {
    const script =
      'id; cat /proc/self/uid_map /proc/self/gid_map; echo "$HOME $HOSTNAME" | sed "s/[0-9a-f]\\{12\\}/H/"; ' +
      'grep CapEff /proc/self/status; sed "s/[0-9a-f]\\{12\\}/H/" /etc/hosts /etc/hostname; cat /etc/resolv.conf; cat; exit 7';
    const asUser = ['-u', 'user', 'sh', '-c', `id; echo $HOME; ${script}`];
    const flags = [
      '-e',
      'A=1',
      '-e',
      'FROM_HOST',
      '-w',
      '/tmp',
      '--hostname',
      'box',
      'sh',
      '-c',
      `env | sort; pwd; ${script}`,
    ];
    for (const [rootfs, ...rest] of [
      [trees.plain!, 'sh', '-c', script],
      [trees.groups!, 'sh', '-c', script],
      [trees.plain!, ...asUser],
      [trees.plain!, ...flags],
    ]) {
      const env = { FROM_HOST: 'host value' };
      const c = await hutchVia('c', run(rootfs!, rest), env, { HUTCH_RUN_NO_NODE: '1' });
      const node = await hutchVia('node', run(rootfs!, rest), env);
      expect(c.exitCode).toBe(7);
      expect(Buffer.from(c.stderr).toString()).toBe('');
      expect(Buffer.from(c.stdout).toString()).toBe(Buffer.from(node.stdout).toString());
    }
    expect(left()).toEqual([]);
  });

  it("-i gives the container the caller's stdin, as the TypeScript path does; without it, nothing", async () => {
    const cat = ['sh', '-c', 'cat; echo end'];
    for (const [flags, out] of [
      [['-i'], 'typed\nend\n'],
      [['--interactive'], 'typed\nend\n'],
      [[], 'end\n'],
    ] as const) {
      const args = ['--root', dir.root, 'run', ...flags, '--network', 'none', '--rootfs', trees.plain!, ...cat];
      const typed = (via: Via) =>
        execa(via === 'c' ? HUTCH : process.execPath, via === 'c' ? args : [HUTCH, ...args], {
          env: { PATH, HOME: home, ...(via === 'c' ? { HUTCH_RUN_NO_NODE: '1' } : {}) },
          extendEnv: false,
          reject: false,
          cwd: dir.dir,
          input: 'typed\n',
        });
      for (const via of ['c', 'node'] as const) {
        const r = await typed(via);
        expect({ via, flags, status: r.exitCode, out: r.stdout + '\n', err: r.stderr }).toEqual({
          via,
          flags,
          status: 0,
          out,
          err: '',
        });
      }
    }
    expect(left()).toEqual([]);
  });

  it("-it whose command is missing hands over with the caller's terminal as it was: the TypeScript path's words and status", async () => {
    const args = ['--root', dir.root, 'run', '-it', '--network', 'none', '--rootfs', trees.plain!, 'no-such-command'];
    const onTerminal = async (via: Via, env: Record<string, string> = {}) => {
      const term = callerTerminal();
      const modes = term.modes();
      const r = await execa(via === 'c' ? HUTCH : process.execPath, via === 'c' ? args : [HUTCH, ...args], {
        env: { PATH, HOME: home, ...env },
        extendEnv: false,
        reject: false,
        cwd: dir.dir,
        stdio: term.stdio,
      });
      const restored = term.modes() === modes;
      term.close();
      return { status: r.exitCode, restored, output: term.output().replace(/[0-9a-f]{12,64}/g, 'ID') };
    };
    const proof = await onTerminal('c', { HUTCH_RUN_NO_NODE: '1' });
    expect(proof.status).toBe(99);
    expect(proof.restored).toBe(true);
    expect(proof.output).toContain('the helper failed before the command ran');
    const [c, node] = [await onTerminal('c'), await onTerminal('node')];
    expect(c).toEqual(node);
    expect(c.restored).toBe(true);
    expect(left()).toEqual([]);
  });

  it('relays a signal to the container and removes its folders', async () => {
    const { child } = await startedInC(
      run(trees.plain!, ['sh', '-c', 'trap "exit 3" TERM; echo up; while :; do sleep 0.1; done']),
    );
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode).toBe(3);
    expect(left()).toEqual([]);
    await expectNoLeaks(before, [join(dir.root, 'run')]);
  });

  /** A run through the C front (proved not handed over) and the TypeScript path: the same status, output and errors, given back. */
  async function onBothPaths(args: string[]): Promise<{ status: number | undefined; out: string; err: string }> {
    const [c, node] = [await hutchVia('c', args, {}, IN_C), await hutchVia('node', args, {})];
    const seen = (r: typeof c) => ({ status: r.exitCode, out: text(r.stdout), err: text(r.stderr) });
    expect(seen(node)).toEqual(seen(c));
    return seen(c);
  }

  it('--read-only: the root refuses writes, a --tmpfs on it takes them, as on the TypeScript path', async () => {
    const script =
      'touch /x 2>&1; echo "/: $?"; touch /tmp/y && echo "/tmp: $?"; echo gone >/etc/hostname 2>&1; echo "/etc/hostname: $?"';
    expect(await onBothPaths(run(trees.plain!, ['--read-only', '--tmpfs', '/tmp', 'sh', '-c', script]))).toEqual({
      status: 0,
      out: 'touch: /x: Read-only file system\n/: 1\n/tmp: 0\n/etc/hostname: 0',
      err: '',
    });
    expect(left()).toEqual([]);
  });

  it('--shm-size: the size of /dev/shm, as on the TypeScript path', async () => {
    const args = run(trees.plain!, ['--shm-size', '1g', 'sh', '-c', 'grep " /dev/shm " /proc/mounts']);
    expect(await onBothPaths(args)).toEqual({
      status: 0,
      out: expect.stringContaining('size=1048576k') as string,
      err: '',
    });
  });

  it('--ulimit: the limits inside, as on the TypeScript path', async () => {
    const limits = ['--ulimit', 'nofile=256:512', '--ulimit', 'core=0'];
    const args = run(trees.plain!, [...limits, 'sh', '-c', 'ulimit -n; ulimit -Hn; ulimit -c']);
    expect(await onBothPaths(args)).toEqual({ status: 0, out: '256\n512\n0', err: '' });
  });

  it('--security-opt no-new-privileges: set in the container, as on the TypeScript path; not without it', async () => {
    const nnp = ['sh', '-c', 'grep NoNewPrivs /proc/self/status'];
    expect(await onBothPaths(run(trees.plain!, ['--security-opt', 'no-new-privileges', ...nnp]))).toEqual({
      status: 0,
      out: 'NoNewPrivs:\t1',
      err: '',
    });
    expect(await onBothPaths(run(trees.plain!, nnp))).toEqual({ status: 0, out: 'NoNewPrivs:\t0', err: '' });
  });

  it("--init: hutch-init is the container's PID 1, the command its child; a signal reaches the command through it", async () => {
    const script =
      'tr "\\0" " " </proc/1/cmdline; echo; echo "pid $$"; trap "echo term; exit 5" TERM; echo up; while :; do sleep 0.1; done';
    const args = run(trees.plain!, ['--init', 'sh', '-c', script]);
    const outputs: unknown[] = [];
    for (const [via, env] of [
      ['c', IN_C],
      ['node', {}],
    ] as const) {
      const { child } = await startedVia(via, args, { cwd: dir.dir, home }, env);
      child.kill('SIGTERM');
      const r = await child;
      outputs.push({ status: r.exitCode, out: text(r.stdout), err: text(r.stderr) });
    }
    expect(outputs[0]).toEqual({ status: 5, out: 'hutch-init \npid 2\nup\nterm', err: '' });
    expect(outputs[1]).toEqual(outputs[0]);
    expect(left()).toEqual([]);
  });

  it('a signal during the start (newuidmap running) ends the run unstarted with 128+N, on both paths, and leaves nothing', async () => {
    // A newuidmap first on PATH that sends SIGTERM to the run that started it (its nearest ancestor
    // whose command line names this file's root: the helper has no arguments), then maps as the
    // real one: the signal comes while the container's process exists and before it is let go.
    const tools = join(dir.dir, 'signalling-tools');
    mkdirSync(tools, { recursive: true });
    writeFileSync(
      join(tools, 'newuidmap'),
      [
        '#!/bin/sh',
        'p=$PPID',
        'while [ "$p" -gt 1 ]; do',
        `  if tr '\\0' ' ' </proc/$p/cmdline | grep -qF -- '${dir.root} run'; then kill -TERM "$p"; break; fi`,
        "  p=$(sed 's/.*) //' /proc/$p/stat | cut -d' ' -f2)",
        'done',
        'exec /usr/bin/newuidmap "$@"',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const args = run(trees.plain!, ['sh', '-c', 'echo ran']);
    for (const via of ['c', 'node'] as const) {
      const r = await hutchVia(via, args, { PATH: `${tools}:${PATH}` }, via === 'c' ? IN_C : {});
      expect({ via, status: r.exitCode, out: text(r.stdout) }, text(r.stderr)).toEqual({ via, status: 143, out: '' });
      expect(left()).toEqual([]);
    }
    await expectNoLeaks(before, [join(dir.root, 'run')]);
  });

  /** The slirp4netns processes of this file's runs (their api socket is under its root). */
  const slirps = (): string[] =>
    readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e))
      .flatMap((e) => {
        try {
          const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').replaceAll('\0', ' ');
          return cmd.startsWith('slirp4netns') && cmd.includes(dir.root) ? [`${e} ${cmd}`] : [];
        } catch {
          return [];
        }
      });

  it('the default network in C: tap0 at 10.0.2.100 through 10.0.2.2, the files as the TypeScript path writes them, slirp4netns gone after', async () => {
    await cacheSlirpHelp();
    const server = await hostHttpServer('hello from the host');
    try {
      const script =
        'ip -4 -o addr show tap0 | cut -d" " -f2,7; ip route; sed "s/[0-9a-f]\\{12\\}/H/" /etc/hosts; cat /etc/resolv.conf; ' +
        `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 10.0.2.2 ${server.port} || echo refused`;
      const args = ['--root', dir.root, 'run', '--rootfs', trees.plain!, 'sh', '-c', script];
      const c = await hutchVia('c', args, {}, { HUTCH_RUN_NO_NODE: '1' });
      const node = await hutchVia('node', args, {});
      const out = Buffer.from(c.stdout).toString();
      expect({ status: c.exitCode, err: Buffer.from(c.stderr).toString(), out }).toEqual({
        status: 0,
        err: Buffer.from(node.stderr).toString(), // nc's own word for the refusal
        out: Buffer.from(node.stdout).toString(),
      });
      expect(out).toContain('tap0 10.0.2.100/24');
      expect(out).toContain('default via 10.0.2.2 dev tap0');
      expect(out).toContain('10.0.2.100\tH\n');
      // The host's loopback is not the container's to reach (--disable-host-loopback).
      expect(out).toMatch(/refused$/); // (execa strips the last line break)
      expect(out).toBe(Buffer.from(node.stdout).toString());
      const resolv = readFileSync('/etc/resolv.conf', 'utf8');
      if (/^nameserver\s+(127\.|::1)/m.test(resolv) || !/^nameserver/m.test(resolv))
        expect(out).toContain('nameserver 10.0.2.3');
      // --network slirp4netns is the same network.
      const named = await hutchVia(
        'c',
        ['--root', dir.root, 'run', '--network', 'slirp4netns', '--rootfs', trees.plain!, 'sh', '-c', script],
        {},
        { HUTCH_RUN_NO_NODE: '1' },
      );
      expect(Buffer.from(named.stdout).toString()).toBe(out);
    } finally {
      server.close();
    }
    expect(slirps()).toEqual([]);
    expect(left()).toEqual([]);
  });

  const etcFlags = [
    ...['--dns', '192.0.2.53', '--dns=192.0.2.54', '--dns-search', 'example.org', '--dns-search', 'lab.example'],
    ...['--dns-option', 'ndots:2', '--add-host', 'db.local:10.0.2.2', '--add-host=a-1.b:0.0.0.0'],
  ];
  it.each([
    ['--network none', ['--network', 'none']],
    ['the default network', []],
    ['the default network, --dns, --dns-search, --dns-option, --add-host', etcFlags],
    ['--network none, --dns-search alone', ['--network', 'none', '--dns-search', 'example.org']],
    [
      '--network host, --add-host alone (the host resolv.conf kept)',
      ['--network', 'host', '--add-host', 'db:10.0.0.1'],
    ],
    ['--network host, --dns and --add-host', ['--network', 'host', ...etcFlags]],
  ])("setup.json and the /etc files are the TypeScript path's while the container runs: %s", async (_, flags) => {
    const args = ['--root', dir.root, 'run', ...flags, '--rootfs', trees.plain!, 'sh', '-c', 'echo up; sleep 1'];
    await cacheSlirpHelp();
    const seen: Record<Via, string[]> = { c: [], node: [] };
    for (const via of ['c', 'node'] as const) {
      const { child } = await startedVia(via, args, { cwd: dir.dir, home });
      const [id] = readdirSync(join(dir.root, 'run', 'ephemeral')).filter((n) => !n.startsWith('.'));
      const runDir = join(dir.root, 'run', 'ephemeral', id!);
      const files = ['hosts', 'hostname', 'resolv.conf', 'ports.json', 'lock'].map(
        (f) => `${f}: ${readFileSync(join(runDir, f), 'utf8').replaceAll(id!.slice(0, 12), 'H')}`,
      );
      const data = join(dir.root, 'data', 'ephemeral', id!);
      seen[via] = [...files, `setup.json: ${readFileSync(join(data, 'setup.json'), 'utf8')}`, ...readdirSync(data)];
      expect((await child).exitCode).toBe(0);
    }
    expect(seen.c).toEqual(seen.node);
    expect(left()).toEqual([]);
  });

  it("the caller's fds without close-on-exec do not reach slirp4netns (as on the TypeScript path, where Node marks them)", async () => {
    await cacheSlirpHelp();
    const { child } = await startedInC(
      ['--root', dir.root, 'run', '--rootfs', trees.plain!, 'sh', '-c', 'echo up; sleep 30'],
      5,
    );
    const links = (pid: string | number): string[] =>
      readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
        try {
          return [readlinkSync(`/proc/${pid}/fd/${fd}`)];
        } catch {
          return [];
        }
      });
    try {
      // Node's stdio pipes are socket pairs: each fd of the front here is one end of one.
      const callers = [5, 6, 7].map((fd) => readlinkSync(`/proc/${child.pid}/fd/${fd}`));
      expect(callers.every((l) => l.startsWith('socket:'))).toBe(true);
      const [slirp] = slirps();
      expect(slirp).toBeDefined();
      expect(links(slirp!.split(' ')[0]!).filter((l) => callers.includes(l))).toEqual([]);
    } finally {
      child.kill('SIGTERM');
      await child;
    }
    expect(slirps()).toEqual([]);
  });

  it('the front killed with SIGKILL leaves no slirp4netns behind', async () => {
    await cacheSlirpHelp();
    const { child } = await startedInC([
      '--root',
      dir.root,
      'run',
      '--rootfs',
      trees.plain!,
      'sh',
      '-c',
      'echo up; sleep 30',
    ]);
    expect(slirps().length).toBe(1);
    child.kill('SIGKILL');
    await child;
    await expectNoLeaks(before); // slirp4netns (--exit-fd) and the container end with the front
    expect(slirps()).toEqual([]);
    // The killed run's folders: the next run (the TypeScript path's sweep) removes them.
    expect(
      (await hutchVia('c', ['--root', dir.root, 'run', '--network', 'none', '--rootfs', trees.plain!, 'true'], {}))
        .exitCode,
    ).toBe(0);
    expect(left()).toEqual([]); // RUN/net/ID16 included
  });
});

describe("hutch run --rootfs in C: the build's seccomp filters by kernel span", () => {
  // precompiled.ts lists each filter with the kernels that resolve the default profile alike
  // (kernelSpan): the front uses it on any kernel of the span, so a kernel upgrade within it still
  // runs in C; outside it, or with a span it cannot read, it hands over (the TypeScript path compiles).
  const index = join(HUTCH, '..', '..', 'dist', 'bundle', 'seccomp-filters.txt');
  const [major, minor] = release().split(/[.-]/).map(Number) as [number, number];
  const spans: [string, 0 | 99][] = [
    ['0.0-', 0],
    [`${major}.${minor}-${major}.${minor + 1}`, 0],
    [`${major - 1}.0-${major + 1}.0`, 0],
    [`0.0-${major}.${minor}`, 99],
    [`${major}.${minor + 1}-`, 99],
    [release(), 99], // the old form: the build's kernel release
    ['5-', 99],
  ];

  beforeAll(() => requires('userns'));

  it("is the build's on any kernel of its span, handed over elsewhere", async () => {
    const built = readFileSync(index, 'utf8');
    expect(built).toMatch(/^\S+ 0\.0- seccomp-\S+\.bpf \S+$/m); // the default profile has no minKernel rule
    for (const [span, status] of spans) {
      const list = built.replace(/^(\S+) \S+ /gm, `$1 ${span} `);
      const c = await withFilesBound('c', { [index]: list }, ['true']);
      const why = Buffer.from(c.stderr).toString();
      expect({ span, status: c.exitCode }).toEqual({ span, status });
      if (status === 99) expect(why).toContain('no compiled seccomp filter for this capability set and kernel');
    }
  });
});
