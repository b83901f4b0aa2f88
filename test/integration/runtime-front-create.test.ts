// bin/hutch-runtime's C front creates a container from the config.json an engine writes for a
// rootless container (podman's shape: no user namespace of its own, since podman runs the runtime
// inside its own) without a Node start, as `hutch runtime create` does in Node
// (native/runtime-front-create.c, runtime-front-spec.c). The runtime runs here as podman runs it:
// root of a user namespace that maps the test user alone. Each plan check captures the plan
// the helper gets: a stand-in helper keeps fd 3 and fails, so the front undoes its create and
// hands it to Node, which sends its own plan to the same stand-in; the two must be the same bytes.
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fdStdio, REPO, sandbox, type Sandbox } from '../helpers/hutch-cli.js';
import { busyboxRootfs } from '../helpers/rootfs.js';

const RUNTIME = join(REPO, 'bin', 'hutch-runtime');
const CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
let box: Sandbox;
let created: { root: string; id: string }[];

beforeEach(async () => {
  box = sandbox();
  created = [];
  await busyboxRootfs(box.dir);
  mkdirSync(join(box.dir, 'data', 'shm'), { recursive: true });
  for (const f of ['hostname', 'hosts', '.containerenv']) writeFileSync(join(box.dir, 'data', f), `${f}\n`);
  mkdirSync(join(box.dir, 'cache'), { mode: 0o700 });
  mkdirSync(join(box.dir, 'plans'));
  // The stand-in helper: its environment is empty and its argv[0] its path, so the folder is written in.
  writeFileSync(join(box.dir, 'capture.sh'), `#!/bin/sh\n/bin/cat <&3 > ${join(box.dir, 'plans')}/plan-$$\nexit 1\n`, {
    mode: 0o755,
  });
  writeFileSync(join(box.dir, 'watch.cjs'), "process.on('exit', () => process.stderr.write('node started\\n'));");
});
afterEach(async () => {
  for (const c of created) await execa(RUNTIME, ['--root', c.root, 'delete', '--force', c.id], { reject: false });
  box.remove();
});

/** config.json as rootless podman 4 writes it for `run -d --rootfs DIR CMD` (its mounts' files in data/), then `change`. */
function podmanConfig(args: string[], change: (c: Record<string, any>) => void = () => undefined): void {
  const data = (name: string): string => join(box.dir, 'data', name);
  const c: Record<string, any> = {
    ociVersion: '1.0.2-dev',
    process: {
      user: { uid: 0, gid: 0, umask: 18 },
      args,
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm', 'HOSTNAME=abc'],
      cwd: '/',
      capabilities: { bounding: CAPS, effective: CAPS, permitted: CAPS },
      rlimits: [{ type: 'RLIMIT_CORE', hard: 0, soft: 0 }],
    },
    root: { path: 'rootfs' },
    hostname: 'abc',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'noexec', 'strictatime', 'mode=755', 'size=65536k'],
      },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/etc/hostname', type: 'bind', source: data('hostname'), options: ['bind', 'rprivate'] },
      { destination: '/etc/hosts', type: 'bind', source: data('hosts'), options: ['bind', 'rprivate'] },
      {
        destination: '/dev/shm',
        type: 'bind',
        source: data('shm'),
        options: ['bind', 'rprivate', 'nosuid', 'noexec', 'nodev'],
      },
      { destination: '/run/.containerenv', type: 'bind', source: data('.containerenv'), options: ['bind', 'rprivate'] },
      {
        destination: '/sys/fs/cgroup',
        type: 'cgroup',
        source: 'cgroup',
        options: ['rprivate', 'nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
      },
    ],
    annotations: { 'io.container.manager': 'libpod', 'org.opencontainers.image.stopSignal': '15' },
    linux: {
      sysctl: { 'net.ipv4.ping_group_range': '0 0' },
      resources: {},
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      seccomp: {
        defaultAction: 'SCMP_ACT_ALLOW',
        architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
        syscalls: [{ names: ['acct', 'kexec_load'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
      },
      maskedPaths: ['/proc/acpi', '/proc/kcore', '/proc/keys', '/sys/firmware'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/sys'],
    },
  };
  change(c);
  writeFileSync(join(box.dir, 'config.json'), JSON.stringify(c));
}

interface Created {
  exitCode: number | undefined;
  stderr: string;
  node: boolean;
}

/**
 * `create` as podman runs it (root of a user namespace of the test user), on ROOT (made), through
 * the front; stdout to `stdout`, `options` (--console-socket) before the id.
 */
async function create(
  root: string,
  id: string,
  env: Record<string, string> = {},
  stdout = join(box.dir, `${id}.out`),
  options: string[] = [],
): Promise<Created> {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  created.push({ root, id });
  const out = openSync(stdout, 'w'),
    err = openSync(`${stdout}.err`, 'w');
  const r = await execa(
    'unshare',
    [
      '--user',
      '--map-root-user',
      RUNTIME,
      '--root',
      root,
      'create',
      '--bundle',
      box.dir,
      '--pid-file',
      join(root, `${id}.pid`),
      ...options,
      id,
    ],
    {
      reject: false,
      stdin: 'ignore',
      // Files, not pipes (which execa would wait for): the container keeps the runtime's stdout and stderr.
      stdout: fdStdio(out),
      stderr: fdStdio(err),
      env: {
        NODE_OPTIONS: `--require=${join(box.dir, 'watch.cjs')}`,
        HUTCH_DEBUG: '',
        HUTCH_CODE_CACHE_DIR: join(box.dir, 'cache'),
        ...env,
      },
    },
  );
  closeSync(out);
  closeSync(err);
  const stderr = readFileSync(`${stdout}.err`, 'utf8');
  return {
    exitCode: r.exitCode,
    stderr: stderr.replaceAll('node started\n', ''),
    node: stderr.includes('node started'),
  };
}

/** The plans the stand-in helper kept since the last call (removed). */
function takePlans(): Buffer[] {
  const dir = join(box.dir, 'plans');
  return readdirSync(dir).map((f) => {
    const plan = readFileSync(join(dir, f));
    rmSync(join(dir, f));
    return plan;
  });
}

async function capture(
  change?: (c: Record<string, any>) => void,
  options: string[] = [],
): Promise<{ plans: Buffer[]; node: boolean }> {
  podmanConfig(['sleep', '1000'], change);
  const root = join(box.dir, 'state');
  const id = `p${created.length}`;
  const r = await create(root, id, { HUTCH_NSEXEC: join(box.dir, 'capture.sh') }, join(box.dir, `${id}.out`), options);
  expect(r.exitCode).not.toBe(0); // the stand-in never clones
  const kept = takePlans();
  expect(readdirSync(root).filter((e) => !e.startsWith('.') && !e.endsWith('.pid'))).toEqual([]); // undone
  return { plans: kept, node: r.node };
}

describe('hutch-runtime create in C: the plan Node would send', () => {
  const shapes: [string, (c: Record<string, any>) => void, string[]?][] = [
    ["podman's", () => undefined],
    [
      'a read-only root, its propagation, groups, ambient capabilities, a tmpcopyup and IPC sysctls',
      (c) => {
        c.root.readonly = true;
        c.linux.rootfsPropagation = 'rprivate';
        c.process.user.additionalGids = [0, 5];
        c.process.capabilities.ambient = ['cap_kill'];
        c.process.capabilities.inheritable = ['KILL', 'CAP_CHOWN'];
        c.process.noNewPrivileges = true;
        c.process.env.push('HOME=/home');
        c.mounts.push({
          destination: '/tmp/../run/t',
          type: 'tmpfs',
          source: 'tmpfs',
          options: ['tmpcopyup', 'size=1m'],
        });
        c.linux.sysctl['kernel.shmmax'] = '4096';
        c.linux.sysctl['fs/mqueue/msg_max'] = '12';
      },
    ],
    [
      'no /dev tmpfs, no pid, network or ipc namespace of its own (the host bound), no seccomp, no hostname',
      (c) => {
        c.mounts = c.mounts.filter((m: { destination: string }) => m.destination !== '/dev');
        c.linux.namespaces = [{ type: 'mount' }, { type: 'uts' }, { type: 'cgroup' }];
        c.linux.sysctl = {};
        delete c.linux.seccomp;
        delete c.hostname;
        delete c.process.rlimits;
      },
    ],
    [
      "a user namespace of its own, mapping root (podman's --userns keep-id shape; devpts' gid=5 unmapped)",
      (c) => {
        c.linux.namespaces.push({ type: 'user' });
        c.linux.uidMappings = [{ containerID: 0, hostID: 0, size: 1 }];
        c.linux.gidMappings = [{ containerID: 0, hostID: 0, size: 1 }];
      },
    ],
    [
      "a terminal (podman's -t: the helper sends the pty to the console socket, a relative path resolved)",
      (c) => {
        c.process.terminal = true;
        c.process.consoleSize = { height: 24, width: 80 };
      },
      ['--console-socket', 'console.sock'],
    ],
  ];

  it.each(shapes)('%s', async (_, change, options) => {
    // The first create compiles the profile in Node and keeps it; the front reads it from then on.
    const cold = await capture(change, options);
    const warm = await capture(change, options);
    expect(warm.plans.length, 'the front sent a plan, then Node').toBe(2);
    expect(warm.plans[0]!.equals(warm.plans[1]!), 'the same bytes').toBe(true);
    if (readFileSync(join(box.dir, 'config.json'), 'utf8').includes('seccomp'))
      expect(cold.plans.length, 'no kept filter yet: Node alone').toBe(1);
  });
});

describe('hutch-runtime create in C: a container', () => {
  it('is created without Node, runs as the user, and has the record Node writes', async () => {
    podmanConfig([
      'sh',
      '-c',
      'echo "$(id -u) $(hostname) $(cat /proc/sys/net/ipv4/ping_group_range)"; exec sleep 1000',
    ]);
    await create(join(box.dir, 'warm'), 'w'); // keeps the filter
    const front = await create(join(box.dir, 'front'), 'c1');
    expect(front.stderr).toBe('');
    expect(front.exitCode).toBe(0);
    expect(front.node, 'no Node process').toBe(false);
    const node = await create(join(box.dir, 'node'), 'c1', { HUTCH_RUNTIME_FRONT: 'node' }, join(box.dir, 'node.out'));
    expect(node.exitCode).toBe(0);
    const record = (root: string): Record<string, unknown> => {
      const r = JSON.parse(readFileSync(join(root, 'c1', 'state.json'), 'utf8'));
      expect(r.status).toBe('created');
      expect(readFileSync(join(root, 'c1.pid'), 'utf8')).toBe(String(r.pid));
      return { ...r, pid: 'PID', pidStart: 'START', created: 'TIME' };
    };
    expect(record(join(box.dir, 'front'))).toEqual(record(join(box.dir, 'node')));
    const state = await execa(RUNTIME, ['--root', join(box.dir, 'front'), 'start', 'c1']);
    expect(state.exitCode).toBe(0);
    const pid = Number(readFileSync(join(box.dir, 'front', 'c1.pid'), 'utf8'));
    for (let i = 0; i < 100 && !readFileSync(join(box.dir, 'c1.out'), 'utf8').includes('\n'); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(readFileSync(join(box.dir, 'c1.out'), 'utf8')).toBe('0 abc 0\t0\n');
    const uid = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)![1];
    expect(Number(uid), "the container's process is the user's").toBe(process.getuid!());
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^Seccomp:\s+2$/m);
  });

  it('with a user namespace of its own, its maps written as Node writes them', async () => {
    podmanConfig(['sh', '-c', 'echo "$(id -u) $(cat /proc/self/uid_map)"; exec sleep 1000'], (c) => {
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = [{ containerID: 0, hostID: 0, size: 1 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 0, size: 1 }];
    });
    await create(join(box.dir, 'warm'), 'w', { HUTCH_NSEXEC: join(box.dir, 'capture.sh') }); // keeps the filter
    const front = await create(join(box.dir, 'front'), 'u1');
    expect(front.stderr).toBe('');
    expect(front.node, 'no Node process').toBe(false);
    expect((await execa(RUNTIME, ['--root', join(box.dir, 'front'), 'start', 'u1'])).exitCode).toBe(0);
    const pid = Number(readFileSync(join(box.dir, 'front', 'u1.pid'), 'utf8'));
    for (let i = 0; i < 100 && !readFileSync(join(box.dir, 'u1.out'), 'utf8').includes('\n'); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(readFileSync(join(box.dir, 'u1.out'), 'utf8').split(/\s+/).join(' ')).toBe('0 0 0 1 ');
    expect(readFileSync(`/proc/${pid}/uid_map`, 'utf8').split(/\s+/).join(' ')).toBe(` 0 ${process.getuid!()} 1 `);
  });

  it('a failure once the entry is made is undone, and Node words it', async () => {
    podmanConfig(['/no/such/command']);
    await create(join(box.dir, 'warm'), 'w', { HUTCH_NSEXEC: join(box.dir, 'capture.sh') }); // keeps the filter
    const root = join(box.dir, 'front');
    const r = await create(root, 'bad');
    expect(r.node, 'handed to Node').toBe(true);
    expect(r.exitCode).toBe(127);
    expect(r.stderr).toContain('cannot run /no/such/command: no such file or directory in the container');
    expect(readdirSync(root).filter((e) => !e.startsWith('.'))).toEqual([]);
  });

  const toNode: [string, (c: Record<string, any>) => void][] = [
    ['a user namespace without its maps', (c) => c.linux.namespaces.push({ type: 'user' })],
    ['hooks', (c) => (c.hooks = { createRuntime: [{ path: '/bin/true' }] })],
    ['a terminal without a console socket', (c) => (c.process.terminal = true)],
    ['a memory limit', (c) => (c.linux.resources = { memory: { limit: 100000000 } })],
    ['a namespace path', (c) => c.linux.namespaces.push({ type: 'cgroup', path: '/proc/self/ns/cgroup' })],
    ['a field it does not know', (c) => (c.process.oomScoreAdj = 100)],
    ['an unknown capability', (c) => (c.process.capabilities.bounding = ['CAP_NOPE'])],
  ];
  it.each(toNode)('leaves %s to Node', async (_, change) => {
    podmanConfig(['true'], change);
    const r = await create(join(box.dir, 'state'), 'n', { HUTCH_NSEXEC: join(box.dir, 'capture.sh') });
    expect(r.node).toBe(true);
  });
});
