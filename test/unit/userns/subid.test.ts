import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSubid, rangeSize, readSubid } from '../../../src/userns/subid.js';

const alice = { name: 'alice', id: 1000 };

describe('parseSubid', () => {
  it('takes the lines naming the user or its id, in order, skipping malformed ones', () => {
    const text = 'bob:100000:65536\nalice:165536:65536\n# comment\nalice:x:10\n1000:300000:10\nalice:1:0\n';
    expect(parseSubid(text, alice)).toEqual([{ start: 165536, count: 65536 }, { start: 300000, count: 10 }]);
    expect(rangeSize(parseSubid(text, alice))).toBe(65546);
  });
  it('gives nothing for a user without a line', () => {
    expect(parseSubid('bob:100000:65536\n', alice)).toEqual([]);
  });
});

describe('readSubid', () => {
  it('reads ROOT/etc/subuid and treats a missing file as no ranges', () => {
    const root = mkdtempSync(join(tmpdir(), 'subid-'));
    try {
      expect(readSubid('uid', alice, root)).toEqual([]);
      mkdirSync(join(root, 'etc'));
      writeFileSync(join(root, 'etc', 'subgid'), 'alice:200000:65536\n');
      expect(readSubid('gid', alice, root)).toEqual([{ start: 200000, count: 65536 }]);
    } finally {
      rmSync(root, { recursive: true });
    }
  });
});
