// The union of an image run in C (native/run-front-union.c) for a user whose /etc/subuid ranges
// overlap (runs as `hutchoverlap`): merged as subid.ts mergeRanges merges them, so the place (its
// maps' key), the holder's plan and the mount are the TypeScript path's.
import { readdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useImageSandbox } from '../helpers/frames.js';
import { requires } from '../helpers/host.js';
import { hutch, REPO, type Sandbox } from '../helpers/hutch-cli.js';
import { inHolder, useUnionFront, usernsPlan } from '../helpers/union-front.js';

const me = userInfo();
const IMAGE = 'localhost/itest';

// npm test runs this file as the user with overlapping ranges (HUTCH_TEST_OVERLAP_USER); others skip it.
describe.skipIf(me.username !== process.env.HUTCH_TEST_OVERLAP_USER)('the union in C with overlapping ranges', () => {
  let box: Sandbox;
  useImageSandbox((b) => (box = b));
  const { fsd, daemons, unionFront, planInC, mounted } = useUnionFront(() => box, IMAGE);

  it('shares the daemon of a TypeScript run, its holder’s plan and maps the TypeScript path’s', async () => {
    requires('fuse', 'subuid', 'newuidmap', 'busybox');
    const place = await unionFront(['place']);
    expect(place.stderr).toBe('');
    const started = await hutch(['run', '-d', '--root', box.root, '--network', 'none', IMAGE, 'sleep', '1000']);
    expect(started.stderr).toBe('');
    expect(`${fsd()}/${readdirSync(fsd()).find((n) => /^[0-9a-f]{16}$/.test(n))}`).toBe(place.stdout.trim());
    const [daemon] = daemons();
    const m = await mounted('c');
    expect(daemons()).toEqual([daemon]);
    expect(inHolder(m.holder, `ls ${m.dir}/merged/bin/busybox`)).toContain('busybox');
    await m.stop();
    expect((await hutch(['rm', '-f', '--root', box.root, started.stdout.trim()])).stderr).toBe('');
    const holder = join(REPO, 'native', 'hutch-fs-holder');
    expect(await planInC(['holder-plan', '-'])).toEqual(
      usernsPlan({ args: [holder, '-'], env: [] }, { onItsOwn: true }),
    );
  });
});
