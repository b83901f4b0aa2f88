import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultNetworkMode, needsOwnNetns, parseNetworkOption } from '../../../net/index.js';

const savedPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = savedPath;
});

describe('defaultNetworkMode', () => {
  it('is none, with one notice line, when slirp4netns is not on PATH', () => {
    const empty = mkdtempSync(join(tmpdir(), 'hutch-nopath-'));
    process.env.PATH = empty;
    const notices: string[] = [];
    try {
      expect(defaultNetworkMode((line) => notices.push(line))).toEqual({ kind: 'none' });
      expect(notices).toEqual(['hutch: slirp4netns is not installed: the container gets no network (--network none)']);
    } finally {
      rmSync(empty, { recursive: true });
    }
  });

  it('says which modes need a network namespace of their own', () => {
    expect(
      ['slirp4netns', 'pasta', 'none', 'host', 'container:x'].map((v) => needsOwnNetns(parseNetworkOption(v))),
    ).toEqual([true, true, true, false, false]);
  });
});
