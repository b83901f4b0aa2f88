import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { EntryKind, readLayerIndex, type IndexEntry } from '../../fuse/layer-index.js';
import { hex, type ImageRecord, type Store } from './store.js';

/** One thing `hutch system check` found wrong in the image store. */
export interface StoreFinding {
  /** What is wrong, in words (lower case, names the blob, layer or image). */
  problem: string;
  /** What --repair did about it, when it did something. */
  repaired?: string;
}

/**
 * Checks every blob's digest, every layer's index against its files and every image's references;
 * with `repair`, bad blobs and layers go, and so do the images that need them (by name).
 * Blobs and layers no image names are reported and, with `repair`, removed.
 */
export async function verifyImageStore(store: Store, repair: boolean): Promise<StoreFinding[]> {
  return store.locked(async () => {
    const images = store.images();
    const badBlobs = await badBlobDigests(store);
    const badLayers = badLayerIds(store);
    const findings: StoreFinding[] = [
      ...[...badBlobs].map(([digest, why]) => ({ problem: `blob ${digest}: ${why}` })),
      ...[...badLayers].map(([diffId, why]) => ({ problem: `layer ${diffId}: ${why}` })),
    ];
    const broken = images.filter((i) => brokenBy(store, i, badBlobs, badLayers) !== undefined);
    for (const image of broken)
      findings.push({
        problem: `image ${imageName(image)} needs ${brokenBy(store, image, badBlobs, badLayers)}`,
        repaired: repair ? `removed image ${imageName(image)}; pull it again` : undefined,
      });
    const kept = images.filter((i) => !broken.includes(i));
    const orphans = unreferenced(store, kept);
    for (const o of orphans)
      findings.push({ problem: `${o.what} is used by no image`, repaired: repair ? `removed ${o.what}` : undefined });
    if (!repair) return findings;
    store.saveImages(kept);
    for (const digest of badBlobs.keys()) rmSync(store.blobPath(digest), { force: true });
    for (const diffId of badLayers.keys()) rmSync(store.layerDir(diffId), { recursive: true, force: true });
    for (const o of orphans) rmSync(o.path, { recursive: true, force: true });
    for (const f of findings.slice(0, badBlobs.size + badLayers.size)) f.repaired = 'removed it';
    return findings;
  });
}

/** The blobs whose content does not hash to their name, with why. */
async function badBlobDigests(store: Store): Promise<Map<string, string>> {
  const bad = new Map<string, string>();
  for (const name of list(join(store.dir, 'blobs', 'sha256'))) {
    const digest = `sha256:${name}`;
    const hash = createHash('sha256');
    try {
      await pipeline(createReadStream(store.blobPath(digest)), hash);
    } catch (error) {
      bad.set(digest, `cannot read it: ${(error as Error).message}`);
      continue;
    }
    const actual = hash.digest('hex');
    if (actual !== name) bad.set(digest, `its content hashes to sha256:${actual}`);
  }
  return bad;
}

/** The layers whose index is unreadable or disagrees with the files on disk, with why. */
function badLayerIds(store: Store): Map<string, string> {
  const bad = new Map<string, string>();
  for (const name of list(join(store.dir, 'layers', 'sha256'))) {
    const diffId = `sha256:${name}`;
    let entries: IndexEntry[];
    try {
      entries = readLayerIndex(store.layerIndex(diffId));
    } catch (error) {
      bad.set(diffId, `its index cannot be read: ${(error as Error).message}`);
      continue;
    }
    const wrong = entries.map((e) => entryProblem(store.layerRoot(diffId), e)).find((p) => p !== undefined);
    if (wrong !== undefined) bad.set(diffId, wrong);
  }
  return bad;
}

/** What is wrong with one index entry's file on disk, or undefined. */
function entryProblem(root: string, e: IndexEntry): string | undefined {
  if (e.kind === EntryKind.Whiteout) return undefined;
  const st = lstatSync(join(root, e.path), { throwIfNoEntry: false });
  if (st === undefined) return `its index names ${e.path}, which is missing`;
  const fits =
    e.kind === EntryKind.Dir
      ? st.isDirectory()
      : e.kind === EntryKind.Symlink
        ? st.isSymbolicLink()
        : e.kind === EntryKind.File || e.kind === EntryKind.Hardlink
          ? st.isFile() && st.size === e.size
          : st.isFile();
  return fits ? undefined : `${e.path} on disk does not match its index (type or size)`;
}

/** Which bad blob or layer (or missing one) `image` needs, or undefined when it is whole. */
function brokenBy(
  store: Store,
  image: ImageRecord,
  badBlobs: Map<string, string>,
  badLayers: Map<string, string>,
): string | undefined {
  for (const digest of [image.manifest, image.config, ...image.layers.map((l) => l.digest)])
    if (badBlobs.has(digest) || !store.hasBlob(digest)) return `blob ${digest}`;
  for (const l of image.layers) if (badLayers.has(l.diffId) || !store.hasLayer(l.diffId)) return `layer ${l.diffId}`;
  return undefined;
}

/** Blobs and layers in the store that no image of `kept` names. */
function unreferenced(store: Store, kept: ImageRecord[]): { what: string; path: string }[] {
  const blobs = new Set(kept.flatMap((i) => [i.manifest, i.config, ...i.layers.map((l) => l.digest)].map(hex)));
  const layers = new Set(kept.flatMap((i) => i.layers.map((l) => hex(l.diffId))));
  return [
    ...list(join(store.dir, 'blobs', 'sha256'))
      .filter((n) => !blobs.has(n))
      .map((n) => ({ what: `blob sha256:${n}`, path: store.blobPath(n) })),
    ...list(join(store.dir, 'layers', 'sha256'))
      .filter((n) => !layers.has(n))
      .map((n) => ({ what: `layer sha256:${n}`, path: store.layerDir(n) })),
  ];
}

function imageName(image: ImageRecord): string {
  return `${image.names[0] ?? '<none>'} (${hex(image.id).slice(0, 12)})`;
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => /^[0-9a-f]{64}$/.test(n));
  } catch {
    return [];
  }
}
