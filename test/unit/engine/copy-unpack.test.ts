// `hutch cp`'s unpacking on the host: docker's placement rules, and a hostile archive (a link then a
// path through it, `..`) never writes outside the destination.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import tar from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { packPath, topName } from '../../../src/engine/commit/copy-pack.js';
import { unpackTo, type UnpackOptions } from '../../../src/engine/commit/copy-unpack.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hutch-cp-unit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const host: UnpackOptions = { mode: 'rebase', dirOnly: false, contained: true, warn: () => undefined };

type Entry = Partial<tar.Header> & { name: string; body?: string };
function archive(entries: Entry[]): Readable {
  const pack = tar.pack();
  for (const { body, ...e } of entries) pack.entry({ mode: 0o644, ...e } as tar.Header, body ?? '');
  pack.finalize();
  return pack as unknown as Readable;
}

/** A host tree packed as `hutch cp` packs it. */
function packed(source: string): Readable {
  const out = new PassThrough();
  packPath(source, out).catch(() => out.destroy()); // the unpacking side reports the failure
  return out;
}

describe('hutch cp placement', () => {
  beforeEach(() => {
    mkdirSync(join(dir, 'src', 'sub'), { recursive: true });
    writeFileSync(join(dir, 'src', 'sub', 'f'), 'f\n');
    mkdirSync(join(dir, 'dest'));
  });

  it('names the top entry after the source, or "." for SRC/.', () => {
    expect(topName('/a/b')).toBe('b');
    expect(topName('/a/b/')).toBe('b');
    expect(topName('/a/b/.')).toBe('.');
    expect(topName('/')).toBe('.');
  });

  it('puts a folder into an existing folder, under a new name, or its content only', async () => {
    await unpackTo(packed(join(dir, 'src')), join(dir, 'dest'), host);
    expect(readFileSync(join(dir, 'dest', 'src', 'sub', 'f'), 'utf8')).toBe('f\n');
    await unpackTo(packed(join(dir, 'src')), join(dir, 'dest', 'renamed'), host);
    expect(readdirSync(join(dir, 'dest', 'renamed'))).toEqual(['sub']);
    await unpackTo(packed(join(dir, 'src', '.')), join(dir, 'flat'), host);
    expect(readdirSync(join(dir, 'flat'))).toEqual(['sub']);
  });

  it('refuses a folder onto a file, and a missing folder named with a trailing slash', async () => {
    writeFileSync(join(dir, 'file'), 'x');
    await expect(unpackTo(packed(join(dir, 'src')), join(dir, 'file'), host)).rejects.toMatchObject({
      code: 'CP_DESTINATION',
    });
    await expect(
      unpackTo(packed(join(dir, 'src', 'sub', 'f')), join(dir, 'nodir') + '/', { ...host, dirOnly: true }),
    ).rejects.toMatchObject({ code: 'CP_DESTINATION' });
  });
});

describe('hutch cp and a hostile archive', () => {
  it('never writes through a link the archive made', async () => {
    const outside = join(dir, 'outside');
    mkdirSync(outside);
    mkdirSync(join(dir, 'dest'));
    const evil = archive([
      { name: 'top/', type: 'directory', mode: 0o755 },
      { name: 'top/l', type: 'symlink', linkname: outside },
      { name: 'top/l/planted', type: 'file', body: 'x' },
    ]);
    await expect(unpackTo(evil, join(dir, 'dest'), host)).rejects.toMatchObject({ code: 'CP_ARCHIVE_PATH' });
    expect(readdirSync(outside)).toEqual([]);
  });

  it('refuses .. in a name, and a name outside the top entry', async () => {
    mkdirSync(join(dir, 'dest'));
    const dotdot = archive([{ name: '../escaped', type: 'file', body: 'x' }]);
    await expect(unpackTo(dotdot, join(dir, 'dest'), { ...host, mode: 'into' })).rejects.toMatchObject({
      code: 'CP_ARCHIVE_PATH',
    });
    const two = archive([
      { name: 'a', type: 'file', body: 'a' },
      { name: 'b', type: 'file', body: 'b' },
    ]);
    await expect(unpackTo(two, join(dir, 'dest'), host)).rejects.toMatchObject({ code: 'CP_ARCHIVE_PATH' });
    expect(existsSync(join(dir, 'escaped'))).toBe(false);
  });
});
