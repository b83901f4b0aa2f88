// Builds lower layers as hutch's store keeps them: plain files owned by the test user plus an
// HLI1 index holding ownership, modes, devices, xattrs and whiteouts (fuse/layer-index.ts).
import { linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { encodeLayerIndex, EntryKind, type IndexEntry } from '../../fuse/layer-index.js';

export interface LayerEntry {
  path: string;
  kind: EntryKind;
  content?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  rdev?: number;
  link?: string;
  flags?: number;
  xattrs?: Record<string, string>;
}

/** Writes a layer's files under `dir` and its index to `indexFile`. */
export function writeLayer(dir: string, indexFile: string, entries: LayerEntry[]): void {
  mkdirSync(dir, { recursive: true });
  const index: IndexEntry[] = [];
  for (const e of entries) {
    const at = join(dir, e.path);
    mkdirSync(dirname(at), { recursive: true });
    if (e.kind === EntryKind.Dir) mkdirSync(at, { recursive: true });
    else if (e.kind === EntryKind.File) writeFileSync(at, e.content ?? '', { mode: 0o644 });
    else if (e.kind === EntryKind.Symlink) symlinkSync(e.link!, at);
    else if (e.kind === EntryKind.Hardlink) linkSync(join(dir, e.link!), at);
    else if (e.kind === EntryKind.Char || e.kind === EntryKind.Block || e.kind === EntryKind.Fifo)
      writeFileSync(at, '');
    index.push({
      path: e.path,
      kind: e.kind,
      flags: e.flags ?? 0,
      mode: e.mode ?? (e.kind === EntryKind.Dir ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      rdev: e.rdev ?? 0,
      size: Buffer.byteLength(e.content ?? ''),
      mtimeSec: 1_700_000_000,
      mtimeNsec: 123_456_789,
      link: e.link ?? '',
      xattrs: new Map(Object.entries(e.xattrs ?? {}).map(([k, v]) => [k, Buffer.from(v)])),
    });
  }
  writeFileSync(indexFile, encodeLayerIndex(index));
}
