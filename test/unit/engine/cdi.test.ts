import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { deviceEdits } from '../../../src/engine/spec/device-request.js';
import { ldconfigLibraries } from '../../../src/engine/spec/gpus.js';

const root = mkdtempSync(join(tmpdir(), 'hutch-cdi-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A fresh spec folder holding the given specs, as vendor.json files (or .yaml ones). */
function specDir(...specs: unknown[]): string {
  return specDirOf('json', specs);
}

function specDirOf(ext: 'json' | 'yaml', specs: unknown[]): string {
  const dir = join(root, `d${n++}`);
  mkdirSync(dir);
  specs.forEach((spec, i) =>
    writeFileSync(join(dir, `v${i}.${ext}`), typeof spec === 'string' ? spec : JSON.stringify(spec)),
  );
  return dir;
}

const fake = {
  cdiVersion: '0.6.0',
  kind: 'example.com/gpu',
  containerEdits: {
    env: ['FAKE_DRIVER=1'],
    mounts: [{ hostPath: '/etc', containerPath: '/opt/etc', options: ['ro'] }],
  },
  devices: [
    { name: '0', containerEdits: { deviceNodes: [{ path: '/dev/fakegpu0', hostPath: '/dev/zero' }], env: ['GPU=0'] } },
    { name: '1', containerEdits: { deviceNodes: [{ path: '/dev/null', permissions: 'rw' }] } },
  ],
};

const thrown = (f: () => unknown): { code?: string; message?: string } => {
  try {
    f();
    return {};
  } catch (error) {
    return error as { code?: string; message?: string };
  }
};
const codeOf = (f: () => unknown): string | undefined => thrown(f).code;
const messageOf = (f: () => unknown): string | undefined => thrown(f).message;

it('resolves a CDI device: its own edits and its spec edits, device nodes bound like --device', () => {
  const edits = deviceEdits({ devices: ['example.com/gpu=0'], cdiSpecDirs: [specDir(fake)] });
  expect(edits.env).toEqual(['FAKE_DRIVER=1', 'GPU=0']);
  expect(edits.mounts).toEqual([
    { destination: '/opt/etc', type: 'bind', source: '/etc', options: ['rbind', 'nosuid', 'ro'] },
    { destination: '/dev/fakegpu0', type: 'bind', source: '/dev/zero', options: ['bind', 'nosuid', 'noexec'] },
  ]);
});

it('=all takes every device of the kind; host paths and CDI names mix; the spec edits come once', () => {
  const edits = deviceEdits({ devices: ['/dev/full', 'example.com/gpu=all'], cdiSpecDirs: [specDir(fake)] });
  expect(edits.env).toEqual(['FAKE_DRIVER=1', 'GPU=0']);
  expect(edits.mounts.map((m) => m.destination)).toEqual(['/dev/full', '/opt/etc', '/dev/fakegpu0', '/dev/null']);
});

it('a later folder overrides an earlier one; --device paths need no spec at all', () => {
  const later = { ...fake, containerEdits: undefined, devices: [{ name: '0', containerEdits: { env: ['LATER=1'] } }] };
  const edits = deviceEdits({ devices: ['example.com/gpu=0'], cdiSpecDirs: [specDir(fake), specDir(later)] });
  expect(edits.env).toEqual(['LATER=1']);
  expect(deviceEdits({ devices: ['/dev/zero'], cdiSpecDirs: [join(root, 'absent')] }).mounts).toHaveLength(1);
});

it('an unknown device names the known ones', () => {
  const dir = specDir(fake);
  expect(() => deviceEdits({ devices: ['example.com/gpu=7'], cdiSpecDirs: [dir] })).toThrow(
    'no CDI spec names it (known: example.com/gpu=0, example.com/gpu=1)',
  );
  expect(codeOf(() => deviceEdits({ devices: ['other.com/x=all'], cdiSpecDirs: [dir] }))).toBe('CDI_DEVICE_UNKNOWN');
});

it('a bad spec is refused naming its file, a bad hook too', () => {
  const cases: [unknown, string][] = [
    ['{not json', 'not JSON'],
    [{ ...fake, cdiVersion: '9.9.9' }, 'cdiVersion "9.9.9"'],
    [{ ...fake, kind: 'nokind' }, 'kind "nokind"'],
    [{ ...fake, devices: [] }, 'devices must be a non-empty list'],
    [{ ...fake, devices: [{ name: '0', containerEdits: { intelRdt: {} } }] }, 'intelRdt: hutch does not apply'],
    [
      { ...fake, devices: [{ name: '0', containerEdits: { mounts: [{ hostPath: 'rel', containerPath: '/x' }] } }] },
      'hostPath must be an absolute path',
    ],
    [{ ...fake, devices: [{ name: '0', containerEdits: { env: ['NOEQUALS'] } }] }, 'KEY=VALUE'],
    [{ ...fake, containerEdits: { hooks: [{ hookName: 'later', path: '/bin/true' }] } }, 'hookName "later"'],
    [{ ...fake, containerEdits: { hooks: [{ hookName: 'poststop', path: 'true' }] } }, 'path must be an absolute'],
    [{ ...fake, containerEdits: { hooks: [{ hookName: 'poststop', path: '/x', args: [1] }] } }, 'args must be strings'],
    [{ ...fake, containerEdits: { hooks: [{ hookName: 'poststop', path: '/x', timeout: 0 }] } }, 'timeout must be'],
  ];
  for (const [spec, why] of cases) {
    const dir = specDir(spec);
    const message = messageOf(() => deviceEdits({ devices: ['example.com/gpu=0'], cdiSpecDirs: [dir] }));
    expect(message).toMatch(new RegExp(`^invalid CDI spec ${join(dir, 'v0.json')}: `));
    expect(message).toContain(why);
  }
});

it("a spec's hooks become the OCI spec's, by kind, in order, once per spec", () => {
  const hook = (hookName: string, path: string): object => ({ hookName, path, args: [path, hookName] });
  const hooked = {
    ...fake,
    containerEdits: { hooks: [hook('createContainer', '/a'), hook('poststop', '/b')] },
    devices: fake.devices.map((d) => ({ ...d, containerEdits: { hooks: [hook('createContainer', `/d${d.name}`)] } })),
  };
  const edits = deviceEdits({ devices: ['example.com/gpu=all'], cdiSpecDirs: [specDir(hooked)] });
  expect(edits.hooks).toEqual({
    createContainer: [
      { path: '/a', args: ['/a', 'createContainer'] },
      { path: '/d0', args: ['/d0', 'createContainer'] },
      { path: '/d1', args: ['/d1', 'createContainer'] },
    ],
    poststop: [{ path: '/b', args: ['/b', 'poststop'] }],
  });
  expect(deviceEdits({ devices: ['example.com/gpu=0'], cdiSpecDirs: [specDir(fake)] }).hooks).toBeUndefined();
});

// As nvidia-ctk cdi generate writes it (its default format), abridged.
const NVIDIA_YAML = `---
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
      hostPath: /dev/zero
containerEdits:
  env:
  - NVIDIA_VISIBLE_DEVICES=void
  hooks:
  - hookName: createContainer
    path: /usr/bin/nvidia-cdi-hook
    args:
    - nvidia-cdi-hook
    - update-ldcache
    - --folder
    - /usr/lib/x86_64-linux-gnu
  mounts:
  - hostPath: /etc
    containerPath: /opt/etc
    options:
    - ro
    - nosuid
    - nodev
    - bind
`;

it('reads *.yaml specs as nvidia-ctk writes them, with the checks of JSON', () => {
  const edits = deviceEdits({ devices: ['nvidia.com/gpu=0'], cdiSpecDirs: [specDirOf('yaml', [NVIDIA_YAML])] });
  expect(edits.env).toEqual(['NVIDIA_VISIBLE_DEVICES=void']);
  expect(edits.mounts.map((m) => [m.source, m.destination])).toEqual([
    ['/etc', '/opt/etc'],
    ['/dev/zero', '/dev/nvidia0'],
  ]);
  expect(edits.hooks?.createContainer?.[0]?.args?.[1]).toBe('update-ldcache');
  const bad: [string, string][] = [
    ['kind: a.com/b\nkind: c.com/d\n', 'not YAML: Map keys must be unique'],
    ['cdiVersion: 0.5.0\n---\nkind: a.com/b\n', 'not YAML: Source contains multiple documents'],
    ['devices: [\n', 'not YAML'],
    [NVIDIA_YAML.replace('name: "0"', 'name: 0'), 'devices[0].name 0 is not a device name'],
    [NVIDIA_YAML.replace('cdiVersion: 0.5.0', 'cdiVersion: 0.5'), 'cdiVersion 0.5 is not one hutch knows'],
  ];
  for (const [text, why] of bad) {
    const dir = specDirOf('yaml', [text]);
    const message = messageOf(() => deviceEdits({ devices: ['nvidia.com/gpu=0'], cdiSpecDirs: [dir] }));
    expect(message).toContain(`invalid CDI spec ${join(dir, 'v0.yaml')}: ${why}`);
  }
});

it('--gpus all, N and device=A,B take the nvidia.com/gpu spec; anything else is refused', () => {
  const nvidia = {
    ...fake,
    kind: 'nvidia.com/gpu',
    devices: ['0', '1', '10', '2', 'GPU-abc'].map((name) => ({ name, containerEdits: { env: [`GPU=${name}`] } })),
  };
  const dir = specDir(nvidia);
  const gpus = (value: string): string[] => deviceEdits({ gpus: value, cdiSpecDirs: [dir] }).env.slice(1);
  expect(gpus('all')).toEqual(['GPU=0', 'GPU=1', 'GPU=10', 'GPU=2', 'GPU=GPU-abc']);
  expect(gpus('3')).toEqual(['GPU=0', 'GPU=1', 'GPU=2']);
  expect(gpus('count=1')).toEqual(['GPU=0']);
  expect(gpus('device=2,GPU-abc')).toEqual(['GPU=2', 'GPU=GPU-abc']);
  expect(gpus('"device=1"')).toEqual(['GPU=1']);
  expect(messageOf(() => gpus('5'))).toContain('the nvidia.com/gpu CDI spec has 4 GPUs by index (0, 1, 2, 10)');
  expect(codeOf(() => gpus('device=7'))).toBe('CDI_DEVICE_UNKNOWN');
  for (const bad of ['0', 'all,capabilities=utility', 'driver=nvidia', 'device=', 'some'])
    expect([bad, codeOf(() => gpus(bad))]).toEqual([bad, 'GPUS_INVALID']);
  const other = specDir(fake);
  expect(messageOf(() => deviceEdits({ gpus: '2', cdiSpecDirs: [other] }))).toContain(
    'cannot add --gpus 2: picking GPUs needs the nvidia.com/gpu CDI spec',
  );
});

it("finds the driver's libraries in ldconfig -p's listing", () => {
  const listing = [
    "1234 libs found in cache `/etc/ld.so.cache'",
    '\tlibnvidia-ml.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1',
    '\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1',
    '\tlibcuda.so (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1',
    '\tlibc.so.6 (libc6,x86-64, OS ABI: Linux 3.2.0) => /lib/x86_64-linux-gnu/libc.so.6',
  ].join('\n');
  expect(ldconfigLibraries(listing)).toEqual([
    '/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1',
    '/usr/lib/x86_64-linux-gnu/libcuda.so.1',
  ]);
});
