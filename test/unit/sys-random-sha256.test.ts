// src/sys/sha256.ts and src/sys/random.ts: a run's digests and ids without node:crypto (~3 ms to
// load). The digest must be exactly node:crypto's (the shared union daemon's socket is named by
// it, and daemons of other builds are found by the same name); an id is the kernel's bytes.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { randomHex } from '../../src/sys/random.js';
import { sha256Hex } from '../../src/sys/sha256.js';

const scratch = mkdtempSync(join(tmpdir(), 'hutch-random-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('sha256Hex', () => {
  it("is node:crypto's digest at every length around the block and padding edges, and for text outside ASCII", () => {
    const texts = Array.from({ length: 200 }, (_, n) => 'abcdefghij'.repeat(30).slice(0, n));
    texts.push(
      '0:100000:65536\n0:100000:65536\n/usr/bin/node\n/opt/hutch/dist/bundle/fuseDaemon.cjs',
      'é€😀 ünïcode',
      '\0\n',
    );
    for (const text of texts)
      expect(sha256Hex(text), `length ${text.length}`).toBe(createHash('sha256').update(text).digest('hex'));
  });

  it('is the known digest of the empty string and of "abc"', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('randomHex', () => {
  it('is that many bytes in hex, different each time', () => {
    const ids = new Set(Array.from({ length: 20 }, () => randomHex(32)));
    expect(ids.size).toBe(20);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{64}$/);
  });

  it("falls back to node:crypto's randomBytes where the file is missing or ends short", () => {
    const short = join(scratch, 'short');
    writeFileSync(short, Buffer.alloc(5));
    const ids = [join(scratch, 'missing'), short, scratch].map((file) => randomHex(32, file));
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(ids).size).toBe(3);
    expect(ids).not.toContain('0'.repeat(64));
  });
});
