// `hutch cp`: both directions, with a running container (through its own mounts) and a stopped one
// (through its layers and writable layer), `-` for a tar on stdin and stdout, ownership as podman
// maps it, and the container's paths resolved inside its root: a symlink that points at the host's
// folders leads to the container's own. Also `hutch commit --pause` of a running container.
import { execa } from 'execa';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { requires } from '../helpers/host.js';
import { HUTCH, hutch, type Sandbox } from '../helpers/hutch-cli.js';
import { useImageSandbox } from '../helpers/frames.js';
import { freezeForCommit } from '../../src/engine/commit/freeze.js';
import { hutchPaths } from '../../src/paths.js';

requires('fuse', 'subuid', 'newuidmap', 'busybox');

let box: Sandbox;
const IMAGE = 'localhost/itest';
const h = (...args: string[]) => hutch([args[0]!, '--root', box.root, ...args.slice(1)]);
const inCtr = async (name: string, script: string): Promise<string> => {
  const r = await h('exec', name, 'sh', '-c', script);
  expect(r.stderr).toBe('');
  return r.stdout;
};

useImageSandbox((b) => (box = b));

/** Whether a process is stopped by SIGSTOP or sits in a frozen cgroup. */
function frozen(pid: number): boolean {
  if (/\nState:\tT/.test(readFileSync(`/proc/${pid}/status`, 'utf8'))) return true;
  const cgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('::')[1];
  const file = `/sys/fs/cgroup${cgroup}/cgroup.freeze`;
  return existsSync(file) && readFileSync(file, 'utf8').trim() === '1';
}

describe('hutch cp with a running container', () => {
  beforeEach(async () => {
    const run = await h('run', '-d', '--name', 'live', '--network', 'none', '-u', '0', IMAGE, 'sleep', '600');
    expect(run.exitCode).toBe(0);
    await inCtr(
      'live',
      'mkdir -p /srv/tree/sub && echo one > /srv/tree/a && echo two > /srv/tree/sub/b && ln -s a /srv/tree/l && chown -R 1000:1000 /srv/tree/sub',
    );
  }, 60_000);
  afterEach(async () => {
    await h('rm', '-f', 'live');
  });

  it('copies a folder out (content, links, modes) and back in, owned by the container user', async () => {
    const out = join(box.dir, 'out');
    mkdirSync(out);
    const r = await h('cp', 'live:/srv/tree', out);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(readFileSync(join(out, 'tree', 'sub', 'b'), 'utf8')).toBe('two\n');
    expect(readdirSync(join(out, 'tree')).sort()).toEqual(['a', 'l', 'sub']);
    // A new name: the folder is copied as that name; its content only with SRC/.
    expect((await h('cp', 'live:/srv/tree', join(out, 'renamed'))).exitCode).toBe(0);
    expect(readFileSync(join(out, 'renamed', 'a'), 'utf8')).toBe('one\n');
    const into = join(box.dir, 'in');
    mkdirSync(join(into, 'd'), { recursive: true });
    writeFileSync(join(into, 'd', 'f'), 'host\n');
    expect((await h('cp', join(into, 'd'), 'live:/srv/')).exitCode).toBe(0);
    expect(await inCtr('live', 'cat /srv/d/f && stat -c "%u:%g" /srv/d/f')).toBe('host\n0:0');
    expect((await h('cp', join(into, 'd', 'f'), 'live:/srv/single')).exitCode).toBe(0);
    expect(await inCtr('live', 'cat /srv/single')).toBe('host');
  });

  it('takes and gives a tar with -', async () => {
    const tarOut = '"$0" "$1" cp --root "$2" live:/srv/tree - | tar -tf -';
    const r = await execa('sh', ['-c', tarOut, process.execPath, HUTCH, box.root], { reject: false });
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n').sort()).toEqual(['tree/', 'tree/a', 'tree/l', 'tree/sub/', 'tree/sub/b']);
    const tarDir = join(box.dir, 'tarsrc');
    mkdirSync(tarDir);
    writeFileSync(join(tarDir, 'from-tar'), 'tarred\n');
    await execa('tar', ['-C', tarDir, '-cf', join(box.dir, 'in.tar'), 'from-tar']);
    const put = await hutch(['cp', '--root', box.root, '-', 'live:/srv'], { inputFile: join(box.dir, 'in.tar') });
    expect(put.stderr).toBe('');
    expect(await inCtr('live', 'cat /srv/from-tar')).toBe('tarred');
  });

  it('resolves the container paths inside its root: its symlinks never reach the host', async () => {
    const marker = `hutch-cp-escape-${process.pid}`;
    await inCtr('live', `ln -s /etc /leak && ln -s ../../../../tmp /escape && ln -s /etc/passwd /pw`);
    const out = join(box.dir, 'leak');
    mkdirSync(out);
    expect((await h('cp', 'live:/leak/passwd', join(out, 'via-dir'))).exitCode).toBe(0);
    expect((await h('cp', '-L', 'live:/pw', join(out, 'followed'))).exitCode).toBe(0);
    const theirs = await inCtr('live', 'cat /etc/passwd');
    expect(readFileSync(join(out, 'via-dir'), 'utf8').trimEnd()).toBe(theirs);
    expect(readFileSync(join(out, 'followed'), 'utf8').trimEnd()).toBe(theirs);
    expect(readFileSync('/etc/passwd', 'utf8')).not.toBe(readFileSync(join(out, 'via-dir'), 'utf8'));
    // Without -L the link itself is copied.
    expect((await h('cp', 'live:/pw', join(out, 'link'))).exitCode).toBe(0);
    expect(readdirSync(out)).toContain('link');
    const src = join(box.dir, marker);
    writeFileSync(src, 'inside\n');
    expect((await h('cp', src, `live:/escape/${marker}`)).exitCode).toBe(0);
    expect(existsSync(join('/tmp', marker))).toBe(false);
    expect(await inCtr('live', `cat /tmp/${marker}`)).toBe('inside');
  });

  it('replaces a host link in the way instead of following it, and refuses bad arguments', async () => {
    const out = join(box.dir, 'guard');
    mkdirSync(out);
    const elsewhere = join(box.dir, 'elsewhere');
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(out, 'tree'));
    expect((await h('cp', 'live:/srv/tree', out)).exitCode).toBe(0);
    expect(readdirSync(elsewhere)).toEqual([]);
    expect(readFileSync(join(out, 'tree', 'sub', 'b'), 'utf8')).toBe('two\n');
    const both = await h('cp', 'live:/a', 'live:/b');
    expect(both.stderr).toContain('exactly one must be CONTAINER:PATH');
    const missing = await h('cp', 'live:/no/such', out);
    expect(missing.exitCode).toBe(125);
    expect(missing.stderr).toMatch(/cannot copy live:\/no\/such .*no such file/i);
    const ontoFile = await h('cp', 'live:/srv/tree', join(out, 'tree', 'a'));
    expect(ontoFile.stderr).toContain('a directory cannot replace a file');
  });

  it('commit --pause (the default) freezes the container while its layer is read, and it runs on', async () => {
    // The freeze itself, as commit takes it: every process stopped (no cgroup) or the cgroup frozen.
    const [before] = JSON.parse((await h('inspect', 'live')).stdout) as { State: { Pid: number } }[];
    const pid = before!.State.Pid;
    const thaw = await freezeForCommit(hutchPaths(box.root), 'live');
    expect(frozen(pid)).toBe(true);
    await thaw();
    expect(frozen(pid)).toBe(false);
    const paused = await h('commit', 'live', 'localhost/live-snap');
    expect(paused.stderr).toBe('');
    expect(paused.exitCode).toBe(0);
    const unpaused = await h('commit', '--pause=false', 'live', 'localhost/live-snap2');
    expect(unpaused.exitCode).toBe(0);
    const [info] = JSON.parse((await h('inspect', 'live')).stdout) as { State: { Status: string } }[];
    expect(info!.State.Status).toBe('running');
    expect(await inCtr('live', 'cat /srv/tree/a')).toBe('one');
  });
});

describe('hutch cp with a stopped container', () => {
  it('reads the layers and writes the writable layer; the next start sees the file', async () => {
    expect(
      (
        await h(
          'create',
          '--name',
          'cold',
          '--network',
          'none',
          '-u',
          '1000:1000',
          IMAGE,
          'sh',
          '-c',
          'stat -c "%u:%g" /new && cat /new',
        )
      ).exitCode,
    ).toBe(0);
    const out = join(box.dir, 'cold-out');
    expect((await h('cp', 'cold:/etc/group', out)).exitCode).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('root:');
    const src = join(box.dir, 'new');
    writeFileSync(src, 'cold copy\n');
    const r = await h('cp', src, 'cold:/new');
    expect(r.stderr).toBe('');
    expect((await h('start', 'cold')).exitCode).toBe(0);
    expect((await h('wait', 'cold')).stdout).toBe('0');
    expect((await h('logs', 'cold')).stdout).toBe('1000:1000\ncold copy');
    await h('rm', 'cold');
  });
});
