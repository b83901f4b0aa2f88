// `hutch push` to Debian's docker-registry on 127.0.0.1 with htpasswd basic auth: refused
// credentials leave nothing referenced; a chunked and monolithic push that skopeo inspects and
// podman pulls; a second repository gets its blobs by cross-repository mount; zstd on request.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { requires } from '../helpers/host.js';
import { hutch, tempDir } from '../helpers/image-cli.js';
import { REPO } from '../helpers/hutch-cli.js';
import { endPodmanPause, isolatedEnv, startRegistry, type Registry } from '../helpers/registry.js';

let registry: Registry;
let home: string;
let root: string;
const creds = 'alice:wonderland';
const h = (args: string[]) => hutch([args[0]!, '--root', root, ...args.slice(1)], { home });
const skopeo = (args: string[]) =>
  execa('skopeo', args, { env: isolatedEnv(join(home, 'skopeo')), extendEnv: false, reject: false });

/** The media types of the layers of the manifest the registry serves. */
async function layerTypes(ref: string): Promise<string[]> {
  const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', creds, `docker://${ref}`]);
  return (JSON.parse(raw.stdout) as { layers: { mediaType: string }[] }).layers.map((l) => l.mediaType);
}

beforeAll(async () => {
  requires('registry', 'busybox', 'podman');
  home = tempDir('hutch-push-');
  root = join(home, 'root');
  await execa('bash', [join(REPO, 'test/fixtures/image-archive.sh'), join(home, 'fx')]);
  expect((await h(['load', '-q', '-i', join(home, 'fx', 'it.tar')])).exitCode).toBe(0);
  registry = await startRegistry(join(home, 'registry'), join(home, 'storage'), {
    kind: 'htpasswd',
    user: 'alice',
    password: 'wonderland',
  });
}, 120_000);

afterAll(async () => {
  await registry?.stop();
});

describe('hutch push', () => {
  test('a registry refusing the credentials: a clear error, and no manifest left referenced', async () => {
    const dest = `${registry.host}/hutch/pushed:1`;
    const refused = await h(['push', '--tls-verify=false', '--creds', 'alice:wrong', 'localhost/itest', dest]);
    expect(refused.exitCode).toBe(125);
    expect(refused.stderr).toMatch(
      new RegExp(
        `^hutch: cannot push blob sha256:[0-9a-f]{64} to ${registry.host}/hutch/pushed: the registry refused the credentials$`,
        'm',
      ),
    );
    expect(refused.stderr).toContain(`hint: log in with \`hutch login ${registry.host}\``);
    const inspect = await skopeo(['inspect', '--tls-verify=false', '--creds', creds, `docker://${dest}`]);
    expect(inspect.exitCode).not.toBe(0);
    expect(inspect.stderr).toMatch(/manifest unknown/);
  });

  test('chunked and monolithic uploads; skopeo inspects and podman pulls the image; a mount into a second repository', async () => {
    const dest = `${registry.host}/hutch/pushed:1`;
    expect((await h(['tag', 'localhost/itest', dest])).exitCode).toBe(0);
    // 64 KiB chunks: the busybox layer goes up in many PATCHes, the small one in one PUT.
    const pushed = await h(['push', '--tls-verify=false', '--creds', creds, '--chunk-size', '65536', dest]);
    expect(pushed.exitCode, pushed.stderr).toBe(0);
    expect(pushed.stdout).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(pushed.stderr.split('\n').filter((l) => l.startsWith('Copying blob'))).toHaveLength(2);
    const inspected = await skopeo(['inspect', '--tls-verify=false', '--creds', creds, `docker://${dest}`]);
    expect(inspected.exitCode, inspected.stderr).toBe(0);
    const info = JSON.parse(inspected.stdout) as { Digest: string; Layers: string[]; Env: string[] };
    expect(info.Digest).toBe(pushed.stdout);
    expect(info.Layers).toHaveLength(2);
    expect(await layerTypes(dest)).toEqual([
      'application/vnd.oci.image.layer.v1.tar+gzip',
      'application/vnd.oci.image.layer.v1.tar+gzip',
    ]);
    expect(info.Env).toContain('GREETING=hello-from-image');
    const penv = isolatedEnv(join(home, 'podman'));
    onTestFinished(() => endPodmanPause(join(home, 'podman'))); // rootless podman's pause process
    writeFileSync(penv.REGISTRY_AUTH_FILE!, '{"auths":{}}\n'); // podman reads both even with --creds
    writeFileSync(penv.CONTAINERS_REGISTRIES_CONF!, '');
    const podman = [
      '--root',
      join(home, 'podman', 'storage'),
      '--runroot',
      join(home, 'podman', 'runroot'),
      '--storage-driver',
      'vfs',
    ];
    const pulled = await execa('podman', [...podman, 'pull', '-q', '--tls-verify=false', '--creds', creds, dest], {
      env: penv,
      extendEnv: false,
      reject: false,
    });
    expect(pulled.exitCode, pulled.stderr).toBe(0);
    const ids = await execa('podman', [...podman, 'images', '--no-trunc', '--format', '{{.ID}}'], {
      env: penv,
      extendEnv: false,
    });
    const id = JSON.parse((await h(['inspect', dest])).stdout)[0].Id as string;
    expect(ids.stdout).toContain(id.replace(/^sha256:/, ''));
    const copy = await h(['push', '--tls-verify=false', '--creds', creds, dest, `${registry.host}/hutch/copy:1`]);
    expect(copy.stderr.split('\n').filter((l) => l.includes('mounted from another repository'))).toHaveLength(2);
    expect(copy.stdout).toBe(pushed.stdout);
    const again = await h(['push', '--tls-verify=false', '--creds', creds, dest]);
    expect(again.stderr.split('\n').filter((l) => l.includes('skipped: already exists'))).toHaveLength(2);
  });

  test('--compression-format zstd recompresses the layers', async () => {
    const dest = `${registry.host}/hutch/zstd:1`;
    const pushed = await h([
      'push',
      '-q',
      '--tls-verify=false',
      '--creds',
      creds,
      '--compression-format',
      'zstd',
      'localhost/itest',
      dest,
    ]);
    expect(pushed.exitCode, pushed.stderr).toBe(0);
    expect(pushed.stderr).toBe('');
    expect(await layerTypes(dest)).toEqual([
      'application/vnd.oci.image.layer.v1.tar+zstd',
      'application/vnd.oci.image.layer.v1.tar+zstd',
    ]);
    const back = await hutch(
      ['pull', '-q', '--tls-verify=false', '--creds', creds, '--root', join(home, 'root2'), dest],
      { home },
    );
    expect(back.exitCode, back.stderr).toBe(0);
    const run = await hutch(['run', '--root', join(home, 'root2'), '--network', 'none', dest, 'cat', '/data/keep'], {
      home,
    });
    expect(run.stdout).toBe('keep');
  });
});
