// `hutch build`: a busybox-only multi-stage build (stage 1 writes files with RUN and ADDs a tar,
// stage 2 takes them with COPY --from and sets ENV/WORKDIR/USER/CMD), run afterwards with
// `hutch run`; a rebuild is all cache hits; --no-cache, --target, --build-arg; and the errors:
// an unknown instruction names FILE:LINE, COPY out of the context is refused, a failing RUN
// names its step and status and leaves no container, mount, layer or image behind.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { requires } from '../helpers/host.js';
import { hutch, sandbox, type Sandbox } from '../helpers/hutch-cli.js';
import { expectNoLeaks, leakSnapshot, type LeakSnapshot } from '../helpers/leaks.js';
import { busyboxRootfs } from '../helpers/rootfs.js';

requires('fuse', 'subuid', 'newuidmap', 'busybox');

let box: Sandbox;
let ctx: string;
let before: LeakSnapshot;
const h = (...args: string[]) => hutch([args[0]!, '--root', box.root, ...args.slice(1)], { cwd: ctx });

const CONTAINERFILE = `# stage 1 makes files, stage 2 takes them
ARG BASE=scratch
FROM \${BASE} AS build
ADD busybox.tar.gz /
ADD extra.tar /opt/extra/
ARG GREETING=hi
RUN mkdir -p /out && echo "$GREETING from build" > /out/msg && \\
    chown 1000:1000 /out/msg && chmod 640 /out/msg
COPY app/ /src/

FROM build AS final
COPY --from=build --chown=user:user /out /result
COPY --chmod=0700 app/run.sh /usr/local/bin/
ENV WHO=world
WORKDIR /work/dir
USER user
LABEL org.example.kind="build test"
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --retries=2 CMD ["true"]
CMD ["sh", "-c", "cat /result/msg; echo $WHO; pwd; id -u; stat -c '%u:%g %a' /result/msg /usr/local/bin/run.sh; cat /opt/extra/inner/x"]
`;

beforeAll(async () => {
  box = sandbox();
  ctx = join(box.dir, 'ctx');
  mkdirSync(join(ctx, 'app'), { recursive: true });
  const rootfs = await busyboxRootfs(box.dir);
  await execa('tar', [
    '--numeric-owner',
    '--owner=0',
    '--group=0',
    '-C',
    rootfs,
    '-czf',
    join(ctx, 'busybox.tar.gz'),
    '.',
  ]);
  mkdirSync(join(box.dir, 'extra', 'inner'), { recursive: true });
  writeFileSync(join(box.dir, 'extra', 'inner', 'x'), 'from the tar\n');
  await execa('tar', ['--owner=0', '--group=0', '-C', join(box.dir, 'extra'), '-cf', join(ctx, 'extra.tar'), '.']);
  writeFileSync(join(ctx, 'app', 'run.sh'), '#!/bin/sh\necho run\n');
  writeFileSync(join(ctx, 'app', 'secret.key'), 'never copied\n');
  writeFileSync(join(ctx, '.dockerignore'), '**/*.key\n');
  writeFileSync(join(ctx, 'Containerfile'), CONTAINERFILE);
}, 60_000);
afterAll(() => box.remove());
beforeEach(() => {
  before = leakSnapshot();
});
afterEach(async () => {
  await expectNoLeaks(before, [join(box.root, 'run')]);
});

const steps = (out: string): string[] => out.split('\n').filter((l) => /STEP \d+\/\d+:/.test(l));
const usingCache = (out: string): number => out.split('\n').filter((l) => l.startsWith('--> Using cache ')).length;

describe('hutch build', () => {
  it('builds two stages, prints buildah-like progress, and the image runs as its config says', async () => {
    const built = await h('build', '-t', 'localhost/multi', '--build-arg', 'GREETING=hey', '--network', 'none', '.');
    expect(built.stderr).toBe('');
    expect(built.exitCode).toBe(0);
    expect(steps(built.stdout)[0]).toBe('[1/2] STEP 1/6: FROM ${BASE} AS build');
    expect(built.stdout).toContain('[2/2] STEP 11/11: CMD');
    expect(built.stdout).toMatch(
      /COMMIT localhost\/multi\n--> [0-9a-f]{12}\nSuccessfully tagged localhost\/multi:latest\n[0-9a-f]{64}$/,
    );
    const run = await h('run', '--network', 'none', 'localhost/multi');
    expect(run.stderr).toBe('');
    expect(run.stdout.split('\n')).toEqual([
      'hey from build',
      'world',
      '/work/dir',
      '1000',
      '1000:1000 640',
      '0:0 700',
      'from the tar',
    ]);
    const listing = await h('run', '--network', 'none', 'localhost/multi', 'ls', '/src');
    expect(listing.stdout).toBe('run.sh');
    const config = JSON.parse((await h('inspect', 'localhost/multi')).stdout) as {
      Config: Record<string, unknown>;
    }[];
    expect(config[0]!.Config).toMatchObject({
      User: 'user',
      WorkingDir: '/work/dir',
      Labels: { 'org.example.kind': 'build test' },
      ExposedPorts: { '8080/tcp': {} },
      StopSignal: 'SIGTERM',
      Healthcheck: { Test: ['CMD', 'true'], Interval: 30e9, Retries: 2 },
    });
  });

  it('rebuilds from the cache: every step a hit, the same image', async () => {
    const first = await h(
      'build',
      '-q',
      '-t',
      'localhost/multi',
      '--build-arg',
      'GREETING=hey',
      '--network',
      'none',
      '.',
    );
    const again = await h('build', '-t', 'localhost/multi', '--build-arg', 'GREETING=hey', '--network', 'none', '.');
    expect(again.exitCode).toBe(0);
    expect(usingCache(again.stdout)).toBe(steps(again.stdout).length - 2 - 1); // not the FROMs nor the ARG
    expect(again.stdout.trim().split('\n').at(-1)).toBe(first.stdout.trim());
  });

  it('--no-cache runs every step again; --build-arg changes what RUN sees', async () => {
    const fresh = await h('build', '--no-cache', '-t', 'localhost/fresh', '--network', 'none', '.');
    expect(fresh.exitCode).toBe(0);
    expect(usingCache(fresh.stdout)).toBe(0);
    expect((await h('run', '--network', 'none', 'localhost/fresh', 'cat', '/result/msg')).stdout).toBe('hi from build');
  });

  it('--target builds only the stages that stage needs', async () => {
    const target = await h('build', '--target', 'build', '-t', 'localhost/stage1', '--network', 'none', '.');
    expect(target.exitCode).toBe(0);
    expect(steps(target.stdout).every((l) => l.startsWith('STEP '))).toBe(true);
    const out = await h(
      'run',
      '--network',
      'none',
      '-u',
      '0',
      'localhost/stage1',
      'sh',
      '-c',
      'ls /result; cat /out/msg',
    );
    expect(out.stdout).toBe('hi from build');
    expect(out.stderr).toContain('/result: No such file or directory');
  });

  it('names FILE:LINE of an unknown instruction and refuses a COPY out of the context', async () => {
    writeFileSync(join(ctx, 'Unknown'), 'FROM scratch\n# a comment\nCOPY \\\n  app /app\nFROBNICATE x\n');
    const unknown = await h('build', '-f', join(ctx, 'Unknown'), '.');
    expect(unknown.exitCode).toBe(125);
    expect(unknown.stderr).toContain(`unknown instruction FROBNICATE at ${join(ctx, 'Unknown')}:5`);
    writeFileSync(join(ctx, 'Outside'), 'FROM scratch\nCOPY ../extra/inner/x /x\n');
    const outside = await h('build', '-f', join(ctx, 'Outside'), '.');
    expect(outside.exitCode).toBe(125);
    expect(outside.stderr).toContain('cannot copy ../extra/inner/x at');
    expect(outside.stderr).toContain('outside the build context');
  });

  it('leaves chown in RUN to the kernel when the subuid range maps the ids (no listener)', async () => {
    writeFileSync(
      join(ctx, 'Chown'),
      'FROM scratch\nADD busybox.tar.gz /\nRUN touch /f && chown 33:33 /f && stat -c "owner %u:%g" /f\n',
    );
    const built = await h('build', '-f', join(ctx, 'Chown'), '.');
    expect(built.exitCode, built.stderr).toBe(0);
    // Recorded by the helper instead, it would show as the overflow id inside the step.
    expect(built.stdout).toContain('owner 33:33');
  });

  it('stops at a failing RUN with its step and status, leaving nothing of it behind', async () => {
    writeFileSync(join(ctx, 'Failing'), 'FROM scratch\nADD busybox.tar.gz /\nRUN echo partial > /p && exit 3\n');
    const layers = (): string[] => readdirSync(join(box.root, 'data', 'layers', 'sha256')).sort();
    await h('build', '-f', join(ctx, 'Failing'), '.'); // ADD's step cached: the failing run adds nothing after it
    const imagesBefore = (await h('images', '-q', '--no-trunc')).stdout;
    const layersBefore = layers();
    const failed = await h('build', '-t', 'localhost/failed', '-f', join(ctx, 'Failing'), '.');
    expect(failed.exitCode).toBe(125);
    expect(failed.stderr).toContain(
      `build step 3/3: RUN echo partial > /p && exit 3 at ${join(ctx, 'Failing')}:3 failed: the command exited with status 3`,
    );
    expect((await h('images', '-q', '--no-trunc')).stdout).toBe(imagesBefore);
    expect(layers()).toEqual(layersBefore);
    expect((await h('images')).stdout).not.toContain('localhost/failed');
    expect(readdirSync(join(box.root, 'data', 'tmp'))).toEqual([]);
  });
});
