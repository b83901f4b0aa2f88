// `hutch run --rm IMAGE ...` through the C front (native/run-front-image.c, with the shared union
// daemon of run-front-union.c) against the TypeScript path: the same plan byte for byte
// (HUTCH_RUN_PRINT_PLAN=1; the run's id and the union holder's pid made the same), the same
// setup.json and image mark while it runs, hand-overs before anything is made, and real runs with
// the daemon cold and warm: output, status, the user inside and out, the mark released, nothing
// left but the lingering daemon.
import { execa } from 'execa';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerTerminal } from '../helpers/caller-terminal.js';
import { requires } from '../helpers/host.js';
import { HUTCH, sandbox as scratch, type Sandbox } from '../helpers/hutch-cli.js';
import { fixtureLayers, writeImageLayout, type LayerSpec } from '../helpers/image-fixtures.js';
import { expectNoLeaks, leakSnapshot } from '../helpers/leaks.js';
import { hutchVia as hutchAt, IN_C, normalized, PATH, startedVia, text, type Via } from '../helpers/run-front.js';
import { processTree } from '../helpers/process-tree.js';

let dir: Sandbox;
let home: string;
/** Stored names of the images below. */
const PLAIN = 'localhost/plain:1';
const CONFIGURED = 'localhost/configured:latest';
const HOSTILE = 'localhost/hostile:latest';
const LINKED_WORKDIR = 'localhost/linked-workdir:latest';
const VOLUMES = 'localhost/volumes:latest';
const NO_COMMAND = 'localhost/no-command:latest';
/** docker.io's stored name (library/ in it). */
const HUB = 'docker.io/library/hub:latest';
/** Found by its short name through a search registry or an alias of registries.conf. */
const SEARCHED = 'example.org/tools/box:2';

/** XDG_CONFIG_HOME folders, each with a containers/registries.conf (and its drop-ins), by name. */
const confs: Record<string, string> = {};
const CONF_TEXTS: Record<string, Record<string, string>> = {
  search: {
    'registries.conf':
      '# search registries\nunqualified-search-registries = [\n  "example.org",\n  "docker.io", # comment\n]\nshort-name-mode = "enforcing"\n',
  },
  dropIn: {
    'registries.conf': 'unqualified-search-registries = ["quay.io"]\n',
    'registries.conf.d/20-last.conf': '"unqualified-search-registries" = ["example.org"]\n',
    'registries.conf.d/10-first.conf': 'unqualified-search-registries = ["docker.io"]\n',
  },
  alias: {
    'registries.conf': 'unqualified-search-registries = []\n[aliases]\n  "box" = "example.org/tools/box"\n  hub = ""\n',
  },
  dockerAlias: { 'registries.conf': '[aliases]\nhub = "docker.io/hub"\n' },
  registry: { 'registries.conf': '[[registry]]\nlocation = "example.org"\n' },
  literal: { 'registries.conf': "unqualified-search-registries = ['example.org']\n" },
};
const conf = (name: string): Record<string, string> => ({ XDG_CONFIG_HOME: confs[name]! });
/** XDG_CACHE_HOME folders with a recorded containers/short-name-aliases.conf (podman's, hutch's). */
const CACHE_TEXTS: Record<string, string> = {
  recorded: '# Written by hutch\n[aliases]\nbox = "example.org/tools/box"\n',
  otherKey: 'unqualified-search-registries = ["example.org"]\n',
};
const cache = (name: string): Record<string, string> => ({ XDG_CACHE_HOME: join(dir.dir, 'cache', name) });

/** The daemon a run starts ends with its last container (each cold run waits for the last one's end first). */
const COLD = { HUTCH_FS_LINGER: '0' };
/** The daemon stays between runs (ended by the test). */
const WARM = { HUTCH_FS_LINGER: '60' };

async function store(name: string, layers: LayerSpec[], config: object = {}): Promise<void> {
  const layout = join(dir.dir, 'layouts', name.replace(/[/:]/g, '-'));
  await writeImageLayout(layout, name, layers, config);
  const pulled = await execa(process.execPath, [HUTCH, '--root', dir.root, 'pull', '-q', `oci:${layout}:${name}`], {
    reject: false,
    env: { HOME: home },
  });
  expect(pulled.stderr).toBe('');
}

beforeAll(async () => {
  requires('userns', 'subuid', 'newuidmap', 'busybox', 'fuse', 'slirp4netns', 'tun');
  dir = scratch();
  home = join(dir.dir, 'home');
  mkdirSync(home);
  const applets = ['sleep', 'pwd', 'id', 'true', 'ip', 'grep'].map((a) => ({
    name: `bin/${a}`,
    type: 'symlink' as const,
    linkname: 'busybox',
  }));
  const layers = [...fixtureLayers(), { entries: applets, compression: 'none' as const }];
  await store(PLAIN, layers);
  await store(CONFIGURED, layers, {
    Entrypoint: ['/bin/sh', '-c'],
    Cmd: ['echo "$FIXTURE $FROM_HOST"; id -u; pwd'],
    Env: ['PATH=/bin', 'FIXTURE=configured', 'FROM_HOST', '=ignored'],
    WorkingDir: '/opt',
    User: 'user',
    ExposedPorts: { '80/tcp': {}, '53/udp': {} },
  });
  // The top layer's /etc/passwd and /etc/group are links out of the tree: read inside the layer (a
  // loop there: the layer below's), never the host's.
  await store(HOSTILE, [
    ...layers,
    {
      entries: [
        { name: 'etc/passwd', type: 'symlink', linkname: '/etc/passwd' },
        { name: 'etc/group', type: 'symlink', linkname: '../../../../etc/group' },
      ],
      compression: 'none',
    },
  ]);
  // The working directory through a link that climbs out: the kernel resolves it inside the root.
  await store(
    LINKED_WORKDIR,
    [...layers, { entries: [{ name: 'up', type: 'symlink', linkname: '../../../../opt' }], compression: 'none' }],
    { WorkingDir: '/up/keep', Cmd: ['/bin/pwd'] },
  );
  await store(VOLUMES, layers, { Volumes: { '/data': {} } });
  await store(NO_COMMAND, layers, { Cmd: null });
  await store(HUB, layers);
  await store(SEARCHED, layers);
  for (const [name, files] of Object.entries(CONF_TEXTS)) {
    confs[name] = join(dir.dir, 'conf', name);
    for (const [file, content] of Object.entries(files)) {
      const path = join(confs[name], 'containers', file);
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, content);
    }
  }
  for (const [name, content] of Object.entries(CACHE_TEXTS)) {
    const file = join(dir.dir, 'cache', name, 'containers', 'short-name-aliases.conf');
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, content);
  }
  const userMain = join(dir.dir, 'conf', 'search-home', '.config', 'containers', 'registries.conf');
  mkdirSync(join(userMain, '..'), { recursive: true });
  writeFileSync(userMain, CONF_TEXTS.search!['registries.conf']!);
});
afterAll(() => dir.remove());

function hutchVia(via: Via, args: string[], env: Record<string, string> = {}) {
  return hutchAt(via, args, { cwd: dir.dir, home }, env);
}

const run = (...rest: string[]): string[] => ['--root', dir.root, 'run', ...rest];

/** The plan with the run's id and the holder's pid (the SETNS records: length, type, path) made the same. */
function plan(bytes: Uint8Array): string {
  return normalized(bytes).replace(
    // eslint-disable-next-line no-control-regex
    /\x19\x00[\s\S]{4}([\s\S]{4})[\s\S]{4}\/proc\/\d+\/ns\/(user|mnt|net)\x00/g,
    (_, type: string, ns: string) => `SETNS ${type} /proc/${ns === 'net' ? 'FORWARDER' : 'HOLDER'}/ns/${ns};`,
  );
}

/** The image marks of the store, by image. */
function marks(): string[] {
  const users = join(dir.root, 'data', 'image-users');
  return existsSync(users) ? readdirSync(users).flatMap((image) => readdirSync(join(users, image))) : [];
}

function runFolders(): string[] {
  return ['data', 'run'].flatMap((d) => {
    const ephemeral = join(dir.root, d, 'ephemeral');
    return existsSync(ephemeral) ? readdirSync(ephemeral) : [];
  });
}

/** The shared daemons' pids of this store (their pid files). */
function daemons(): number[] {
  const fsd = join(dir.root, 'run', 'fsd');
  if (!existsSync(fsd)) return [];
  return readdirSync(fsd)
    .filter((n) => n.endsWith('.pid'))
    .map((n) => Number(readFileSync(join(fsd, n), 'utf8').trim()))
    .filter((pid) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')));
}

/** Waits for the store's daemons to leave (HUTCH_FS_LINGER=0), or ends them (a warm one). */
async function noDaemon(end = false): Promise<void> {
  if (end) daemons().forEach((pid) => process.kill(pid, 'SIGTERM'));
  for (let i = 0; i < 100 && daemons().length > 0; i++) await sleep(50);
  expect(daemons()).toEqual([]);
}

describe('hutch run IMAGE: the C front and the TypeScript path make the same plan', () => {
  /** An --env-file that sets one of the image's variables, and one -e sets too. */
  const envFile = (): string => {
    const path = join(dir.dir, 'image-env');
    writeFileSync(path, 'FIXTURE=from the file\nB=file\n');
    return path;
  };
  const rows = (): { name: string; args: string[]; env?: Record<string, string> }[] => [
    { name: '--network none', args: run('--rm', '--network', 'none', PLAIN, 'true') },
    { name: 'the default network: its namespace made ahead, joined', args: run('--rm', PLAIN, 'true') },
    { name: '--network slirp4netns, -t', args: run('--network', 'slirp4netns', '-t', PLAIN, 'id') },
    { name: '--network host, the image Cmd', args: run('--rm', '--network', 'host', PLAIN) },
    {
      name: "the image's Entrypoint, Cmd, Env (a bare name from the caller), WorkingDir and User",
      args: run('--rm', '--network', 'none', CONFIGURED),
      env: { FROM_HOST: 'host value' },
    },
    {
      name: 'a command replaces Cmd, not the Entrypoint; -e after the image Env; -w and -u over the image',
      args: run('--network=none', '-e', 'FIXTURE=flag', '-e', 'A=1', '-w', '/tmp', '-u', '0:0', CONFIGURED, 'id'),
    },
    { name: '-it, --hostname', args: run('-it', '--rm', '--network', 'none', '--hostname', 'box', PLAIN, 'sh') },
    { name: 'a WorkingDir through a link', args: run('--rm', '--network', 'none', LINKED_WORKDIR) },
    {
      name: '-v read-only, a file, a destination the image lacks (made in the union)',
      args: run('--rm', '--network', 'none', '-v', `${home}:/data:ro`, '-v', `${home}:/new/dir`, PLAIN, 'true'),
    },
    { name: '--init', args: run('--rm', '--init', '--network', 'none', PLAIN, 'true') },
    {
      name: "--env-host: the caller's variables under the image's Env",
      args: run('--rm', '--env-host', '--network', 'none', CONFIGURED, 'true'),
      env: { FIXTURE: 'from the caller', FROM_CALLER: '1' },
    },
    {
      name: "--env-file: over the image's Env, under -e",
      args: run('--rm', '--network', 'none', '--env-file', envFile(), '-e', 'B=flag', CONFIGURED, 'true'),
    },
    {
      name: '--read-only (the union remounted read-only)',
      args: run('--rm', '--read-only', '--network', 'none', PLAIN, 'true'),
    },
    { name: '-u user (the image /etc/passwd)', args: run('--rm', '--network', 'none', '-u', 'user', PLAIN, 'id') },
    {
      name: "-u user of a hostile image (its /etc/passwd and /etc/group link out: the layer below's)",
      args: run('--rm', '--network', 'none', '-u', 'user', HOSTILE, 'id'),
    },
    {
      name: "--entrypoint: its word in the Entrypoint's place, the given command after it",
      args: run('--rm', '--network', 'none', '--entrypoint', '/bin/echo', CONFIGURED, 'a', 'b c'),
    },
    {
      name: "--entrypoint= without a command: the image's Cmd dropped",
      args: run('--rm', '--network=none', '--entrypoint=/bin/true', CONFIGURED),
    },
    {
      name: "--entrypoint '' clears it: the command alone",
      args: run('--rm', '--network', 'none', '--entrypoint', '', CONFIGURED, 'id', '-u'),
    },
    {
      name: '--entrypoint= (empty) on an image without one',
      args: run('--network', 'none', '--entrypoint=', PLAIN, 'id'),
    },
    {
      name: '--tmpfs: one the image lacks (made in the union), options, a -v beneath it',
      args: run(
        '--rm',
        '--network',
        'none',
        '--tmpfs',
        '/new/scratch:size=2m,uid=0',
        '-v',
        `${home}:/new/scratch/h:ro`,
        PLAIN,
        'true',
      ),
    },
    { name: '--pull=never', args: run('--rm', '--network', 'none', '--pull=never', PLAIN, 'true') },
    { name: '--pull missing (the default)', args: run('--network', 'none', '--pull', 'missing', 'hub', 'true') },
    {
      name: '--entrypoint of one word with spaces: one word, never split',
      args: run('--rm', '--network', 'none', '--entrypoint', 'sh -c', PLAIN, '["x"]'),
    },
    { name: "docker.io's stored name, --root=", args: [`--root=${dir.root}`, 'run', '--network=none', HUB, 'true'] },
    { name: "a short name: docker.io's", args: run('--rm', '--network', 'none', 'hub', 'true') },
    { name: "a short name with docker.io's library/", args: run('--rm', '--network', 'none', 'library/hub:latest') },
    { name: "a short name with a tag: localhost's", args: run('--rm', '--network', 'none', 'plain:1', 'true') },
    {
      name: "the user's search registries",
      args: run('--rm', '--network', 'none', 'tools/box:2', 'true'),
      env: conf('search'),
    },
    {
      name: 'the last drop-in sets the search registries',
      args: run('--rm', '--network', 'none', 'tools/box:2', 'true'),
      env: conf('dropIn'),
    },
    { name: 'an alias', args: run('--rm', '--network', 'none', 'box:2', 'true'), env: conf('alias') },
    { name: 'a recorded alias', args: run('--rm', '--network', 'none', 'box:2', 'true'), env: cache('recorded') },
    {
      name: "the user's main file under HOME (not /etc's)",
      args: run('--rm', '--network', 'none', 'tools/box:2', 'true'),
      env: { HOME: join(dir.dir, 'conf', 'search-home') },
    },
  ];
  it('for every row', async () => {
    // The TypeScript path caches slirp4netns --help, which the front reads (else it hands over).
    expect((await hutchVia('node', run('--rm', PLAIN, 'true'), WARM)).exitCode).toBe(0);
    for (const row of rows()) {
      const env = { HUTCH_RUN_PRINT_PLAN: '1', ...WARM, ...row.env };
      const [c, node] = [await hutchVia('c', row.args, { ...env, ...IN_C }), await hutchVia('node', row.args, env)];
      expect([row.name, text(c.stderr), c.exitCode]).toEqual([row.name, '', 0]);
      expect([row.name, text(node.stderr), node.exitCode]).toEqual([row.name, '', 0]);
      expect(plan(c.stdout), row.name).toBe(plan(node.stdout));
      expect(plan(c.stdout)).toContain('/proc/HOLDER/ns/user');
    }
    expect(marks()).toEqual([]);
    expect(runFolders()).toEqual([]);
    await noDaemon(true);
  });
});

describe('hutch run IMAGE: what the C front hands over, before it made anything', () => {
  const rows = (): { args: string[]; why: string; env?: Record<string, string> }[] => [
    { args: run('--rm', '--network', 'none', 'localhost/absent:1', 'true'), why: 'the store lacks' },
    { args: run('--rm', '--network', 'none', 'docker.io/hub', 'true'), why: 'a stored name' }, // library/ added
    { args: run('--rm', '--network', 'none', 'Localhost/Plain:1', 'true'), why: 'an invalid image reference' },
    { args: run('--rm', '--network', 'none', 'absent', 'true'), why: 'the store lacks' }, // pulled
    { args: run('--rm', '--network', 'none', 'cafe', 'true'), why: 'the store lacks' }, // an id prefix, maybe
    { args: run('--rm', '--network', 'none', 'tools/box:2', 'true'), why: 'the store lacks' }, // docker.io's
    { args: run('--rm', '--network', 'none', `hub@sha256:${'0'.repeat(64)}`), why: 'or a short name' },
    { args: run('--rm', '--network', 'none', 'hub', 'true'), why: 'an alias whose', env: conf('dockerAlias') },
    { args: run('--rm', '--network', 'none', 'hub', 'true'), why: 'a table other than', env: conf('registry') },
    { args: run('--rm', '--network', 'none', 'hub', 'true'), why: 'a value other than', env: conf('literal') },
    { args: run('--rm', '--network', 'none', 'hub', 'true'), why: 'a key it does not read', env: cache('otherKey') },
    { args: run('--rm', '--network', 'none', 'localhost/plain', 'true'), why: 'the store lacks' }, // :latest
    { args: run('--rm', '--network', 'none', VOLUMES, 'true'), why: 'declares Volumes' },
    { args: run('--rm', '--network', 'none', NO_COMMAND), why: 'no Entrypoint or Cmd' },
    { args: run('--rm', '--network', 'none', '--entrypoint', '', CONFIGURED), why: 'no Entrypoint or Cmd' },
    { args: run('--entrypoint', 'a', '--entrypoint', 'b', PLAIN), why: '--entrypoint given twice' },
    { args: run('--entrypoint', '-x', PLAIN), why: "a flag's value that starts with -" },
    { args: run('--network', 'none', '--entrypoint', '["/bin/id"]', PLAIN), why: 'JSON would escape' }, // one word, quotes
    {
      args: run('--rm', '--network', 'none', '--pull=always', PLAIN, 'true'),
      why: 'a --pull other than missing or never',
    },
    { args: run('--pull', 'never', '--pull', 'never', PLAIN, 'true'), why: '--pull given twice' },
    { args: run('--pull', 'never', '--rootfs', home, 'true'), why: '--entrypoint or --pull with --rootfs' },
    { args: run('--rm', '--network', 'none', PLAIN, '--', 'true'), why: 'a -- after the image' },
    { args: run('--rm', '--network', 'none', PLAIN, 'true'), why: 'HUTCH_FS_SHARED=0', env: { HUTCH_FS_SHARED: '0' } },
  ];
  it('says why with HUTCH_RUN_NO_NODE=1, leaving no folder, mark or daemon', async () => {
    for (const row of rows()) {
      const c = await hutchVia('c', row.args, { ...COLD, ...row.env, ...IN_C });
      expect([row.why, c.exitCode]).toEqual([row.why, 99]);
      expect(text(c.stderr)).toContain(row.why);
      expect(runFolders()).toEqual([]);
      expect(marks()).toEqual([]);
      expect(daemons()).toEqual([]);
    }
  });
  it("gives the TypeScript path's output and status otherwise", async () => {
    for (const args of [
      run('--rm', '--network', 'none', NO_COMMAND),
      run('--rm', '--network', 'none', HOSTILE, 'id'),
      run('--rm', '--network', 'none', '--entrypoint', '', CONFIGURED),
    ]) {
      const [c, node] = [await hutchVia('c', args, WARM), await hutchVia('node', args, WARM)];
      expect([text(c.stdout), text(c.stderr), c.exitCode]).toEqual([
        text(node.stdout),
        text(node.stderr),
        node.exitCode,
      ]);
    }
    await noDaemon(true);
  });
});

describe('hutch run -d IMAGE: handed to Node with the union daemon started ahead', () => {
  it('starts the daemon before the hand-over (not for a printed plan nor --rootfs), once, and makes nothing else', async () => {
    // The TypeScript path caches slirp4netns --help, which the front reads (else it hands over at once).
    expect((await hutchVia('node', run('--rm', PLAIN, 'true'), COLD)).exitCode).toBe(0);
    await noDaemon();
    const detached = run('-d', '--network', 'none', PLAIN, 'sleep', '1000');
    const printed = await hutchVia('c', detached, { ...COLD, ...IN_C, HUTCH_RUN_PRINT_PLAN: '1' });
    expect([text(printed.stderr), printed.exitCode]).toEqual([
      'hutch-run-front: would hand over to node: -d (a detached run: Node records it and is its monitor) (as its own monitor)',
      99,
    ]);
    const rootfs = await hutchVia('c', ['--root', dir.root, 'run', '-d', '--rootfs', home, 'true'], {
      ...COLD,
      ...IN_C,
    });
    expect(rootfs.exitCode).toBe(99);
    expect(daemons()).toEqual([]);
    const rows: [string[], string][] = [
      [detached, '-d (a detached run'],
      [run('-dit', '--name', 'ahead', PLAIN, 'sh'), '--name (the container is recorded by Node)'],
      [run('--detach', '-p', '127.0.0.1::80', PLAIN, 'sleep', '1000'), '-p (its ports are bound by Node)'],
      [run('--publish=8080:80', '--rm', PLAIN, 'true'), '-p (its ports'],
    ];
    let daemon: number | undefined;
    for (const [args, why] of rows) {
      const c = await hutchVia('c', args, { ...COLD, ...IN_C });
      expect([text(c.stderr), c.exitCode]).toEqual([expect.stringContaining(`would hand over to node: ${why}`), 99]);
      for (let i = 0; i < 100 && daemons().length === 0; i++) await sleep(20); // its pid file comes before it listens
      daemon ??= daemons()[0];
      expect(daemons()).toEqual([daemon]); // one, started by the first row, found listening by the others
      expect(runFolders()).toEqual([]);
      expect(marks()).toEqual([]);
    }
    // Nobody connected: it leaves after its wait for a first client, though it lingers 0 s after a last one.
    for (let i = 0; i < 200 && daemons().length > 0; i++) await sleep(100);
    expect(daemons()).toEqual([]);
    // The linger's warning is the caller's, as when Node starts the daemon.
    const warned = await hutchVia('c', detached, { HUTCH_FS_LINGER: '1m', ...IN_C });
    expect(text(warned.stderr)).toContain(
      'hutch: warning: HUTCH_FS_LINGER=1m is not a count of seconds: the daemon lingers 60 s\n',
    );
    for (let i = 0; i < 100 && daemons().length === 0; i++) await sleep(20);
    await noDaemon(true);
  });

  it('runs detached with a published port through the daemon the front started, one daemon, gone with the container', async () => {
    await noDaemon(true);
    const www = join(dir.dir, 'www');
    mkdirSync(www, { recursive: true });
    writeFileSync(join(www, 'index.html'), 'ahead\n');
    const started = await hutchVia(
      'c',
      run(
        '-d',
        '--name',
        'ahead',
        '-p',
        '127.0.0.1::80',
        '-v',
        `${www}:/www:ro`,
        PLAIN,
        'busybox',
        'httpd',
        '-f',
        '-p',
        '80',
        '-h',
        '/www',
      ),
      COLD,
    );
    expect([text(started.stderr), started.exitCode]).toEqual(['', 0]);
    expect(daemons().length).toBe(1);
    let port = 0;
    for (let i = 0; i < 100 && port === 0; i++) {
      const ps = await hutchVia('node', ['--root', dir.root, 'ps', '--format', 'json']);
      const rows = JSON.parse(text(ps.stdout)) as { Id: string; Ports: { host_port: number }[] }[];
      port = rows.find((r) => r.Id === text(started.stdout).trim())?.Ports[0]?.host_port ?? 0;
      if (port === 0) await sleep(50);
    }
    let body = '';
    for (let i = 0; i < 100 && body === ''; i++) {
      body = await fetch(`http://127.0.0.1:${port}/index.html`).then(
        (r) => r.text(),
        () => '',
      );
      if (body === '') await sleep(50);
    }
    expect(body).toBe('ahead\n');
    expect(daemons().length).toBe(1);
    const removed = await hutchVia('node', ['--root', dir.root, 'rm', '-f', 'ahead']);
    expect([text(removed.stderr), removed.exitCode]).toEqual(['', 0]);
    await noDaemon(); // HUTCH_FS_LINGER=0: it leaves with its last container
    expect(runFolders()).toEqual([]);
    expect(marks()).toEqual([]);
  });
});

describe("hutch run -d IMAGE: the CLI it forks is the container's monitor", () => {
  const ps = async (): Promise<string[]> =>
    (
      JSON.parse(text((await hutchVia('node', ['--root', dir.root, 'ps', '-a', '--format', 'json'])).stdout)) as {
        Id: string;
      }[]
    ).map((c) => c.Id);
  const inspect = async (name: string) =>
    JSON.parse(text((await hutchVia('node', ['--root', dir.root, 'inspect', name])).stdout))[0];

  it("prints the id and returns while the container runs under it, as the user, with nothing of the caller's", async () => {
    const started = await hutchVia(
      'c',
      run('-d', '--name', 'own', PLAIN, 'sh', '-c', 'echo up; exec sleep 1000'),
      WARM,
    );
    // Awaited to its end: neither the monitor nor anything it started holds the caller's stdout or stderr.
    expect([text(started.stderr), started.exitCode]).toEqual(['', 0]);
    const id = text(started.stdout).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const state = (await inspect('own')).State;
    expect(state).toMatchObject({ Status: 'running', Running: true });
    const monitor = state.MonitorPid as number;
    expect(readFileSync(`/proc/${monitor}/cmdline`, 'latin1').split('\0')[0]).toBe('hutch-monitor');
    const stat = readFileSync(`/proc/${monitor}/stat`, 'utf8');
    expect(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3])).toBe(monitor); // a session of its own
    const environ = readFileSync(`/proc/${monitor}/environ`, 'latin1');
    expect(environ).not.toContain('HUTCH_DETACHED_REPORT_FD');
    // The container's root is the user outside.
    expect(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${state.Pid}/status`, 'utf8'))?.[1]).toBe(
      String(process.getuid!()),
    );
    expect(text((await hutchVia('node', ['--root', dir.root, 'logs', 'own'])).stdout)).toBe('up');
    const removed = await hutchVia('c', ['--root', dir.root, 'rm', '-f', 'own']);
    expect([text(removed.stderr), removed.exitCode]).toEqual(['', 0]);
    expect(
      existsSync(`/proc/${monitor}/cmdline`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${monitor}/status`, 'utf8')),
    ).toBe(false);
    expect(await ps()).toEqual([]);
  });

  it('fails as the TypeScript path does, leaving nothing: a name in use, a command the image lacks', async () => {
    const first = await hutchVia('c', run('-d', '--name', 'taken', PLAIN, 'sleep', '1000'), WARM);
    expect([text(first.stderr), first.exitCode]).toEqual(['', 0]);
    for (const args of [run('-d', '--name', 'taken', PLAIN, 'true'), run('-d', PLAIN, 'no-such-command')]) {
      const [c, node] = [await hutchVia('c', args, WARM), await hutchVia('node', args, WARM)];
      expect(c.exitCode).not.toBe(0);
      expect([text(c.stdout), text(c.stderr), c.exitCode]).toEqual([
        text(node.stdout),
        text(node.stderr),
        node.exitCode,
      ]);
      expect(await ps()).toEqual([text(first.stdout).trim()]);
    }
    expect((await hutchVia('node', ['--root', dir.root, 'rm', '-f', 'taken'])).exitCode).toBe(0);
    expect(runFolders()).toEqual([]);
  });

  it('-dit: the monitor it became holds the terminal and the attach socket, a shell runs a typed line', async () => {
    const started = await hutchVia('c', run('-dit', '--name', 'term', PLAIN, 'sh'), WARM);
    expect([text(started.stderr), started.exitCode]).toEqual(['', 0]);
    const attach = execa(process.execPath, [HUTCH, 'attach', '--root', dir.root, 'term'], {
      stdin: 'pipe',
      reject: false,
      env: { HOME: home },
    });
    let seen = '';
    attach.stdout.on('data', (chunk: Buffer) => (seen += String(chunk)));
    attach.stdin.write('echo $((6*7))x\n');
    for (let i = 0; i < 200 && !seen.includes('42x'); i++) await sleep(25);
    expect(seen).toContain('42x'); // the shell's answer, not the echo
    expect((await hutchVia('node', ['--root', dir.root, 'stop', '-t', '0', 'term'])).exitCode).toBe(0);
    expect((await attach).exitCode).toBe(137);
    expect((await hutchVia('node', ['--root', dir.root, 'rm', 'term'])).exitCode).toBe(0);
  });

  it('--rm: the record goes when its command ends', async () => {
    const started = await hutchVia('c', run('-d', '--rm', PLAIN, 'true'), WARM);
    expect([text(started.stderr), started.exitCode]).toEqual(['', 0]);
    for (let i = 0; i < 100 && (await ps()).length > 0; i++) await sleep(50);
    expect(await ps()).toEqual([]);
    await noDaemon(true);
  });
});

describe('hutch run IMAGE through the C front, for real', () => {
  let before: ReturnType<typeof leakSnapshot>;
  beforeAll(() => {
    before = leakSnapshot();
  });

  it("runs as the TypeScript path does: output, status, the image's config and user", async () => {
    for (const args of [
      run('--rm', '--network', 'none', CONFIGURED),
      run('--rm', '--network', 'host', PLAIN, 'sh', '-c', 'cat /etc/hostname; id; exit 7'),
      run('--rm', '--network', 'none', LINKED_WORKDIR),
      run('--rm', '--network', 'none', '-u', 'user', HOSTILE, 'id'),
      run('--rm', '--network', 'none', PLAIN, 'cat', '/opt/keep/b.txt', '/opt/gone.txt'), // a whiteout: 1
      run(
        '--rm',
        '--network',
        'none',
        '--tmpfs',
        '/opt/keep:size=1m',
        PLAIN,
        'sh',
        '-c',
        'ls /opt/keep; grep " /opt/keep " /proc/mounts; echo x > /opt/keep/y && cat /opt/keep/y',
      ),
      run('--rm', '--network', 'none', 'hub', 'cat', '/opt/keep/b.txt'), // a short name
      // --read-only: the union refuses writes, a --tmpfs on it takes them
      run(
        '--rm',
        '--read-only',
        '--network',
        'none',
        '--tmpfs',
        '/tmp',
        PLAIN,
        'sh',
        '-c',
        'touch /opt/z; touch /tmp/z && echo ok',
      ),
      run('--rm', '--network', 'none', '--entrypoint', '/bin/id', CONFIGURED, '-u'), // its Cmd dropped
      run('--rm', '--network', 'none', '--entrypoint', '', CONFIGURED, 'pwd'),
      run(
        '--rm',
        PLAIN,
        'sh',
        '-c',
        'cat /etc/hosts /etc/resolv.conf; ip -4 -o addr show tap0 | grep -o "inet [0-9./]*"',
      ),
    ]) {
      const env = { ...COLD, FROM_HOST: 'host value' };
      await noDaemon();
      const c = await hutchVia('c', args, { ...env, ...IN_C });
      await noDaemon();
      const node = await hutchVia('node', args, env);
      const same = (s: string): string => s.replace(/\b[0-9a-f]{12}$/gm, 'HOSTNAME');
      expect([same(text(c.stdout)), text(c.stderr), c.exitCode]).toEqual([
        same(text(node.stdout)),
        text(node.stderr),
        node.exitCode,
      ]);
    }
    await noDaemon();
    expect(text((await hutchVia('c', run('--rm', '--network', 'none', CONFIGURED), { ...COLD, ...IN_C })).stdout)).toBe(
      'configured \n1000\n/opt',
    );
    await noDaemon();
    expect(runFolders()).toEqual([]);
    expect(marks()).toEqual([]);
  });

  it('keeps the setup.json (-v: its volumes, --entrypoint, --pull) and mark the TypeScript path keeps while it runs; the user outside is mapped', async () => {
    const seen: Record<Via, { setup: string; marks: string[]; uid: string }> = {} as never;
    for (const via of ['c', 'node'] as const) {
      const args = run(
        '--rm',
        '--network',
        'none',
        '-v',
        `${home}:/host:ro`,
        '-u',
        'user',
        '--entrypoint',
        '/bin/sh', // setup.json's flags keep it, and --pull's
        '--pull=never',
        PLAIN,
        '-c',
        'trap "exit 0" TERM; echo up; sleep 30 & wait',
      );
      await noDaemon();
      const { child } = await startedVia(via, args, { cwd: dir.dir, home }, { ...COLD, ...(via === 'c' ? IN_C : {}) });
      const [id] = readdirSync(join(dir.root, 'data', 'ephemeral'));
      const setup = readFileSync(join(dir.root, 'data', 'ephemeral', id!, 'setup.json'), 'utf8');
      let container = processTree(child.pid!).find((p) => p.command === 'sleep 30');
      for (let i = 0; i < 100 && container === undefined; i++) {
        await sleep(20); // `up` is said before sleep starts
        container = processTree(child.pid!).find((p) => p.command === 'sleep 30');
      }
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${container!.pid}/status`, 'utf8'))![1]!;
      seen[via] = { setup, marks: marks().map((m) => (m === id ? 'ID' : m)), uid };
      child.kill('SIGTERM');
      await child;
    }
    expect(seen.c).toEqual(seen.node);
    expect(seen.c.marks).toEqual(['ID']);
    expect(Number(seen.c.uid)).not.toBe(process.getuid!()); // the user's subordinate id for 1000
    await noDaemon();
    expect(marks()).toEqual([]);
  });

  it('warm: a lingering daemon serves C runs and Node runs alike; the image can be removed after', async () => {
    const warm = WARM;
    await noDaemon();
    const first = await hutchVia('c', run('--rm', '--network', 'none', PLAIN, 'true'), { ...warm, ...IN_C });
    expect([text(first.stderr), first.exitCode]).toEqual(['', 0]);
    const [daemon] = daemons();
    expect(daemon).toBeDefined();
    for (const via of ['c', 'node', 'c'] as const) {
      const r = await hutchVia(via, run('--rm', '--network', 'none', PLAIN, 'cat', '/opt/keep/b.txt'), {
        ...warm,
        ...(via === 'c' ? IN_C : {}),
      });
      expect([text(r.stdout), text(r.stderr), r.exitCode]).toEqual(['b', '', 0]);
      expect(daemons()).toEqual([daemon]);
    }
    process.kill(daemon!, 'SIGTERM');
    await noDaemon();
    expect(runFolders()).toEqual([]);
    const rmi = await hutchVia('node', ['--root', dir.root, 'rmi', LINKED_WORKDIR]);
    expect([text(rmi.stderr), rmi.exitCode]).toEqual(['', 0]);
  });

  /** What a run whose daemon was killed said, made the same on either path (pids, ids, the race's words). */
  function killedDaemonWords(said: string): string {
    return (
      said
        .replace(/pid \d+/g, 'pid N')
        .replace(/[0-9a-f]{64}/g, 'ID')
        // Either of rootfsOf's words, on either path: the holder's end read first, or the daemon
        // seen gone first (which comes first is the kernel's order of the two ends).
        .replace(
          /the union filesystem daemon ended (\(the container's holder, pid N, saw it go\)|while the container ran)/g,
          'the union filesystem daemon ended (GONE)',
        )
        // The watcher's warning comes only where it saw the end while the container still ran
        // (watchDaemon on either path): whether it did is the same race.
        .replace(/^hutch: the union filesystem daemon ended \(GONE\): [^\n]*; ending it\r?\n/m, '')
    );
  }

  it('a daemon killed under the container ends it and fails the run, as on the TypeScript path', async () => {
    const seen: Record<Via, { stderr: string; status: number | undefined }> = {} as never;
    for (const via of ['c', 'node'] as const) {
      await noDaemon(true);
      const args = run('--rm', '--network', 'none', PLAIN, 'sh', '-c', 'echo up; sleep 30 & wait');
      const { child } = await startedVia(via, args, { cwd: dir.dir, home }, { ...WARM, ...(via === 'c' ? IN_C : {}) });
      const [daemon] = daemons();
      process.kill(daemon!, 'SIGKILL');
      const done = await child;
      seen[via] = { stderr: killedDaemonWords(text(done.stderr)), status: done.exitCode };
    }
    expect(seen.c).toEqual(seen.node);
    expect(seen.c.status).toBe(125);
    expect(seen.c.stderr).toContain('hutch: container ended: ');
    expect(seen.c.stderr).toContain('the union filesystem daemon ended (GONE)');
    expect(runFolders()).toEqual([]);
    expect(marks()).toEqual([]);
  });

  it('with -t too: the relay watches the union, so a killed daemon ends the container at once', async () => {
    const seen: Record<Via, { output: string; status: number | undefined }> = {} as never;
    for (const via of ['c', 'node'] as const) {
      await noDaemon(true);
      const term = callerTerminal();
      // A container that outlives the test unless the union's end, watched during the relay, ends it
      // (with `sleep 1000 & wait` alone busybox's sh ended by itself once the daemon was gone).
      const script = 'echo up; sleep 1000 & wait; echo "wait ended $?"; sleep 1; echo after';
      const args = run('--rm', '-t', '--network', 'none', PLAIN, 'sh', '-c', script);
      const child = execa(via === 'c' ? HUTCH : process.execPath, via === 'c' ? args : [HUTCH, ...args], {
        env: { PATH, HOME: home, ...WARM, ...(via === 'c' ? IN_C : {}) },
        extendEnv: false,
        reject: false,
        cwd: dir.dir,
        stdio: term.stdio,
      });
      await term.printed('up');
      const [daemon] = daemons();
      process.kill(daemon!, 'SIGKILL');
      const done = await child;
      term.close();
      seen[via] = { output: killedDaemonWords(term.output()), status: done.exitCode };
    }
    expect(seen.c).toEqual(seen.node);
    expect(seen.c.status).toBe(125);
    expect(seen.c.output).toMatch(/^up\r+\n/); // the container's pty and the caller's each add a \r
    expect(seen.c.output).toContain('hutch: container ended: the union filesystem daemon ended (GONE)');
    expect(runFolders()).toEqual([]);
    expect(marks()).toEqual([]);
  });

  it('leaves no process, mount or folder', async () => {
    await expectNoLeaks(before, [join(dir.root, 'run')]);
  });
});
