// hutch system reset on the user's default storage (XDG folders inside the test's sandbox): it
// refuses while containers run, asks on a terminal, and with -f stops a `run -d` container, a
// foreground run and a `hutch runtime` container, then leaves no file, process or mount behind.
import { execa, type ResultPromise } from 'execa';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HUTCH, sandbox, type Sandbox } from '../helpers/hutch-cli.js';
import { requires } from '../helpers/host.js';
import { expectNoLeaks, leakSnapshot, type LeakSnapshot } from '../helpers/leaks.js';
import { busyboxRootfs } from '../helpers/rootfs.js';

let box: Sandbox;
let rootfs: string;
let before: LeakSnapshot;
const data = (): string => join(box.dir, 'data', 'hutch');
const run = (): string => join(box.dir, 'run', 'hutch');
const ociRoot = (): string => join(box.dir, 'run', 'hutch-runtime');

/** `hutch ARGS` as the user with this sandbox for its XDG folders (so: hutch's default storage). */
function hutch(args: string[], options: { input?: string; stdio?: 'ignore' } = {}): ResultPromise {
  const env = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: box.dir,
    XDG_DATA_HOME: join(box.dir, 'data'),
    XDG_RUNTIME_DIR: join(box.dir, 'run'),
  };
  const io = options.stdio === 'ignore' ? { stdio: 'ignore' as const } : { input: options.input ?? '' };
  return execa(process.execPath, [HUTCH, ...args], { reject: false, extendEnv: false, env, ...io });
}

beforeAll(() => requires('userns', 'subuid', 'newuidmap', 'busybox', 'fuse'));
beforeEach(async () => {
  before = leakSnapshot();
  box = sandbox();
  mkdirSync(join(box.dir, 'run'), { mode: 0o700 });
  rootfs = await busyboxRootfs(box.dir);
  await execa('tar', ['-C', rootfs, '-cf', join(box.dir, 'rootfs.tar'), '.']);
  expect((await hutch(['import', '-q', join(box.dir, 'rootfs.tar'), 'localhost/reset-me'])).exitCode).toBe(0);
});
afterEach(async () => {
  await hutch(['system', 'reset', '--force']);
  box.remove();
  await expectNoLeaks(before);
});

/** A detached container of the image, running `sleep TAG`. */
async function detached(name: string, tag: string): Promise<void> {
  const r = await hutch(['run', '-d', '--name', name, 'localhost/reset-me', 'sleep', tag]);
  expect(r.exitCode, String(r.stderr)).toBe(0);
}

/** This user's processes whose whole command line is `command`. */
function pgrep(command: string): number[] {
  const r = spawnSync('pgrep', ['-u', String(userInfo().uid), '-f', `^${command}$`], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

describe('hutch system reset', () => {
  it('refuses while a container runs, names it and says what to do; nothing is removed', async () => {
    const tag = String(50000 + Math.floor(Math.random() * 10000));
    await detached('busy', tag);
    const r = await hutch(['system', 'reset']);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(
      /^hutch: cannot reset hutch's storage: 1 container\(s\) still run: busy \([0-9a-f]{12}\)$/m,
    );
    expect(r.stderr).toContain(
      'hint: stop them first (`hutch stop`, or end the foreground runs), or use `hutch system reset --force`, which stops them',
    );
    expect(pgrep(`sleep ${tag}`)).toHaveLength(1);
    expect((await hutch(['images', '-q'])).stdout).not.toBe('');
    expect((await hutch(['ps', '-q'])).stdout).not.toBe('');
  });

  it('with -f stops every kind of running container, then removes all of it: no file, process or mount left', async () => {
    const tag = String(60000 + Math.floor(Math.random() * 10000));
    await detached('web', tag);
    await hutch(['create', '--name', 'idle', 'localhost/reset-me', 'true']);
    // A foreground run in progress, and a created container of the OCI face (its process waits for start).
    const foreground = hutch(
      ['run', '--rootfs', rootfs, '--', 'sh', '-c', `trap 'exit 0' TERM; sleep ${Number(tag) + 1} & wait`],
      { stdio: 'ignore' },
    );
    const bundle = join(box.dir, 'bundle');
    mkdirSync(bundle);
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(ociConfig(rootfs, ['sleep', String(Number(tag) + 2)])));
    expect((await hutch(['runtime', 'create', '--bundle', bundle, 'oci1'], { stdio: 'ignore' })).exitCode).toBe(0);
    await until(() => pgrep(`sleep ${Number(tag) + 1}`).length === 1);

    const r = await hutch(['system', 'reset', '-f']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(String(r.stdout).split('\n')).toEqual([
      'removed 2 container(s)',
      `removed ${data()}`,
      `removed ${run()}`,
      `removed ${ociRoot()}`,
    ]);
    expect((await foreground).exitCode).toBe(0); // ended by SIGTERM, as a Ctrl-C would
    for (const t of [0, 1, 2]) expect(pgrep(`sleep ${Number(tag) + t}`), `sleep ${Number(tag) + t}`).toEqual([]);
    for (const dir of [data(), run(), ociRoot()]) expect(existsSync(dir), dir).toBe(false);
    expect((await hutch(['images', '-q'])).stdout).toBe('');
    expect((await hutch(['ps', '-aq'])).stdout).toBe('');
  });

  it('asks first on a terminal: no keeps everything, yes removes it', async () => {
    const onTty = (answer: string) =>
      execa('script', ['-qec', `${process.execPath} ${HUTCH} system reset`, '/dev/null'], {
        reject: false,
        extendEnv: false,
        input: `${answer}\n`,
        env: {
          PATH: '/usr/local/bin:/usr/bin:/bin',
          HOME: box.dir,
          XDG_DATA_HOME: join(box.dir, 'data'),
          XDG_RUNTIME_DIR: join(box.dir, 'run'),
          TERM: 'dumb',
        },
      });
    const no = await onTty('n');
    expect(no.stdout).toContain(
      `This removes every container, image, layer, volume and runtime file of hutch in:\r\n  ${data()}`,
    );
    expect(no.stdout).toContain('Are you sure you want to continue? [y/N]');
    expect(no.stdout).toContain('nothing was removed');
    expect(existsSync(data())).toBe(true);
    const yes = await onTty('y');
    expect(yes.stdout).toContain(`removed ${data()}`);
    expect(existsSync(data())).toBe(false);
  });
});

/** A config.json as an engine writes it: the user mapped to root, no terminal. */
function ociConfig(root: string, args: string[]): object {
  return {
    ociVersion: '1.2.0',
    process: { user: { uid: 0, gid: 0 }, args, env: ['PATH=/bin'], cwd: '/' },
    root: { path: root },
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
    linux: {
      namespaces: [{ type: 'user' }, { type: 'mount' }, { type: 'pid' }],
      uidMappings: [{ containerID: 0, hostID: userInfo().uid, size: 1 }],
      gidMappings: [{ containerID: 0, hostID: userInfo().gid, size: 1 }],
    },
  };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
  expect(check()).toBe(true);
}
