import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { StoreError, UsageError } from '../../errors.js';
import { hutchPaths } from '../../paths.js';
import { atomicWriteFile, withLock } from '../../sys/fs.js';

/** One named volume as `hutch volume inspect` shows it (podman's field names). */
export interface VolumeRecord {
  Name: string;
  Driver: 'local';
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  Scope: 'local';
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/**
 * Named volumes under the data directory: volumes/NAME/{volume.json, _data/, users/<container id>,
 * filled}. A volume outlives the containers that use it; `users/` holds one file per container
 * that mounts it (written at creation, removed with the container), so `rm` refuses one in use.
 */
export class VolumeStore {
  readonly dir: string;
  constructor(root?: string) {
    this.dir = join(hutchPaths(root).data, 'volumes');
  }

  dataDir(name: string): string {
    return join(this.dir, checkName(name), '_data');
  }

  /** Creates a volume; an existing name is an error unless `reuse` (a -v that names it). */
  async create(
    name: string,
    labels: Record<string, string> = {},
    reuse = false,
  ): Promise<{ record: VolumeRecord; created: boolean }> {
    checkName(name);
    return this.locked(() => {
      if (existsSync(this.recordFile(name))) {
        if (!reuse)
          throw new UsageError('VOLUME_EXISTS', `cannot create volume ${name}: a volume of that name exists`, {
            hint: 'choose another name, or use the existing one (hutch volume inspect)',
          });
        return { record: this.get(name), created: false };
      }
      // Made under a temporary name and renamed: a half-made volume is never seen.
      const temp = join(this.dir, `.new-${name}-${process.pid}`);
      rmSync(temp, { recursive: true, force: true });
      mkdirSync(join(temp, '_data'), { recursive: true, mode: 0o755 });
      mkdirSync(join(temp, 'users'), { mode: 0o700 });
      const record: VolumeRecord = {
        Name: name,
        Driver: 'local',
        Mountpoint: join(this.dir, name, '_data'),
        CreatedAt: new Date().toISOString(),
        Labels: labels,
        Options: {},
        Scope: 'local',
      };
      atomicWriteFile(join(temp, 'volume.json'), JSON.stringify(record, null, 1) + '\n');
      renameSync(temp, join(this.dir, name));
      return { record, created: true };
    });
  }

  get(name: string): VolumeRecord {
    let text: string;
    try {
      text = readFileSync(this.recordFile(name), 'utf8');
    } catch (error) {
      throw new UsageError('VOLUME_NOT_FOUND', `no volume named ${name}`, {
        hint: 'see hutch volume ls',
        cause: error,
      });
    }
    try {
      return JSON.parse(text) as VolumeRecord;
    } catch (error) {
      throw new StoreError('VOLUME_CORRUPT', `cannot read volume ${name}: ${this.recordFile(name)} is not valid JSON`, {
        hint: `remove it with hutch volume rm -f ${name}`,
        cause: error,
      });
    }
  }

  list(): VolumeRecord[] {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => !n.startsWith('.'));
    } catch {
      return [];
    }
    return names
      .filter((n) => existsSync(this.recordFile(n)))
      .sort()
      .map((n) => this.get(n));
  }

  /** The containers that mount `name` (their ids). */
  users(name: string): string[] {
    try {
      return readdirSync(join(this.dir, checkName(name), 'users'));
    } catch {
      return [];
    }
  }

  async markUsed(name: string, containerId: string): Promise<void> {
    await this.locked(() => {
      this.get(name);
      atomicWriteFile(join(this.dir, name, 'users', containerId), containerId + '\n');
    });
  }

  unmarkUsed(name: string, containerId: string): void {
    rmSync(join(this.dir, checkName(name), 'users', containerId), { force: true });
  }

  /** Whether the volume's content came from an image already (docker fills a volume once). */
  takeFill(name: string): boolean {
    const marker = join(this.dir, checkName(name), 'filled');
    if (existsSync(marker) || readdirSync(this.dataDir(name)).length > 0) return false;
    atomicWriteFile(marker, '');
    return true;
  }

  /** Removes a volume; one in use is refused unless `force` (whose users keep their mount). */
  async remove(name: string, force: boolean, removeTree: (dir: string) => Promise<void>): Promise<void> {
    const doomed = await this.locked(() => {
      this.get(name);
      const users = this.users(name);
      if (users.length > 0 && !force) {
        throw new UsageError(
          'VOLUME_IN_USE',
          `cannot remove volume ${name}: it is used by container${users.length > 1 ? 's' : ''} ${users.map((u) => u.slice(0, 12)).join(', ')}`,
          { hint: 'remove the containers first (hutch rm), or use -f' },
        );
      }
      const to = join(this.dir, `.gone-${name}-${process.pid}`);
      renameSync(join(this.dir, name), to);
      return to;
    });
    // Files a container's other users made belong to subuids: removed in the user namespace if need be.
    await removeTree(doomed);
  }

  /** Removes every volume no container uses; returns their names. */
  async prune(removeTree: (dir: string) => Promise<void>): Promise<string[]> {
    const unused = this.list()
      .filter((v) => this.users(v.Name).length === 0)
      .map((v) => v.Name);
    const removed: string[] = [];
    for (const name of unused) {
      try {
        await this.remove(name, false, removeTree);
        removed.push(name);
      } catch (error) {
        // Put to use (or removed) since the listing: not prunable any more.
        if (
          (error as { code?: string }).code !== 'VOLUME_IN_USE' &&
          (error as { code?: string }).code !== 'VOLUME_NOT_FOUND'
        )
          throw error;
      }
    }
    return removed;
  }

  private recordFile(name: string): string {
    return join(this.dir, checkName(name), 'volume.json');
  }

  private locked<T>(fn: () => T): Promise<T> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    return withLock(join(this.dir, '.lock'), fn);
  }
}

function checkName(name: string): string {
  if (!NAME.test(name))
    throw new UsageError('VOLUME_NAME_INVALID', `invalid volume name ${JSON.stringify(name)}`, {
      hint: 'use letters, digits, _ . and -, starting with a letter or digit',
    });
  return name;
}

/** Removes a container's marks on its named volumes (at `rm`, or when its creation failed). */
export function releaseVolumes(root: string | undefined, names: string[], id: string): void {
  const store = new VolumeStore(root);
  for (const name of names) store.unmarkUsed(name, id);
}
