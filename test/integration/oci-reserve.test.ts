// The OCI face's reserve (src/engine/oci/entries.ts): a leftover of a killed runtime at the id a
// new container takes is removed, and its poststop hooks run after the root's lock is released, so
// a hook that calls the runtime on the same root (which takes that lock) does not wait on it.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { reserve } from '../../src/engine/oci/entries.js';
import { ociLockFile, readRecord, writeRecord, type OciRecord } from '../../src/engine/oci/state.js';

let dir: string;
beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), 'hutch-reserve-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const gone = { pid: process.pid, start: 1 }; // this pid, another start time: an ended process

it("runs a leftover's poststop hooks after the root's lock is released, then holds the new record", async () => {
  const root = join(dir, 'root');
  const out = join(dir, 'hook-ran');
  const hook = { path: '/bin/sh', args: ['sh', '-c', `flock -n ${ociLockFile(root)} -c 'cat > ${out}'`] };
  const base = { id: 'c1', bundle: dir, created: '2026-01-02T03:04:05.006Z', status: 'created' as const };
  await reserve(root, { ...base, spec: { ociVersion: '1.2.0' }, pid: 0 } as OciRecord);
  writeRecord(root, {
    ...base,
    spec: { ociVersion: '1.2.0', hooks: { poststop: [hook] } },
    pid: gone.pid,
    pidStart: gone.start,
    owner: gone,
  } as OciRecord);
  const fresh = {
    ...base,
    created: '2026-02-03T04:05:06.007Z',
    status: 'creating',
    spec: { ociVersion: '1.2.0' },
    pid: 0,
  };
  await reserve(root, fresh as OciRecord);
  expect(existsSync(out), 'the hook could not take the lock (flock -n failed)').toBe(true);
  expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ id: 'c1', status: 'stopped' });
  expect(readRecord(root, 'c1').created).toBe(fresh.created);
});
