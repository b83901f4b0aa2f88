// CDI devices through `hutch run`, `run -d` and `create`, as hutchtest: a spec folder the test
// writes (a fake GPU that is /dev/zero, an env var, a bind mount, hooks that are shell scripts on
// the host), --gpus through it, and the errors a user meets.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { requires } from '../helpers/host.js';
import { containerTest } from '../helpers/container-test.js';
import { hutch } from '../helpers/hutch-cli.js';

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

it('--gpus all, N and device=A take the nvidia.com/gpu CDI spec', async () => {
  const dir = specDir('nvidia', 'nvidia.com/gpu');
  for (const gpus of ['all', '1', 'device=0']) {
    const r = await t.sh(SCRIPT, ['--network', 'none', '--cdi-spec-dir', dir, '--gpus', gpus]);
    expect([r.stderr, ...String(r.stdout).split('\n')]).toEqual(['', '4', '1.0', 'fake 1.0', '0']);
  }
  const two = await t.sh('true', ['--network', 'none', '--cdi-spec-dir', dir, '--gpus', '2']);
  expect([two.exitCode, two.stderr]).toEqual([125, expect.stringContaining('has 1 GPU by index (0)')]);
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

/** A host hook script: logs `NAME STATUS` (its state's) to LOG, sets $bundle and $root, then BODY. */
function hookScript(name: string, log: string, body = ''): string {
  const file = join(t.box.dir, `${name}.sh`);
  const prologue = String.raw`#!/bin/sh
state=$(cat)
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
bundle=$(echo "$state" | field bundle)
root=$(sed -n 's/.*"root":{"path":"\([^"]*\)".*/\1/p' "$bundle/config.json")
echo "${name} $(echo "$state" | field status)" >> ${log}
`;
  writeFileSync(file, prologue + body + '\n');
  chmodSync(file, 0o755);
  return file;
}

/** A spec folder whose device 0 carries the given CDI hooks. */
function hookedSpecDir(name: string, hooks: object[]): string {
  return specDir(name, 'example.com/gpu', { devices: [{ name: '0', containerEdits: { env: ['GPU=0'], hooks } }] });
}

const cdiArgs = (dir: string): string[] => [
  '--network',
  'none',
  '--cdi-spec-dir',
  dir,
  '--device',
  'example.com/gpu=0',
];

it('runs CDI hooks at their steps: createContainer writes into the root through bundle/config.json', async () => {
  const log = join(t.box.dir, 'hooks.log');
  const dir = hookedSpecDir('hooked', [
    { hookName: 'createRuntime', path: hookScript('createRuntime', log) },
    { hookName: 'createContainer', path: hookScript('createContainer', log, 'echo made by a hook > "$root/hooked"') },
    { hookName: 'startContainer', path: '/bin/sh', args: ['sh', '-c', 'echo started inside > /started'] },
    { hookName: 'poststart', path: hookScript('poststart', log) },
    { hookName: 'poststop', path: hookScript('poststop', log) },
  ]);
  const r = await t.sh('cat /hooked /started; echo $GPU', cdiArgs(dir));
  expect([r.exitCode, r.stderr, r.stdout]).toEqual([0, '', 'made by a hook\nstarted inside\n0']);
  expect(readFileSync(log, 'utf8').split('\n')).toEqual([
    'createRuntime creating',
    'createContainer creating',
    'poststart running',
    'poststop stopped',
    '',
  ]);
});

it('a failing or missing CDI hook fails the run naming the hook and why, leaving nothing behind', async () => {
  const log = join(t.box.dir, 'hooks.log');
  const failing = hookScript('createContainer', log, 'echo no driver loaded >&2; exit 3');
  const r = await t.sh('echo ran', cdiArgs(hookedSpecDir('failing', [{ hookName: 'createContainer', path: failing }])));
  expect([r.exitCode, r.stdout]).toEqual([125, '']);
  expect(r.stderr).toContain('no driver loaded'); // the hook's own stderr
  expect(r.stderr).toContain(`createContainer hook ${failing} failed: exit status 3`);
  const absent = join(t.box.dir, 'absent');
  const m = await t.sh('echo ran', cdiArgs(hookedSpecDir('missing', [{ hookName: 'createRuntime', path: absent }])));
  expect([m.exitCode, m.stdout]).toEqual([125, '']);
  expect(m.stderr).toContain(`createRuntime hook ${absent} failed: ENOENT`);
});

it('run -d and create take --cdi-spec-dir and --device (a YAML spec, a hook) through the same blueprint', async () => {
  const dir = join(t.box.dir, 'yaml');
  mkdirSync(dir);
  const log = join(t.box.dir, 'hooks.log');
  const hook = hookScript('createContainer', log, 'echo hooked > "$root/hooked"');
  writeFileSync(
    join(dir, 'fake.yaml'),
    [
      'cdiVersion: 0.5.0',
      'kind: example.com/gpu',
      'devices:',
      '- name: "0"',
      '  containerEdits:',
      '    deviceNodes: [{ path: /dev/fakegpu0, hostPath: /dev/zero }]',
      'containerEdits:',
      '  env: [FAKE_DRIVER=yaml]',
      `  hooks: [{ hookName: createContainer, path: ${hook} }]`,
      '',
    ].join('\n'),
  );
  const h = (...args: string[]) => hutch([args[0]!, '--root', t.box.root, ...args.slice(1)]);
  const flags = ['--rootfs', t.rootfs, ...cdiArgs(dir).slice(0, -1), 'example.com/gpu=0'];
  const script = 'head -c 4 /dev/fakegpu0 | wc -c; echo $FAKE_DRIVER; cat /hooked';
  const detached = await h('run', '-d', '--name', 'd', ...flags, '--', 'sh', '-c', script);
  expect([detached.exitCode, detached.stderr]).toEqual([0, '']);
  const created = await h('create', '--name', 'c', ...flags, '--', 'sh', '-c', script);
  expect([created.exitCode, created.stderr]).toEqual([0, '']);
  expect((await h('start', 'c')).exitCode).toBe(0);
  for (const name of ['d', 'c']) {
    expect((await h('wait', name)).stdout).toBe('0');
    expect((await h('logs', name)).stdout).toBe('4\nyaml\nhooked');
    expect((await h('rm', name)).exitCode).toBe(0);
  }
  expect(readFileSync(log, 'utf8')).toBe('createContainer creating\n'.repeat(2));
});
