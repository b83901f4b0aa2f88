// CDI devices through `hutch run`, as hutchtest: a spec folder the test writes (a fake GPU that is
// /dev/zero, an env var and a bind mount), --gpus all through it, and the errors a user meets.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { requires } from '../helpers/host.js';
import { containerTest } from '../helpers/container-test.js';

const t = containerTest();

/** A CDI spec folder with one spec of `kind`: device 0 is /dev/zero at /dev/fakegpu0. */
function specDir(name: string, kind: string, extra: object = {}): string {
  const dir = join(t.box.dir, name);
  const driver = join(t.box.dir, `${name}-driver`);
  mkdirSync(dir, { recursive: true });
  mkdirSync(driver, { recursive: true });
  writeFileSync(join(driver, 'version'), 'fake 1.0\n');
  const spec = {
    cdiVersion: '0.6.0',
    kind,
    containerEdits: {
      env: ['FAKE_DRIVER=1.0'],
      mounts: [{ hostPath: driver, containerPath: '/opt/driver', options: ['ro'] }],
    },
    devices: [{ name: '0', containerEdits: { deviceNodes: [{ path: '/dev/fakegpu0', hostPath: '/dev/zero' }] } }],
    ...extra,
  };
  writeFileSync(join(dir, 'fake.json'), JSON.stringify(spec));
  return dir;
}

const SCRIPT = 'head -c 4 /dev/fakegpu0 | wc -c; echo $FAKE_DRIVER; cat /opt/driver/version; id -u';

beforeAll(() => requires('userns', 'busybox'));

it('--device vendor.com/class=name applies the CDI spec: device node, env and mount', async () => {
  const dir = specDir('cdi', 'example.com/gpu');
  for (const device of ['example.com/gpu=0', 'example.com/gpu=all']) {
    const r = await t.sh(SCRIPT, ['--network', 'none', '--cdi-spec-dir', dir, '--device', device]);
    expect([r.stderr, ...String(r.stdout).split('\n')]).toEqual(['', '4', '1.0', 'fake 1.0', '0']);
  }
});

it('--gpus all takes the nvidia.com/gpu CDI spec', async () => {
  const dir = specDir('nvidia', 'nvidia.com/gpu');
  const r = await t.sh(SCRIPT, ['--network', 'none', '--cdi-spec-dir', dir, '--gpus', 'all']);
  expect([r.stderr, ...String(r.stdout).split('\n')]).toEqual(['', '4', '1.0', 'fake 1.0', '0']);
});

it('an unknown CDI device, a bad spec and no GPU are errors naming what is wrong', async () => {
  const dir = specDir('known', 'example.com/gpu');
  const unknown = await t.sh('true', ['--network', 'none', '--cdi-spec-dir', dir, '--device', 'example.com/gpu=9']);
  expect([unknown.exitCode, unknown.stderr]).toEqual([125, expect.stringContaining('known: example.com/gpu=0')]);
  const bad = specDir('bad', 'example.com/gpu', { cdiVersion: '42' });
  const invalid = await t.sh('true', ['--network', 'none', '--cdi-spec-dir', bad, '--device', 'example.com/gpu=0']);
  expect([invalid.exitCode, invalid.stderr]).toEqual([
    125,
    expect.stringContaining(`invalid CDI spec ${bad}/fake.json`),
  ]);
  const none = await t.sh('true', ['--network', 'none', '--cdi-spec-dir', dir, '--gpus', 'all']);
  expect([none.exitCode, none.stderr]).toEqual([
    125,
    expect.stringContaining('cannot add --gpus all: no nvidia.com/gpu CDI spec'),
  ]);
});
