// The union of an image run in C (native/run-front-union.c) for a user without a /etc/subuid range
// (runs as `hutchnosub`): the user alone mapped, its maps written by the front after the clone (no
// tool, no holder on its own), one uid mapped (overrideonly), the place, the plans and the line the
// TypeScript path's (run-front-union.test.ts covers a user with ranges).
import { readdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { daemonArgs } from '../../fuse/mount.js';
import { encodeArgsLine } from '../../fuse/options.js';
import { useImageSandbox } from '../helpers/frames.js';
import { missing, requires } from '../helpers/host.js';
import { hutch, REPO, type Sandbox } from '../helpers/hutch-cli.js';
import { inHolder, useUnionFront, usernsPlan } from '../helpers/union-front.js';

const me = userInfo();
const IMAGE = 'localhost/itest';

// npm test runs this file as the user without a range (HUTCH_TEST_NOSUBID_USER); others skip it.
describe.skipIf(me.username !== process.env.HUTCH_TEST_NOSUBID_USER)('the union in C for the user alone', () => {
  let box: Sandbox;
  useImageSandbox((b) => (box = b));
  const { fsd, daemons, layers, unionFront, planInC, mounted } = useUnionFront(() => box, IMAGE);

  it('shares the daemon of a TypeScript run, mounts with the own ids alone, the plans and the line its', async () => {
    requires('fuse', 'busybox');
    if (missing('subuid') === undefined) throw new Error(`${me.username} has a /etc/subuid range`);
    const place = await unionFront(['place']); // the once-a-boot warning may come here
    const asRoot = ['--root', box.root, '--network', 'none', '-u', '0'];
    const started = await hutch(['run', '-d', ...asRoot, IMAGE, 'sleep', '1000']);
    expect(started.exitCode, started.stderr).toBe(0);
    expect(daemons()).toHaveLength(1);
    expect(`${fsd()}/${readdirSync(fsd()).find((n) => /^[0-9a-f]{16}$/.test(n))}`).toBe(place.stdout.trim());
    const m = await mounted('c', {}, 'mount-early');
    expect(m.early).toBe(m.holder);
    expect(daemons()).toHaveLength(1);
    expect(inHolder(m.holder, `cat /proc/self/uid_map /proc/self/gid_map; ls ${m.dir}/merged/bin/busybox`)).toMatch(
      new RegExp(`^\\s+0\\s+${me.uid}\\s+1\\n\\s+0\\s+${me.gid}\\s+1\\n.*busybox\\n$`),
    );
    await m.stop();
    expect((await hutch(['rm', '-f', '--root', box.root, started.stdout.trim()])).stderr).toBe('');

    const holder = join(REPO, 'native', 'hutch-fs-holder');
    expect(await planInC(['holder-plan', '-'])).toEqual(usernsPlan({ args: [holder, '-'], env: [] }, {}));
    const dir = join(box.dir, 'd');
    const spec = { upper: join(dir, 'upper'), work: join(dir, 'work'), mountpoint: join(dir, 'merged') };
    const lowers = layers();
    const line = await unionFront(['line', dir, ...lowers]);
    const pairs = lowers.flatMap((l, i) => (i % 2 === 0 ? [{ dir: l, indexFile: lowers[i + 1]! }] : []));
    expect(line.stdout).toBe(encodeArgsLine({ args: daemonArgs({ lowers: pairs, ...spec, uidMapped: true }) }));
  });
});
