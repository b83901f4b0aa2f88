// `hutch system check [--repair]` on a store damaged by hand: a blob whose bytes changed, a layer
// missing a file its index names, an unreadable index, leftovers of removed containers and killed
// commands. Check reports each and exits 1; repair removes what is bad and the images that need
// it, by name, and the next check is clean.
import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { requires } from '../helpers/host.js';
import { hutch, REPO, sandbox, type Sandbox } from '../helpers/hutch-cli.js';

requires('busybox');

let box: Sandbox;
beforeEach(async () => {
  box = sandbox();
  await execa('bash', [join(REPO, 'test/fixtures/image-archive.sh'), join(box.dir, 'fx')]);
  expect((await hutch(['load', '--root', box.root, '-q', '-i', join(box.dir, 'fx', 'it.tar')])).stderr).toBe('');
});
afterEach(() => box.remove());

const check = (repair = false) => hutch(['system', 'check', '--root', box.root, ...(repair ? ['--repair'] : [])]);
const data = (...p: string[]): string => join(box.root, 'data', ...p);
const image = (): { id: string; layers: { diffId: string; digest: string }[] } =>
  JSON.parse(readFileSync(data('images.json'), 'utf8')).images[0];

describe('hutch system check', () => {
  test('a fresh store is consistent', async () => {
    const r = await check();
    expect(r.stdout).toBe('ok: the storage is consistent');
    expect(r.exitCode).toBe(0);
  });

  test('a blob whose bytes changed: reported, then removed with the image that needs it', async () => {
    const blob = image().layers[0]!.digest;
    appendFileSync(data('blobs', 'sha256', blob.slice(7)), 'x');
    const r = await check();
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain(`problem: blob ${blob}: its content hashes to sha256:`);
    expect(r.stdout).toContain(`problem: image localhost/itest:latest (${image().id.slice(7, 19)}) needs blob ${blob}`);
    const repaired = await check(true);
    expect(repaired.exitCode).toBe(0);
    expect(repaired.stdout).toContain('removed image localhost/itest:latest');
    expect((await check()).stdout).toBe('ok: the storage is consistent');
    expect((await hutch(['images', '-q', '--root', box.root])).stdout).toBe('');
    expect(readdirSync(data('blobs', 'sha256'))).toEqual([]);
    expect(readdirSync(data('layers', 'sha256'))).toEqual([]);
  });

  test('a layer missing a file its index names, and a layer whose index is damaged', async () => {
    const [first, second] = image().layers;
    rmSync(data('layers', 'sha256', first!.diffId.slice(7), 'root', 'bin', 'busybox'));
    writeFileSync(data('layers', 'sha256', second!.diffId.slice(7), 'index.hli'), 'HLI1\xff\xff');
    const r = await check();
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain(`problem: layer ${first!.diffId}: its index names bin/busybox, which is missing`);
    expect(r.stdout).toContain(`problem: layer ${second!.diffId}: its index cannot be read`);
    expect((await check(true)).exitCode).toBe(0);
    expect((await check()).stdout).toBe('ok: the storage is consistent');
  });

  test('leftovers of removed containers and killed commands', async () => {
    const ghost = 'f'.repeat(64);
    mkdirSync(join(box.root, 'run', 'containers', ghost), { recursive: true });
    mkdirSync(data('image-users', image().id.slice(7)), { recursive: true });
    writeFileSync(data('image-users', image().id.slice(7), ghost), `${ghost}\n`);
    const killed = 'e'.repeat(64);
    mkdirSync(data('ephemeral', killed, 'upper'), { recursive: true });
    mkdirSync(data('tmp', 'layer-999999999-abc'), { recursive: true });
    const r = await check();
    expect(r.exitCode).toBe(1);
    expect(r.stdout.trim().split('\n')).toHaveLength(4);
    expect(r.stdout).toContain('belongs to no container');
    expect(r.stdout).toContain(`marked in use by container ${ghost.slice(0, 12)}, which is gone`);
    expect(r.stdout).toContain(`the folders of foreground run ${killed.slice(0, 12)} outlived it`);
    expect(r.stdout).toContain('was left by a command that died');
    expect((await check(true)).exitCode).toBe(0);
    expect((await check()).stdout).toBe('ok: the storage is consistent');
    expect(readdirSync(data('image-users', image().id.slice(7)))).toEqual([]);
  });
});
