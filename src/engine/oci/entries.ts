import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import { withLock } from '../../sys/fs.js';
import { checkId, isLeftover, ociLockFile, readRecord, takeEntry, writeRecord, type OciRecord } from './state.js';

/**
 * Making a container's folder under the root's lock (flock: foreign-call code, so kept out of
 * state.ts, which the light verbs load): `create` and `run` reserve an id here.
 */

/**
 * Makes ROOT/<id> with `record` (status creating) under the root's lock: a leftover of the id is
 * removed first, a live one refused, and a folder without state.json (a runtime killed before it
 * wrote one, runc's "aborted start") taken over. The leftover's cgroup and poststop hooks are
 * ended after the lock is released (a hook may call the runtime on this root), before returning.
 */
export async function reserve(root: string, record: OciRecord): Promise<void> {
  checkId(record.id);
  const dir = join(root, record.id);
  let endLeftover: (() => Promise<void>) | undefined;
  await withLock(ociLockFile(root), async () => {
    if (existsSync(join(dir, 'state.json'))) {
      const old = readRecord(root, record.id);
      if (!isLeftover(old))
        throw new UsageError('CONTAINER_EXISTS', `container ${record.id} already exists`, {
          hint: `delete it first: hutch runtime delete ${record.id}`,
        });
      endLeftover = takeEntry(root, old);
    }
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeRecord(root, record);
  });
  await endLeftover?.();
}
