import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageRecord, Store } from '../image/store.js';
import { hex } from '../image/store.js';
import { atomicWriteFile } from '../sys/fs.js';

/**
 * The layer cache: each step's result image, keyed by its parent image, the instruction (after
 * variable expansion) and its inputs (a COPY's content digest, the build args a RUN sees).
 * Entries live in the image store as build-cache/<key hex>, each naming an image; an entry whose
 * image was removed is a miss.
 */
export class BuildCache {
  constructor(
    private readonly store: Store,
    private readonly enabled: boolean,
  ) {}

  static key(parent: string, instruction: string, inputs: unknown): string {
    return `sha256:${createHash('sha256')
      .update(JSON.stringify([parent, instruction, inputs]))
      .digest('hex')}`;
  }

  lookup(key: string): ImageRecord | undefined {
    if (!this.enabled) return undefined;
    let id: string;
    try {
      id = readFileSync(this.path(key), 'utf8').trim();
    } catch {
      return undefined;
    }
    const image = this.store.images().find((i) => i.id === id);
    return image?.layers.every((l) => this.store.hasLayer(l.diffId)) ? image : undefined;
  }

  save(key: string, image: ImageRecord): void {
    atomicWriteFile(this.path(key), image.id + '\n');
  }

  private path(key: string): string {
    return join(this.store.dir, 'build-cache', hex(key));
  }
}
