import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import { materializeRootfs } from '../../image/materialize.js';
import type { ResolvedImage } from '../../image/resolve.js';
import { parseMountFlag, parseVolumeFlag, type MountFlag } from './flags.js';
import { releaseVolumes, VolumeStore } from './store.js';

/** What a container's -v and --mount flags become: the binds and tmpfs run-spec.ts mounts. */
export interface ResolvedMounts {
  /** SRC:DST:ro|rw with SRC an absolute host path (a volume's _data, a copy for :O). */
  volumes: string[];
  /** DST:OPTIONS */
  tmpfs: string[];
  /** Sources of :U, to chown to the container's user once its spec is built. */
  chown: string[];
  /** The named volumes the container marked as used (unmarked when it is removed). */
  names: string[];
}

export interface MountContext {
  root?: string;
  id: string;
  /** The container's persistent folder (copies for :O go into overlay/). */
  dataDir: string;
  cwd: string;
  /** The image whose content fills a new volume at its destination. */
  image?: Pick<ResolvedImage, 'layers'>;
}

/**
 * Resolves the flags against the cwd and the volume store: named volumes are created on first use,
 * filled from the image's content at their destination the first time one is mounted (docker's
 * rule; not with nocopy), and marked as used by the container. On failure no mark stays.
 */
export async function resolveMounts(
  volumeFlags: string[],
  mountFlags: string[],
  ctx: MountContext,
): Promise<ResolvedMounts> {
  const flags = [
    ...volumeFlags.map((v) => parseVolumeFlag(v, ctx.cwd)),
    ...mountFlags.map((m) => parseMountFlag(m, ctx.cwd)),
  ];
  const out: ResolvedMounts = { volumes: [], tmpfs: [], chown: [], names: [] };
  const store = new VolumeStore(ctx.root);
  try {
    for (const [i, flag] of flags.entries()) await resolveOne(flag, i, store, ctx, out);
  } catch (error) {
    releaseVolumes(ctx.root, out.names, ctx.id);
    throw error;
  }
  return out;
}

async function resolveOne(
  flag: MountFlag,
  i: number,
  store: VolumeStore,
  ctx: MountContext,
  out: ResolvedMounts,
): Promise<void> {
  if (flag.kind === 'tmpfs') {
    out.tmpfs.push(`${flag.destination}:${flag.options.join(',')}`);
    return;
  }
  let source = flag.kind === 'bind' ? flag.source : store.dataDir(flag.name);
  if (flag.kind === 'volume') {
    await store.create(flag.name, {}, true);
    await store.markUsed(flag.name, ctx.id);
    out.names.push(flag.name);
    if (!flag.nocopy && ctx.image && store.takeFill(flag.name))
      materializeRootfs(ctx.image, source, flag.destination.slice(1));
  }
  if (flag.overlay) source = overlayCopy(source, join(ctx.dataDir, 'overlay', String(i)));
  if (flag.chown) out.chown.push(source);
  out.volumes.push(`${source}:${flag.destination}:${flag.readonly ? 'ro' : 'rw'}`);
}

/**
 * :O — the container writes to its own copy of the source, kept with the container and never
 * written back (podman mounts an overlay whose upper layer it discards; hutch copies, because a
 * second FUSE union per mount costs a daemon per volume).
 */
function overlayCopy(source: string, copy: string): string {
  mkdirSync(copy, { recursive: true, mode: 0o755 });
  try {
    cpSync(source, copy, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true, force: true });
  } catch (error) {
    throw new UsageError(
      'VOLUME_OVERLAY',
      `cannot make the :O overlay of ${source}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      { hint: 'check that the source exists and that you can read all of it', cause: error },
    );
  }
  return copy;
}
