// Stores on shared filesystems (docs/hpc.md): a read-only image store a site's administrator
// filled as root (storage.conf additionalimagestores), used in place and never written; and a
// store on a real filesystem without user xattrs (ramfs, as NFSv3), where the layers keep their
// owners in their index and a container's writable layer cannot live.
// scripts/testbed/shared-store.sh (run by scripts/test.sh as root) makes both under HUTCH_TEST_SHARED.
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { requires } from '../helpers/host.js';
import { hutch, tempDir } from '../helpers/image-cli.js';

const shared = process.env.HUTCH_TEST_SHARED ?? '';
const IMAGE = 'localhost/shared:1';
const layout = (): string => `oci:${join(shared, 'layout')}:${IMAGE}`;

beforeAll(() => {
  requires('fuse', 'userns', 'busybox');
  if (shared === '' || !lstatSync(join(shared, 'store'), { throwIfNoEntry: false }))
    throw new Error('no shared store: run `bash scripts/test.sh test/integration/store-shared.test.ts` as root');
});

/** Every path of a tree with its size, mode and mtime: what "never written" compares. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      out.push(`${p} ${st.size} ${st.mode.toString(8)} ${st.mtimeMs}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** A home whose storage.conf names the shared store (as its --root: hutch finds data/ there). */
function homeWithSharedStore(): string {
  const home = tempDir('hutch-home-');
  mkdirSync(join(home, 'config', 'containers'), { recursive: true });
  writeFileSync(
    join(home, 'config', 'containers', 'storage.conf'),
    `[storage.options]\nadditionalimagestores = [${JSON.stringify(join(shared, 'store'))}]\n`,
  );
  return home;
}

const SHOW =
  'stat -c "%u:%g %a" /home/user/owned; cat /home/user/owned; chown 1000:1000 /etc/passwd; stat -c %u:%g /etc/passwd';

describe('a read-only additional image store', () => {
  test('its images are listed and run in place with an empty own store, and it is never written', async () => {
    const home = homeWithSharedStore();
    const before = snapshot(join(shared, 'store'));
    const listed = await hutch(['images', '--format', 'json'], { home });
    expect(listed.stderr).toBe('');
    const rows = JSON.parse(listed.stdout) as { Names: string[]; ReadOnly: boolean }[];
    expect(rows).toEqual([expect.objectContaining({ Names: [IMAGE], ReadOnly: true })]);
    const run = await hutch(['run', '--rm', IMAGE, 'sh', '-c', SHOW], { home });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('1000:1000 600\nsecret\n1000:1000');
    // Nothing was copied into the user's store: no layer, no blob, no record of the image.
    expect(readdirSync(join(home, 'data', 'hutch'))).not.toContain('layers');
    const rmi = await hutch(['rmi', IMAGE], { home });
    expect(rmi.exitCode).toBe(125);
    expect(rmi.stderr).toContain(`cannot remove image ${IMAGE}: it is in the read-only store`);
    expect(snapshot(join(shared, 'store'))).toEqual(before);
  });

  test('a pull of the same image goes into the user store, which then wins', async () => {
    const home = homeWithSharedStore();
    const before = snapshot(join(shared, 'store'));
    const pull = await hutch(['pull', '-q', layout()], { home });
    expect(pull.stderr).toBe('');
    expect(readdirSync(join(home, 'data', 'hutch', 'layers', 'sha256'))).toHaveLength(1);
    const rows = JSON.parse((await hutch(['images', '--format', 'json'], { home })).stdout) as { ReadOnly: boolean }[];
    expect(rows.map((r) => r.ReadOnly)).toEqual([false]);
    const inspect = JSON.parse((await hutch(['image', 'inspect', IMAGE], { home })).stdout) as {
      Layers: { Dir: string }[];
    }[];
    expect(inspect[0]!.Layers[0]!.Dir.startsWith(join(home, 'data', 'hutch'))).toBe(true);
    expect((await hutch(['rmi', IMAGE], { home })).exitCode).toBe(0);
    expect(snapshot(join(shared, 'store'))).toEqual(before);
  });
});

describe('what a read-only store cannot do', () => {
  test('a build on its image is refused (its layers are not in the user store), never taken for scratch', async () => {
    const home = homeWithSharedStore();
    const context = tempDir('hutch-ctx-');
    writeFileSync(join(context, 'Containerfile'), `FROM ${IMAGE}\nRUN true\n`);
    const r = await hutch(['build', '-t', 'localhost/on-shared:1', context], { home });
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain(`cannot build on image ${IMAGE}`);
    expect(r.stderr).toContain(`hint: pull it into your store first (hutch pull ${IMAGE})`);
  });

  test('a layer its owner left unreadable is STORE_UNREADABLE before anything starts', async () => {
    // A store of the test user's own, named as an additional store, with one layer made unreadable.
    const other = tempDir('hutch-other-');
    expect((await hutch(['--root', other, 'pull', '-q', layout()])).exitCode).toBe(0);
    const [layer] = readdirSync(join(other, 'data', 'layers', 'sha256'));
    chmodSync(join(other, 'data', 'layers', 'sha256', layer!, 'root'), 0);
    const home = tempDir('hutch-home-');
    mkdirSync(join(home, 'config', 'containers'), { recursive: true });
    writeFileSync(
      join(home, 'config', 'containers', 'storage.conf'),
      `[storage.options]\nadditionalimagestores = [${JSON.stringify(other)}]\n`,
    );
    const r = await hutch(['run', '--rm', IMAGE, 'true'], { home });
    chmodSync(join(other, 'data', 'layers', 'sha256', layer!, 'root'), 0o755);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain(`cannot read layer sha256:${layer} of the read-only image store ${join(other, 'data')}`);
    expect(r.stderr).toContain(`hint: its owner makes it readable: chmod -R a+rX ${join(other, 'data')}`);
  });
});

describe('a store on a filesystem without user xattrs (ramfs)', () => {
  const env = (): Record<string, string> => ({ XDG_DATA_HOME: tempDirIn(join(shared, 'noxattr')) });

  test('the probe finds it; images pull and run with their owners, the writable layer in the runtime folder', async () => {
    const home = tempDir('hutch-home-');
    const e = env();
    expect((await hutch(['pull', '-q', layout()], { home, env: e })).stderr).toBe('');
    const probe = JSON.parse(readFileSync(join(e.XDG_DATA_HOME!, 'hutch', '.fs-probe.json'), 'utf8')) as Record<
      string,
      { type: string; userXattrs: boolean }
    >;
    expect(Object.values(probe)).toEqual([expect.objectContaining({ type: 'ramfs', userXattrs: false })]);
    const run = await hutch(
      ['run', '--rm', IMAGE, 'sh', '-c', `${SHOW}; touch /tmp/x; chown 1234:5678 /tmp/x; stat -c %u:%g /tmp/x`],
      {
        home,
        env: e,
      },
    );
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('1000:1000 600\nsecret\n1000:1000\n1234:5678');
    // The run's folders went with it, from both places.
    expect(readdirSync(join(home, 'run', 'hutch', 'ephemeral')).filter((n) => !n.startsWith('.'))).toEqual([]);
  });

  test('run -d and create refuse a writable layer there, with the store as it was', async () => {
    const home = tempDir('hutch-home-');
    const e = env();
    expect((await hutch(['pull', '-q', layout()], { home, env: e })).exitCode).toBe(0);
    for (const args of [
      ['run', '-d', IMAGE, 'true'],
      ['create', IMAGE, 'true'],
    ]) {
      const r = await hutch(args, { home, env: e });
      expect(r.exitCode).toBe(125);
      expect(r.stderr).toMatch(
        /cannot keep the container's writable layer in .*: its filesystem \(ramfs\) stores no user xattrs/,
      );
      expect(r.stderr).toContain('hint: run it in the foreground');
    }
    expect((await hutch(['ps', '-aq'], { home, env: e })).stdout).toBe('');
    expect(readdirSync(join(e.XDG_DATA_HOME!, 'hutch', 'containers'))).toEqual([]);
    // No mark of the image was left behind: rmi would refuse it as in use.
    expect((await hutch(['rmi', IMAGE], { home, env: e })).exitCode).toBe(0);
  });
});

function tempDirIn(parent: string): string {
  const dir = join(parent, `d${process.pid}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  return dir;
}
