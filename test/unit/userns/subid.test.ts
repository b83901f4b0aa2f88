import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { userInfo } from 'node:os';
import {
  lookupSubid,
  mergeRanges,
  parseGetsubids,
  parseSubid,
  rangeSize,
  readSubid,
} from '../../../src/userns/subid.js';

const alice = { name: 'alice', id: 1000 };

describe('parseSubid', () => {
  it('takes the lines naming the user or its id, in order, skipping malformed ones', () => {
    const text = 'bob:100000:65536\nalice:165536:65536\n# comment\nalice:x:10\n1000:300000:10\nalice:1:0\n';
    expect(parseSubid(text, alice)).toEqual([
      { start: 165536, count: 65536 },
      { start: 300000, count: 10 },
    ]);
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

describe('mergeRanges', () => {
  it('merges overlapping and adjacent ranges, sorted by start, and keeps apart ones apart', () => {
    // useradd's automatic range, then an admin's overlapping `usermod --add-subuids 300000-365535`.
    expect(
      mergeRanges([
        { start: 300000, count: 65536 },
        { start: 296608, count: 65536 },
      ]),
    ).toEqual([{ start: 296608, count: 68928 }]);
    expect(
      mergeRanges([
        { start: 100000, count: 10 },
        { start: 100010, count: 5 },
      ]),
    ).toEqual([{ start: 100000, count: 15 }]);
    expect(
      mergeRanges([
        { start: 100000, count: 100 },
        { start: 100010, count: 5 },
      ]),
    ).toEqual([{ start: 100000, count: 100 }]);
    expect(
      mergeRanges([
        { start: 200000, count: 10 },
        { start: 100000, count: 10 },
      ]),
    ).toEqual([
      { start: 100000, count: 10 },
      { start: 200000, count: 10 },
    ]);
  });
});

describe('lookupSubid', () => {
  it('merges the overlapping entries of ROOT/etc/subuid and keeps what was listed', () => {
    const root = mkdtempSync(join(tmpdir(), 'subid-'));
    try {
      mkdirSync(join(root, 'etc'));
      writeFileSync(join(root, 'etc', 'subuid'), 'alice:296608:65536\nbob:100000:65536\nalice:300000:65536\n');
      expect(lookupSubid('uid', alice, { root })).toEqual({
        ranges: [{ start: 296608, count: 68928 }],
        listed: [
          { start: 296608, count: 65536 },
          { start: 300000, count: 65536 },
        ],
        source: 'file',
      });
      expect(readSubid('uid', alice, root)).toEqual([{ start: 296608, count: 68928 }]);
    } finally {
      rmSync(root, { recursive: true });
    }
  });

  it('parses getsubids output', () => {
    expect(parseGetsubids('0: alice 100000 65536\n1: alice 300000 10\nError fetching ranges\n')).toEqual([
      { start: 100000, count: 65536 },
      { start: 300000, count: 10 },
    ]);
  });

  it('with no entry in the file, skips an absent getsubids quietly', () => {
    const root = mkdtempSync(join(tmpdir(), 'subid-'));
    try {
      expect(lookupSubid('uid', alice, { root, getsubids: join(root, 'no-such-getsubids') })).toEqual({
        ranges: [],
        listed: [],
        source: 'none',
      });
      expect(lookupSubid('gid', alice, { root })).toEqual({ ranges: [], listed: [], source: 'none' });
    } finally {
      rmSync(root, { recursive: true });
    }
  });

  // The host's real getsubids (shadow 4.13+) answers from the host's /etc/subuid: an empty test
  // root has no entry, so the ranges can only have come from it.
  const me = userInfo();
  const hostRanges = parseSubid(readFileIfAny('/etc/subuid'), { name: me.username, id: me.uid });
  const hasTool = spawnSync('getsubids', ['--help'], { stdio: 'ignore' }).error === undefined;
  it.skipIf(!hasTool || hostRanges.length === 0)('with no entry in the file, asks getsubids for the ranges', () => {
    const root = mkdtempSync(join(tmpdir(), 'subid-'));
    try {
      const found = lookupSubid('uid', { name: me.username, id: me.uid }, { root, getsubids: 'getsubids' });
      expect(found.source).toBe('getsubids');
      expect(found.ranges).toEqual(mergeRanges(hostRanges));
    } finally {
      rmSync(root, { recursive: true });
    }
  });
});

function readFileIfAny(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
