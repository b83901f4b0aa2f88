// A real client of hutch-fs: rootless podman (the Debian package) as the test user, with its own
// storage whose overlay driver runs bin/hutch-fs as mount_program. It loads a busybox image and
// runs a container that writes, deletes and renames files of the lower layers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requires } from '../helpers/host.js';

const repo = join(import.meta.dirname, '..', '..');
let tmp: string;
let env: NodeJS.ProcessEnv;

function podman(...args: string[]): { status: number; stdout: string; stderr: string } {
  const opts = [
    '--root',
    join(tmp, 'root'),
    '--runroot',
    join(tmp, 'runroot'),
    '--storage-driver',
    'overlay',
    '--storage-opt',
    `overlay.mount_program=${join(repo, 'bin/hutch-fs')}`,
  ];
  const r = spawnSync('podman', [...opts, ...args], { env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  requires('podman', 'subuid', 'newuidmap', 'fuse', 'busybox');
  tmp = mkdtempSync(join(tmpdir(), 'hutch-podman-'));
  const run = join(tmp, 'run');
  mkdirSync(run);
  chmodSync(run, 0o700);
  mkdirSync(join(tmp, 'home'));
  writeFileSync(
    join(tmp, 'storage.conf'),
    `[storage]\ndriver = "overlay"\ngraphroot = "${tmp}/root"\nrunroot = "${tmp}/runroot"\nrootless_storage_path = "${tmp}/root"\n` +
      `[storage.options.overlay]\nmount_program = "${join(repo, 'bin/hutch-fs')}"\n`,
  );
  writeFileSync(
    join(tmp, 'containers.conf'),
    '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nruntime = "runc"\n',
  );
  env = {
    PATH: process.env.PATH,
    HOME: join(tmp, 'home'),
    XDG_RUNTIME_DIR: run,
    CONTAINERS_STORAGE_CONF: join(tmp, 'storage.conf'),
    CONTAINERS_CONF: join(tmp, 'containers.conf'),
  };
  execFileSync('bash', [join(repo, 'test/fixtures/busybox-archive.sh'), join(tmp, 'img')]);
});

afterAll(() => {
  if (tmp === undefined) return;
  podman('unshare', 'rm', '-rf', join(tmp, 'root'), join(tmp, 'runroot'), join(tmp, 'home'));
  // Rootless podman keeps a pause process holding its namespaces: it is ours, end it.
  const pause = join(tmp, 'run/libpod/tmp/pause.pid');
  if (existsSync(pause)) {
    try {
      process.kill(Number(readFileSync(pause, 'utf8')), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(tmp, { recursive: true, force: true });
});

describe('podman with hutch-fs as mount_program', () => {
  it('loads an image and runs a container that changes its lower layers', () => {
    const load = podman('load', '-i', join(tmp, 'img/bb.tar'));
    expect(load.stderr + load.stdout).toMatch(/Loaded image: localhost\/hutchbb:latest/);
    const r = podman(
      'run',
      '--rm',
      '--network',
      'none',
      'localhost/hutchbb:latest',
      'sh',
      '-c',
      'echo new >> /data/a && rm /data/b && mv /data/dir /data/moved && ls /data && cat /data/a /data/moved/sub/f && grep " / " /proc/mounts',
    );
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.stdout).toMatch(/^a\nmoved\na\nnew\ndeep\nhutch-fs \/ fuse\.hutch-fs /);
    // The image's layers are untouched: a new container sees the original files.
    const again = podman(
      'run',
      '--rm',
      '--network',
      'none',
      'localhost/hutchbb:latest',
      'sh',
      '-c',
      'ls /data /data/dir/sub',
    );
    expect(again.stdout).toBe('/data:\na\nb\ndir\n\n/data/dir/sub:\nf\n');
  });

  it('runs a --userns=auto container (runc and hutch-runtime): the layers stay as they are, hutch-fs shifts their ids (uidmapping=)', () => {
    const script =
      'cat /proc/self/uid_map; stat -c %u:%g /data/a /bin/busybox; echo x > /data/new; chown 5:6 /data/b; stat -c %u:%g /data/new /data/b';
    for (const runtime of ['runc', join(repo, 'bin/hutch-runtime')]) {
      const r = podman(
        '--runtime',
        runtime,
        'run',
        '--name',
        'auto',
        '--network',
        'none',
        '--userns=auto',
        'localhost/hutchbb:latest',
        'sh',
        '-c',
        script,
      );
      expect(r.status, r.stderr).toBe(0);
      const [map, ...owners] = r.stdout.trim().split('\n');
      // A range of podman's own namespace other than its root: a real shift.
      expect(map!.trim().split(/\s+/)[0]).toBe('0');
      expect(map!.trim().split(/\s+/)[1]).not.toBe('0');
      expect(owners).toEqual(['0:0', '0:0', '0:0', '5:6']);
      // On disk, in podman's namespace, the container's changes carry the image's ids unshifted.
      const upper = podman('inspect', '--format', '{{.GraphDriver.Data.UpperDir}}', 'auto').stdout.trim();
      expect(podman('unshare', 'stat', '-c', '%u:%g', `${upper}/data/new`, `${upper}/data/b`).stdout).toBe(
        '0:0\n5:6\n',
      );
      expect(podman('rm', 'auto').status).toBe(0);
    }
  });
});
