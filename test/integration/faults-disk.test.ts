// A full disk (issue 14): the store on a small tmpfs, mounted by the test itself in a user and
// mount namespace of its own (unshare -r, then back to the test's uid one namespace further in,
// so that hutch runs as the user it always is). A pull that runs out of space, a copy-up that
// does, and a pull, load, commit or build whose image index cannot be written must fail with a
// clear error and leave the store as it was, consistent, with no staging, process or mount behind.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { requires } from '../helpers/host.js';
import { HUTCH, REPO, sandbox, type Sandbox } from '../helpers/hutch-cli.js';
import { storeListing } from '../helpers/image-cli.js';
import { writeImageLayout, type BuiltImage } from '../helpers/image-fixtures.js';
import { hostileRegistry, type HostileRegistry } from '../helpers/hostile-registry.js';
import { expectNoLeaks, leakSnapshot, type LeakSnapshot } from '../helpers/leaks.js';

requires('fuse', 'userns', 'busybox');

let box: Sandbox;
let before: LeakSnapshot;
let image: BuiltImage;
let registry: HostileRegistry;
/** An oci-archive of a small one-layer image, for load. */
let small: string;
/** The container's root is the test's user, the only id of the small disk's namespace. */
const MAPS = `--uidmap 0:${process.getuid!()}:1 --gidmap 0:${process.getgid!()}:1`;

beforeAll(async () => {
  const work = sandbox();
  const layout = join(work.dir, 'small');
  await writeImageLayout(layout, 'small', [
    {
      entries: [{ name: 'small.bin', type: 'file', mode: 0o644, content: randomBytes(64 << 10) }],
      compression: 'gzip',
    },
  ]);
  small = join(work.dir, 'small.tar');
  await execa('tar', ['-C', layout, '-cf', small, '.']);
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

/** What a scenario printed, and the store's listings (storeListing) it asked for by name. */
interface Scenario {
  out: string;
  listings: Map<string, string[]>;
}

/**
 * Runs `script` (bash; $HUTCH runs the CLI on the small store, $R is its --root) with a tmpfs of
 * `size` at $R, in namespaces of its own; the tmpfs goes with them. `listing NAME` in the script
 * has the test list the store then (storeListing through /proc/PID/root: only those namespaces
 * see the tmpfs) and waits until it has.
 */
async function onSmallDisk(size: string, script: string): Promise<Scenario> {
  const file = join(box.dir, 'scenario.sh');
  writeFileSync(
    file,
    `set -u\nexec 9<&0 </dev/null\nHUTCH="${process.execPath} ${HUTCH}"
listing() { echo "@listing $1 $$"; read -r -u 9 _; }\n${script}\n`,
  );
  const inner = `exec unshare --map-user=${process.getuid!()} --map-group=${process.getgid!()} bash ${file}`;
  const child = execa(
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
    { env: { R: box.root, HUTCH_DEBUG: '' }, reject: false, cwd: REPO, stdin: 'pipe' },
  );
  const listings = new Map<string, string[]>();
  let pending = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    pending += chunk;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const asked = /^@listing (\S+) (\d+)$/.exec(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
      if (asked === null) continue;
      listings.set(asked[1]!, storeListing(`/proc/${asked[2]}/root${box.root}`));
      child.stdin.write('\n');
    }
  });
  const r = await child;
  expect(r.stderr, 'the scenario itself failed').toBe('');
  return { out: r.stdout.replace(/^@listing .*\n/gm, ''), listings };
}

/** Shell that prints the check's verdict. */
const CHECK = `echo "--- check"; $HUTCH system check --root "$R"; echo "check exit $?"`;
const CONSISTENT = '--- check\nok: the storage is consistent\ncheck exit 0';

/** Loads the two-layer test image (test/fixtures/image-archive.sh) into the small store. */
async function loadBase(): Promise<string> {
  const fx = join(box.dir, 'fx');
  await execa('bash', [join(REPO, 'test/fixtures/image-archive.sh'), fx]);
  return `$HUTCH load -q --root "$R" -i ${fx}/it.tar >/dev/null || echo "load failed"`;
}

/**
 * Issue 14: the blobs and layers fit, the index (images.json) does not. After `setup`, `command`
 * stops itself just before it writes the index (HUTCH_FAULT image-index:stop), the script fills
 * the disk, and the command goes on into a real ENOSPC. Its stderr is in $R/../cmd.err.
 */
async function fullAtIndex(setup: string, command: string): Promise<Scenario & { err: string }> {
  const scenario = await onSmallDisk(
    '20m',
    `${await loadBase()}
${setup}
listing before
HUTCH_FAULT=image-index:stop ${command} >/dev/null 2>"$R/../cmd.err" &
pid=$!
for i in $(seq 300); do grep -q '^State:.*T' /proc/$pid/status 2>/dev/null && break; sleep 0.1; done
dd if=/dev/zero of="$R/fill" bs=4k 2>/dev/null
kill -CONT $pid; wait $pid; echo "exit $?"
rm -f "$R/fill"
listing after
echo "--- images"; $HUTCH images --root "$R" | tail -n +2 | cut -d' ' -f1
${CHECK}`,
  );
  return { ...scenario, err: readFileSync(join(box.dir, 'cmd.err'), 'utf8') };
}

/** What fullAtIndex must end with: a clear error, the listing as before, the old index, a consistent store. */
function expectAsBefore(s: Scenario & { err: string }): void {
  expect(s.out).toContain('exit 125');
  expect(s.err).toMatch(/^hutch: cannot write the image index .*images\.json: the disk is full$/m);
  expect(s.listings.get('after')).toEqual(s.listings.get('before'));
  expect(s.out).toContain(`--- images\nlocalhost/itest\n${CONSISTENT}`);
}

describe('a full disk', () => {
  test('during a pull: a clear error, nothing stored, no staging left, the store consistent', async () => {
    const { out, listings } = await onSmallDisk(
      '4m',
      `listing before
$HUTCH pull -q --tls-verify=false --root "$R" ${registry.host}/big/img:1 2>"$R/../pull.err"; echo "pull exit $?"
listing after
${CHECK}`,
    );
    const err = readFileSync(join(box.dir, 'pull.err'), 'utf8');
    expect(out).toContain('pull exit 125');
    expect(err).toMatch(/^hutch: cannot (store blob|unpack layer) .*: the disk is full$/m);
    expect(listings.get('after')).toEqual(listings.get('before'));
    expect(out).toContain(CONSISTENT);
  });

  test('during copy-up: the container gets ENOSPC, the layers are unchanged, the store consistent', async () => {
    const { out } = await onSmallDisk(
      '10m',
      `${await loadBase()}
(cd "$R/data/layers" && find . -type f -exec sha256sum {} + | sort) > "$R/../layers.before"
$HUTCH run --rm --root "$R" ${MAPS} -u 0 --network none localhost/itest sh -c \\
  'dd if=/dev/zero of=/fill bs=64k 2>/dev/null; (echo x >> /etc/passwd) 2>/dev/null && echo appended || echo refused'
echo "run exit $?"
(cd "$R/data/layers" && find . -type f -exec sha256sum {} + | sort) > "$R/../layers.after"
${CHECK}`,
    );
    expect(out).toContain('refused\nrun exit 0');
    expect(readFileSync(join(box.dir, 'layers.after'), 'utf8')).toBe(
      readFileSync(join(box.dir, 'layers.before'), 'utf8'),
    );
    expect(out).toContain(CONSISTENT);
  });
});

describe('a full disk while the image index is written: the old index stays, what the command added goes', () => {
  test('pull', async () => {
    expectAsBefore(await fullAtIndex('', `$HUTCH pull -q --tls-verify=false --root "$R" ${registry.host}/big/img:1`));
  });

  test('load', async () => {
    expectAsBefore(await fullAtIndex('', `$HUTCH load -q --root "$R" -i ${small}`));
  });

  test('commit', async () => {
    const made = `$HUTCH create --name c1 --root "$R" ${MAPS} -u 0 --network none localhost/itest sh -c 'echo new > /new' >/dev/null
$HUTCH start --root "$R" c1 >/dev/null && $HUTCH wait --root "$R" c1 >/dev/null || echo "container failed"`;
    expectAsBefore(await fullAtIndex(made, `$HUTCH commit --root "$R" c1 localhost/committed`));
  }, 120_000);

  test('build', async () => {
    const ctx = join(box.dir, 'ctx');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'Containerfile'), 'FROM localhost/itest\nCOPY added.txt /added.txt\n');
    writeFileSync(join(ctx, 'added.txt'), 'added\n');
    expectAsBefore(await fullAtIndex('', `$HUTCH build --root "$R" -t localhost/built ${ctx}`));
  });
});
