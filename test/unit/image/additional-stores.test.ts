// Read-only additional image stores: found from storage.conf (a store's data directory or the
// --root it was filled with), and never written.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { additionalStores } from '../../../src/image/store.js';

function confWith(stores: string[]): NodeJS.ProcessEnv {
  const dir = mkdtempSync(join(tmpdir(), 'hutch-conf-'));
  const file = join(dir, 'storage.conf');
  writeFileSync(file, `[storage.options]\nadditionalimagestores = ${JSON.stringify(stores)}\n`);
  return { HOME: dir, CONTAINERS_CONF: join(dir, 'none.conf'), CONTAINERS_STORAGE_CONF: file };
}

describe('additional image stores', () => {
  test('an entry is a data directory (it has images.json) or a --root (its data/)', () => {
    const base = mkdtempSync(join(tmpdir(), 'hutch-ro-'));
    mkdirSync(join(base, 'plain'));
    writeFileSync(join(base, 'plain', 'images.json'), '{"version":1,"images":[]}');
    const stores = additionalStores(confWith([join(base, 'plain'), join(base, 'rooted')]));
    expect(stores.map((s) => [s.dir, s.readOnly])).toEqual([
      [join(base, 'plain'), true],
      [join(base, 'rooted', 'data'), true],
    ]);
  });

  test('a read-only store refuses every write with STORE_READ_ONLY before touching its folder', () => {
    const base = mkdtempSync(join(tmpdir(), 'hutch-ro-'));
    const [store] = additionalStores(confWith([base]));
    const refused = expect.objectContaining({ code: 'STORE_READ_ONLY' });
    expect(() => store!.tempDir('layer')).toThrow(refused);
    expect(() => store!.writeBlob('sha256:00', Buffer.from(''))).toThrow(refused);
    expect(() => store!.saveImages([])).toThrow(refused);
    expect(() => store!.collect([], [])).toThrow(refused);
    expect(() => store!.locked(() => undefined)).toThrow(refused);
  });
});
