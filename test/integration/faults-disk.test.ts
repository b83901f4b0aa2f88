// A full disk (issue 14): the store on a small tmpfs, mounted by the test itself in a user and
// mount namespace of its own (unshare -r, then back to the test's uid one namespace further in,
// so that hutch runs as the user it always is). A pull that runs out of space and a copy-up that
// does must fail with a clear error and leave the store as it was, consistent, with no staging,
// process or mount behind.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { requires } from '../helpers/host.js';
import { HUTCH, REPO, sandbox, type Sandbox } from '../helpers/hutch-cli.js';
import { writeImageLayout, type BuiltImage } from '../helpers/image-fixtures.js';
import { hostileRegistry, type HostileRegistry } from '../helpers/hostile-registry.js';
import { expectNoLeaks, leakSnapshot, type LeakSnapshot } from '../helpers/leaks.js';

requires('fuse', 'userns', 'busybox');

let box: Sandbox;
let before: LeakSnapshot;
let image: BuiltImage;
let registry: HostileRegistry;

beforeAll(async () => {
  const work = sandbox();
  image = await writeImageLayout(join(work.dir, 'layout'), 'big', [
    // Six files of 1 MiB: each fits the free space, together they do not (a real ENOSPC).
    {
      entries: Array.from({ length: 6 }, (_, i) => ({
        name: `part-${i}.bin`,
        type: 'file' as const,
        mode: 0o644,
        content: randomBytes(1 << 20),
      })),
      compression: 'none',
    },
  ]);
  registry = await hostileRegistry(image.dir, '1');
});
afterAll(() => registry.stop());
beforeEach(() => {
  box = sandbox();
  before = leakSnapshot();
});
afterEach(async () => {
  await expectNoLeaks(before);
  box.remove();
});

/**
 * Runs `script` (bash; $HUTCH runs the CLI on the small store, $R is its --root) with a tmpfs of
 * `size` at $R, in namespaces of its own; returns the script's stdout. The tmpfs goes with them.
 */
async function onSmallDisk(size: string, script: string): Promise<string> {
  const file = join(box.dir, 'scenario.sh');
  writeFileSync(file, `set -u\nHUTCH="${process.execPath} ${HUTCH}"\n${script}\n`);
  const inner = `exec unshare --map-user=${process.getuid!()} --map-group=${process.getgid!()} bash ${file}`;
  const r = await execa(
    'unshare',
    [
      '-r',
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      `mkdir -p "$R" && mount -t tmpfs -o size=${size},mode=0700 tmpfs "$R" && ${inner}`,
    ],
    { env: { R: box.root, HUTCH_DEBUG: '' }, reject: false, cwd: REPO },
  );
  expect(r.stderr, 'the scenario itself failed').toBe('');
  return r.stdout;
}

/** Shell that prints the store's files (locks and the filesystem probe's cache aside) between markers, and the check's verdict. */
const REPORT = `echo "--- files"; (cd "$R/data" && find . -type f ! -name '*lock' ! -name .fs-probe.json | sort)
echo "--- check"; $HUTCH system check --root "$R"; echo "check exit $?"`;

describe('a full disk', () => {
  test('during a pull: a clear error, nothing stored, no staging left, the store consistent', async () => {
    const out = await onSmallDisk(
      '4m',
      `$HUTCH pull -q --tls-verify=false --root "$R" ${registry.host}/big/img:1 2>"$R/../pull.err"; echo "pull exit $?"
${REPORT}`,
    );
    const err = readFileSync(join(box.dir, 'pull.err'), 'utf8');
    expect(out).toContain('pull exit 125');
    expect(err).toMatch(/^hutch: cannot (store blob|unpack layer) .*: the disk is full$/m);
    expect(out).toContain('--- files\n--- check\nok: the storage is consistent\ncheck exit 0');
  });

  // Issue 14: the blobs and layers fit, the index (images.json) does not. The pull stops itself
  // just before it writes the index (HUTCH_FAULT image-index:stop), the script fills the disk,
  // and the pull goes on into a real ENOSPC.
  test('while the image index is written: the old index stays, the new blobs and layers go', async () => {
    const fx = join(box.dir, 'fx');
    await execa('bash', [join(REPO, 'test/fixtures/image-archive.sh'), fx]);
    const out = await onSmallDisk(
      '20m',
      `$HUTCH load -q --root "$R" -i ${fx}/it.tar >/dev/null || echo "load failed"
(cd "$R/data" && find . -type f ! -name '*lock' ! -name .fs-probe.json | sort) > "$R/../files.before"
HUTCH_FAULT=image-index:stop $HUTCH pull -q --tls-verify=false --root "$R" ${registry.host}/big/img:1 2>"$R/../pull.err" &
pid=$!
for i in $(seq 300); do grep -q '^State:.*T' /proc/$pid/status 2>/dev/null && break; sleep 0.1; done
dd if=/dev/zero of="$R/fill" bs=4k 2>/dev/null
kill -CONT $pid; wait $pid; echo "pull exit $?"
rm -f "$R/fill"
(cd "$R/data" && find . -type f ! -name '*lock' ! -name .fs-probe.json | sort) > "$R/../files.after"
echo "--- images"; $HUTCH images --root "$R" | tail -n +2 | cut -d' ' -f1
echo "--- check"; $HUTCH system check --root "$R"; echo "check exit $?"`,
    );
    const err = readFileSync(join(box.dir, 'pull.err'), 'utf8');
    expect(out).toContain('pull exit 125');
    expect(err).toMatch(/^hutch: cannot write the image index .*images\.json: the disk is full$/m);
    expect(readFileSync(join(box.dir, 'files.after'), 'utf8')).toBe(
      readFileSync(join(box.dir, 'files.before'), 'utf8'),
    );
    expect(out).toContain('--- images\nlocalhost/itest\n--- check\nok: the storage is consistent\ncheck exit 0');
  });

  test('during copy-up: the container gets ENOSPC, the layers are unchanged, the store consistent', async () => {
    const fx = join(box.dir, 'fx');
    await execa('bash', [join(REPO, 'test/fixtures/image-archive.sh'), fx]);
    const maps = `--uidmap 0:${process.getuid!()}:1 --gidmap 0:${process.getgid!()}:1`;
    const out = await onSmallDisk(
      '10m',
      `$HUTCH load -q --root "$R" -i ${fx}/it.tar >/dev/null || echo "load failed"
(cd "$R/data/layers" && find . -type f -exec sha256sum {} + | sort) > "$R/../layers.before"
$HUTCH run --rm --root "$R" ${maps} -u 0 --network none localhost/itest sh -c \\
  'dd if=/dev/zero of=/fill bs=64k 2>/dev/null; (echo x >> /etc/passwd) 2>/dev/null && echo appended || echo refused'
echo "run exit $?"
(cd "$R/data/layers" && find . -type f -exec sha256sum {} + | sort) > "$R/../layers.after"
${REPORT}`,
    );
    expect(out).toContain('refused\nrun exit 0');
    expect(readFileSync(join(box.dir, 'layers.after'), 'utf8')).toBe(
      readFileSync(join(box.dir, 'layers.before'), 'utf8'),
    );
    expect(out).toContain('ok: the storage is consistent\ncheck exit 0');
  });
});
