// Hostile registry answers (issue 14): wrong digests and sizes, a redirect to another host
// (credentials never follow it), endless and slow bodies, a 100 MB manifest. After each the
// store is as it was (nothing recorded, no blob, no layer) and no temporary file is left.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { hutch, storeListing, tempDir } from '../helpers/image-cli.js';
import { writeImageLayout, type BuiltImage } from '../helpers/image-fixtures.js';
import { hostileRegistry, streamBody, type HostileRegistry } from '../helpers/hostile-registry.js';

let image: BuiltImage;
let layerDigest: string;
let registry: HostileRegistry;
let home: string;
let root: string;

beforeAll(async () => {
  const work = tempDir('hutch-hostile-');
  image = await writeImageLayout(join(work, 'layout'), 'img', [
    {
      entries: [{ name: 'data.bin', type: 'file', mode: 0o644, content: randomBytes(256 << 10) }],
      compression: 'none',
    },
  ]);
  const manifest = JSON.parse(readFileSync(join(image.dir, 'blobs', 'sha256', image.manifestDigest.slice(7)), 'utf8'));
  layerDigest = manifest.layers[0].digest;
  registry = await hostileRegistry(image.dir, '1');
});

afterAll(async () => {
  await registry.stop();
});

beforeEach(() => {
  registry.answer = undefined;
  registry.basic = undefined;
  registry.seen.length = 0;
  home = tempDir('hutch-home-');
  root = join(home, 'root');
});

/** Pulls `ref` (default: the image by tag); `timeout` is HUTCH_REGISTRY_TIMEOUT (short only where it is tested: a loaded machine is slow). */
function pull(ref = `${registry.host}/hostile/img:1`, extra: string[] = [], timeout = '20'): ReturnType<typeof hutch> {
  return hutch(['pull', '-q', '--tls-verify=false', '--root', root, ...extra, ref], {
    home,
    env: { HUTCH_REGISTRY_TIMEOUT: timeout },
  });
}

/** Nothing of the image was stored and no staging is left. */
function expectStoreUntouched(): void {
  expect(storeListing(root).filter((p) => !p.startsWith('tmp/'))).toEqual([]);
  const tmp = join(root, 'data', 'tmp');
  expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([]);
}

const isLayer = (url: string | undefined): boolean => url?.endsWith(`/blobs/${layerDigest}`) === true;

describe('a registry that lies about blobs', () => {
  test('wrong digest: the layer bytes differ from the descriptor (same size)', async () => {
    registry.answer = (req, res, honest) => {
      if (!isLayer(req.url) || honest === undefined) return false;
      const bad = Buffer.from(honest);
      bad[bad.length - 700] ^= 0xff;
      res.writeHead(200, { 'content-length': String(bad.length) }).end(bad);
      return true;
    };
    const r = await pull();
    expect(r.exitCode).toBe(125);
    // The layer is hashed while it unpacks: whichever sees the flipped byte first refuses it (the
    // digest at the end of the body, or tar at a header it damaged). Either way nothing is stored.
    expect(r.stderr).toMatch(
      /does not match its descriptor: content hashes to sha256:|cannot unpack layer sha256:[0-9a-f]{64} .*\nhint: the layer is damaged or not a tar archive; nothing of it was stored/,
    );
    expectStoreUntouched();
  });

  test('wrong size: a longer body than the descriptor declares is cut off', async () => {
    registry.answer = (req, res, honest) => {
      if (!isLayer(req.url) || honest === undefined) return false;
      const longer = Buffer.concat([honest, Buffer.alloc(4096)]);
      res.writeHead(200, { 'content-length': String(longer.length) }).end(longer);
      return true;
    };
    const r = await pull();
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/more than the \d+ bytes declared/);
    expectStoreUntouched();
  });

  test('wrong size: a shorter body than the descriptor declares', async () => {
    registry.answer = (req, res, honest) => {
      if (!isLayer(req.url) || honest === undefined) return false;
      const shorter = honest.subarray(0, honest.length - 1024);
      res.writeHead(200, { 'content-length': String(shorter.length) }).end(shorter);
      return true;
    };
    const r = await pull();
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/\d+ bytes instead of \d+/);
    expectStoreUntouched();
  });

  test('a manifest fetched by digest that hashes to something else', async () => {
    registry.answer = (req, res, honest) => {
      if (!req.url?.includes('/manifests/sha256:') || honest === undefined) return false;
      const other = Buffer.from(honest.toString().replace('"schemaVersion":2', '"schemaVersion": 2'));
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end(other);
      return true;
    };
    const r = await pull(`${registry.host}/hostile/img@${image.manifestDigest}`);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain(`manifest ${image.manifestDigest} from`);
    expectStoreUntouched();
  });

  test('an endless blob body is cut off at the declared size', async () => {
    let taken: Promise<number> = Promise.resolve(0);
    registry.answer = (req, res, honest) => {
      if (!isLayer(req.url) || honest === undefined) return false;
      res.writeHead(200); // chunked: the honest layer, then zeros forever
      res.write(honest);
      taken = streamBody(res, Infinity, 0);
      return true;
    };
    const r = await pull();
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/more than the \d+ bytes declared/);
    expect(await taken).toBeLessThan(64 << 20);
    expectStoreUntouched();
  });
});

describe('a registry that redirects, stalls or floods', () => {
  test('a redirect to another host: the blob comes from there, the credentials do not go there', async () => {
    const other = await hostileRegistry(image.dir, '1', '127.0.0.2');
    try {
      registry.basic = `Basic ${Buffer.from('alice:secret').toString('base64')}`;
      registry.answer = (req, res) => {
        if (!req.url?.includes('/blobs/')) return false;
        res.writeHead(307, { location: `http://${other.host}${req.url}` }).end();
        return true;
      };
      const r = await pull(undefined, ['--creds', 'alice:secret']);
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe(image.configDigest.slice(7));
      expect(registry.seen.some((s) => s.authorization === registry.basic)).toBe(true);
      expect(other.seen.filter((s) => s.url.includes('/blobs/')).length).toBeGreaterThan(0);
      expect(other.seen.map((s) => s.authorization)).toEqual(other.seen.map(() => undefined));
    } finally {
      await other.stop();
    }
  });

  test('a redirect loop ends with an error', async () => {
    registry.answer = (req, res) => {
      if (!req.url?.includes('/manifests/')) return false;
      res.writeHead(302, { location: req.url }).end();
      return true;
    };
    const r = await pull();
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/more than 5 redirects/);
    expectStoreUntouched();
  });

  test('a body that stops half-way times out with a clear error', async () => {
    registry.answer = (req, res, honest) => {
      if (!isLayer(req.url) || honest === undefined) return false;
      res.writeHead(200, { 'content-length': String(honest.length) });
      res.write(honest.subarray(0, honest.length >> 1)); // and nothing more, ever
      return true;
    };
    const r = await pull(undefined, [], '2');
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/took more than 2 s to send more/);
    expect(r.stderr).toContain('HUTCH_REGISTRY_TIMEOUT');
    expectStoreUntouched();
  });

  test('a registry that never answers times out', async () => {
    registry.answer = (req) => req.url?.includes('/manifests/') === true; // no answer at all
    const r = await pull(undefined, [], '2');
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/took more than 2 s to answer/);
    expectStoreUntouched();
  });

  test('a 100 MB manifest that says so is refused before it is read', async () => {
    let taken: Promise<number> = Promise.resolve(0);
    registry.answer = (req, res) => {
      if (!req.url?.includes('/manifests/')) return false;
      res.writeHead(200, {
        'content-type': 'application/vnd.oci.image.manifest.v1+json',
        'content-length': `${100 << 20}`,
      });
      taken = streamBody(res, 100 << 20);
      return true;
    };
    const r = await pull();
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/declares 104857600 bytes; hutch reads at most 4194304 bytes/);
    expect(await taken).toBeLessThan(100 << 20);
    expectStoreUntouched();
  });

  test('a 100 MB manifest that does not say so is cut off at the limit', async () => {
    let taken: Promise<number> = Promise.resolve(0);
    registry.answer = (req, res) => {
      if (!req.url?.includes('/manifests/')) return false;
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }); // chunked
      taken = streamBody(res, 100 << 20);
      return true;
    };
    const r = await pull();
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/sent more than 4194304 bytes/);
    expect(await taken).toBeLessThan(100 << 20);
    expectStoreUntouched();
  });
});
