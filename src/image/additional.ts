import { StoreError } from '../errors.js';
import { findImage, findInStores, type StoredImage } from './resolve.js';
import { additionalStores, Store } from './store.js';

/**
 * The read-only image stores (store.ts additionalStores) seen together with the user's: the
 * list `hutch images` shows, and the refusal to change an image that only a read-only store has.
 */

/** Every image of the user's store, then those of the read-only stores it does not have (by id). */
export function allImages(root: string | undefined): StoredImage[] {
  const out: StoredImage[] = [];
  const seen = new Set<string>();
  for (const store of [new Store(root), ...additionalStores()]) {
    for (const image of store.images()) {
      if (seen.has(image.id)) continue;
      seen.add(image.id);
      out.push({ store, image });
    }
  }
  return out;
}

/** Refuses a change to `text` when the user's store lacks it but a read-only store has it. */
export function refuseReadOnly(root: string | undefined, text: string, what: string): void {
  if (findImage(new Store(root), text) !== undefined) return;
  const found = findInStores(root, text);
  if (found === undefined) return;
  throw new StoreError(
    'STORE_READ_ONLY',
    `cannot ${what} image ${text}: it is in the read-only store ${found.store.dir}`,
    {
      hint: 'its owner changes it; to have a copy of your own, pull it (it then goes into your store)',
    },
  );
}
