// Pulls from a real registry (Debian's docker-registry on 127.0.0.1): anonymous, htpasswd basic
// auth and the bearer-token flow; concurrent pulls; a killed pull; round trips with podman/skopeo.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { requires } from '../helpers/host.js';
import { hutch, storeListing, tempDir } from '../helpers/image-cli.js';
import { buildFixtureImage, fixtureLayers, writeImageLayout, type BuiltImage } from '../helpers/image-fixtures.js';
import {
  endPodmanPause,
  flakyProxy,
  isolatedEnv,
  pushLayout,
  startRegistry,
  type Registry,
} from '../helpers/registry.js';

let fixture: BuiltImage;
let big: BuiltImage;
const registries: Registry[] = [];
let open: Registry;
let basic: Registry;
let token: Registry;
const user = { user: 'alice', password: 'wonderland' };

beforeAll(async () => {
  requires('registry', 'busybox', 'podman');
  const work = tempDir('hutch-registry-');
  fixture = await buildFixtureImage(join(work, 'layout'));
  // One 8 MiB layer (uncompressed, random): the stalling proxy stops a pull half-way through it.
  const { randomBytes } = await import('node:crypto');
  big = await writeImageLayout(join(work, 'big'), 'big', [
    { entries: [{ name: 'big.bin', type: 'file', mode: 0o644, content: randomBytes(8 << 20) }], compression: 'none' },
  ]);
  const storage = join(work, 'storage');
  open = await startRegistry(join(work, 'open'), storage);
  registries.push(open);
  await pushLayout(fixture.dir, 'fixture', `${open.host}/hutch/fixture:1`, join(work, 'skopeo-home'));
  await pushLayout(big.dir, 'big', `${open.host}/hutch/big:1`, join(work, 'skopeo-home'));
  basic = await startRegistry(join(work, 'basic'), storage, { kind: 'htpasswd', ...user });
  token = await startRegistry(join(work, 'token'), storage, { kind: 'token', ...user });
  registries.push(basic, token);
}, 180_000);

afterAll(async () => {
  for (const r of registries) await r.stop();
});

describe('registry pulls', () => {
  test('anonymous pull by tag and by digest; the store holds the image once', async () => {
    const home = tempDir('hutch-home-');
    const root = join(home, 'root');
    const pulled = await hutch(['pull', '-q', '--tls-verify=false', '--root', root, `${open.host}/hutch/fixture:1`], {
      home,
    });
    expect(pulled.stderr).toBe('');
    expect(pulled.stdout.trim()).toBe(fixture.configDigest.slice(7));
    const inspect = JSON.parse(
      (await hutch(['inspect', '--root', root, `${open.host}/hutch/fixture:1`], { home })).stdout,
    );
    const digest = inspect[0].Digest as string;
    const before = storeListing(root);
    const byDigest = await hutch(
      ['pull', '-q', '--tls-verify=false', '--root', root, `${open.host}/hutch/fixture@${digest}`],
      { home },
    );
    expect(byDigest.stdout.trim()).toBe(fixture.configDigest.slice(7));
    expect(storeListing(root)).toEqual(before);
    const missing = await hutch(['pull', '-q', '--tls-verify=false', '--root', root, `${open.host}/hutch/nothing:1`], {
      home,
    });
    expect(missing.exitCode).toBe(125);
    expect(missing.stderr).toContain('the registry has no such manifest');
  });

  test('a Docker schema 2 image (gzip layers) pulls to the same image id', async () => {
    const home = tempDir('hutch-home-');
    const env = isolatedEnv(join(home, 'skopeo'));
    const gz = await writeImageLayout(
      join(home, 'gz'),
      'gz',
      fixtureLayers().map((l) => ({ ...l, compression: 'gzip' as const })),
    );
    const pushed = await execa(
      'skopeo',
      [
        'copy',
        '--quiet',
        '--format',
        'v2s2',
        '--dest-tls-verify=false',
        `oci:${gz.dir}:gz`,
        `docker://${open.host}/hutch/fixture:v2s2`,
      ],
      { env, extendEnv: false, reject: false },
    );
    expect(pushed.exitCode, pushed.stderr).toBe(0);
    const root = join(home, 'root');
    const pulled = await hutch(
      ['pull', '-q', '--tls-verify=false', '--root', root, `${open.host}/hutch/fixture:v2s2`],
      { home },
    );
    expect(pulled.stderr).toBe('');
    const inspect = JSON.parse(
      (await hutch(['inspect', '--root', root, `${open.host}/hutch/fixture:v2s2`], { home })).stdout,
    );
    expect(inspect[0].Layers.map((l: { MediaType: string }) => l.MediaType)).toContain(
      'application/vnd.docker.image.rootfs.diff.tar.gzip',
    );
    expect(inspect[0].RootFS.Layers).toEqual(gz.diffIds);
  });

  test('short names resolve through unqualified-search-registries; insecure = true means plain HTTP', async () => {
    const home = tempDir('hutch-home-');
    const conf = join(home, 'registries.conf');
    writeFileSync(
      conf,
      `unqualified-search-registries = ["${open.host}"]\n\n[[registry]]\nlocation = "${open.host}"\ninsecure = true\n`,
    );
    const env = { CONTAINERS_REGISTRIES_CONF: conf };
    const pulled = await hutch(['pull', '-q', '--root', join(home, 'root'), 'hutch/fixture:1'], { home, env });
    expect(pulled.stderr).toBe('');
    expect(pulled.stdout.trim()).toBe(fixture.configDigest.slice(7));
    const listed = await hutch(['images', '--root', join(home, 'root')], { home, env });
    expect(listed.stdout).toContain(`${open.host}/hutch/fixture`);
  });

  test('htpasswd basic auth: refused without credentials, works after hutch login', async () => {
    const home = tempDir('hutch-home-');
    const root = join(home, 'root');
    const ref = `${basic.host}/hutch/fixture:1`;
    const refused = await hutch(['pull', '-q', '--tls-verify=false', '--root', root, ref], { home });
    expect(refused.exitCode).toBe(125);
    expect(refused.stderr).toContain('the registry requires authentication');
    expect(refused.stderr).toContain(`hint: log in with \`hutch login ${basic.host}\``);
    const bad = await hutch(['login', '--tls-verify=false', '-u', user.user, '--password-stdin', basic.host], {
      home,
      input: 'wrong\n',
    });
    expect(bad.exitCode).toBe(125);
    const login = await hutch(['login', '--tls-verify=false', '-u', user.user, '--password-stdin', basic.host], {
      home,
      input: `${user.password}\n`,
    });
    expect(login.stdout).toContain('Login Succeeded');
    expect(
      JSON.parse(readFileSync(join(home, 'run', 'containers', 'auth.json'), 'utf8')).auths[basic.host].auth,
    ).toBeDefined();
    const pulled = await hutch(['pull', '-q', '--tls-verify=false', '--root', root, ref], { home });
    expect(pulled.stdout.trim()).toBe(fixture.configDigest.slice(7));
    expect((await hutch(['logout', basic.host], { home })).exitCode).toBe(0);
  });

  test('bearer-token flow: credentials from --creds and from docker config.json', async () => {
    const home = tempDir('hutch-home-');
    const root = join(home, 'root');
    const ref = `${token.host}/hutch/fixture:1`;
    const refused = await hutch(['pull', '-q', '--tls-verify=false', '--root', root, ref], { home });
    expect(refused.exitCode).toBe(125);
    expect(refused.stderr).toContain('the token service');
    const pulled = await hutch(
      ['pull', '-q', '--tls-verify=false', '--creds', `${user.user}:${user.password}`, '--root', root, ref],
      { home },
    );
    expect(pulled.stderr).toBe('');
    expect(pulled.stdout.trim()).toBe(fixture.configDigest.slice(7));
    const docker = join(home, '.docker');
    await execa('mkdir', ['-p', docker]);
    writeFileSync(
      join(docker, 'config.json'),
      JSON.stringify({
        auths: { [token.host]: { auth: Buffer.from(`${user.user}:${user.password}`).toString('base64') } },
      }),
    );
    const again = await hutch(['pull', '-q', '--tls-verify=false', '--root', join(home, 'root2'), ref], { home });
    expect(again.stdout.trim()).toBe(fixture.configDigest.slice(7));
  });

  test('a 503 is retried and a connection dropped half-way through a blob is resumed with Range', async () => {
    const proxy = await flakyProxy(open.host);
    try {
      const home = tempDir('hutch-home-');
      const pulled = await hutch(
        ['pull', '-q', '--tls-verify=false', '--root', join(home, 'root'), `${proxy.host}/hutch/fixture:1`],
        { home },
      );
      expect(pulled.stderr).toBe('');
      expect(pulled.stdout.trim()).toBe(fixture.configDigest.slice(7));
      expect([...proxy.hits.values()].every((n) => n === 3)).toBe(true);
      expect(proxy.ranges.length).toBe(proxy.hits.size);
      expect(proxy.ranges.every((r) => /^bytes=[1-9][0-9]*-$/.test(r))).toBe(true);
    } finally {
      await proxy.stop();
    }
  });

  test('two pulls at once both succeed and store the image once', async () => {
    const home = tempDir('hutch-home-');
    const root = join(home, 'root');
    const args = ['pull', '-q', '--tls-verify=false', '--root', root, `${open.host}/hutch/fixture:1`];
    const [a, b] = await Promise.all([hutch(args, { home }), hutch(args, { home })]);
    expect([a.exitCode, b.exitCode, a.stderr, b.stderr]).toEqual([0, 0, '', '']);
    const images = JSON.parse(readFileSync(join(root, 'data', 'images.json'), 'utf8')).images;
    expect(images).toHaveLength(1);
    const layers = readdirSync(join(root, 'data', 'layers', 'sha256')).filter((n) => !n.endsWith('.lock'));
    expect(layers.sort()).toEqual(fixture.diffIds.map((d) => d.slice(7)).sort());
  });

  test('a pull killed half-way leaves no layer under its name; the next pull succeeds', async () => {
    const home = tempDir('hutch-home-');
    const root = join(home, 'root');
    const proxy = await flakyProxy(open.host, 'stall');
    try {
      const args = ['pull', '-q', '--tls-verify=false', '--root', root, `${proxy.host}/hutch/big:1`];
      const child = execa(join(import.meta.dirname, '..', '..', 'bin', 'hutch'), args, {
        reject: false,
        env: { HOME: home },
      });
      const tmp = join(root, 'data', 'tmp');
      // The proxy stops half-way through the layer: wait until the staged file has data, then kill.
      const staged = (): boolean =>
        existsSync(tmp) &&
        readdirSync(tmp).some(
          (n) =>
            n.startsWith('layer-') &&
            existsSync(join(tmp, n, 'root', 'big.bin')) &&
            statSync(join(tmp, n, 'root', 'big.bin')).size > 0,
        );
      while (!staged()) await new Promise((r) => setTimeout(r, 25));
      child.kill('SIGKILL');
      await child;
    } finally {
      await proxy.stop();
    }
    expect(existsSync(join(root, 'data', 'layers', 'sha256', big.diffIds[0]!.slice(7)))).toBe(false);
    expect(existsSync(join(root, 'data', 'images.json'))).toBe(false);
    const again = await hutch(['pull', '-q', '--tls-verify=false', '--root', root, `${open.host}/hutch/big:1`], {
      home,
    });
    expect(again.stdout.trim()).toBe(big.configDigest.slice(7));
    expect(readdirSync(join(root, 'data', 'tmp'))).toEqual([]);
  });
});

describe('round trips with podman and skopeo', () => {
  test('hutch save then podman load sees the same image id', async () => {
    const home = tempDir('hutch-home-');
    const root = join(home, 'root');
    await hutch(['pull', '-q', '--root', root, `oci:${fixture.dir}:fixture`], { home });
    await hutch(['tag', '--root', root, fixture.configDigest.slice(7), 'localhost/roundtrip:1'], { home });
    const file = join(home, 'image.tar');
    const saved = await hutch(['save', '--root', root, '-o', file, 'localhost/roundtrip:1'], { home });
    expect(saved.stderr).toBe('');
    const env = isolatedEnv(join(home, 'podman'));
    onTestFinished(() => endPodmanPause(join(home, 'podman')));
    const podman = [
      '--root',
      join(home, 'podman', 'storage'),
      '--runroot',
      join(home, 'podman', 'runroot'),
      '--storage-driver',
      'vfs',
    ];
    const loaded = await execa('podman', [...podman, 'load', '-q', '-i', file], {
      env,
      extendEnv: false,
      reject: false,
    });
    expect(loaded.exitCode, loaded.stderr).toBe(0);
    const ids = await execa(
      'podman',
      [...podman, 'images', '--no-trunc', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}'],
      { env, extendEnv: false },
    );
    expect(ids.stdout).toContain(`${fixture.configDigest} localhost/roundtrip:1`);
    // and back: podman save (docker-archive and oci-archive) then hutch load
    for (const format of ['docker-archive', 'oci-archive']) {
      const back = join(home, `back-${format}.tar`);
      const out = await execa('podman', [...podman, 'save', '--format', format, '-o', back, 'localhost/roundtrip:1'], {
        env,
        extendEnv: false,
        reject: false,
      });
      expect(out.exitCode, out.stderr).toBe(0);
      const other = join(home, `root-${format}`);
      const loaded = await hutch(['load', '-q', '--root', other, '-i', back], { home });
      expect(loaded.stderr).toBe('');
      // podman converts the config when it writes OCI, so compare with what the archive holds
      const raw = await execa('skopeo', ['inspect', '--raw', `${format}:${back}`], { env, extendEnv: false });
      const expected = format === 'oci-archive' ? JSON.parse(raw.stdout).config.digest : fixture.configDigest;
      expect((await hutch(['images', '-q', '--no-trunc', '--root', other], { home })).stdout.trim()).toBe(expected);
    }
  });

  test('skopeo copies an oci-archive written by hutch; pulling it back gives the same id', async () => {
    const home = tempDir('hutch-home-');
    const root = join(home, 'root');
    await hutch(['pull', '-q', '--root', root, `oci:${fixture.dir}:fixture`], { home });
    const file = join(home, 'image.oci.tar');
    await hutch(['save', '--root', root, '--format', 'oci-archive', '-o', file, fixture.configDigest.slice(7)], {
      home,
    });
    const copied = await execa(
      'skopeo',
      ['copy', '--quiet', '--dest-tls-verify=false', `oci-archive:${file}`, `docker://${open.host}/hutch/roundtrip:1`],
      { env: isolatedEnv(join(home, 'skopeo')), extendEnv: false, reject: false },
    );
    expect(copied.exitCode, copied.stderr).toBe(0);
    const pulled = await hutch(
      ['pull', '-q', '--tls-verify=false', '--root', join(home, 'root2'), `${open.host}/hutch/roundtrip:1`],
      { home },
    );
    expect(pulled.stdout.trim()).toBe(fixture.configDigest.slice(7));
  });
});
