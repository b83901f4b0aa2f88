import { expect, test } from 'vitest';
import { processSpec } from '../../../src/image/run-config.js';
import type { ImageConfig } from '../../../src/image/manifest.js';

const image: ImageConfig = {
  rootfs: { type: 'layers', diff_ids: [] },
  config: {
    Entrypoint: ['/entry.sh'],
    Cmd: ['serve', '--port', '80'],
    Env: ['PATH=/opt/bin:/bin', 'MODE=prod'],
    WorkingDir: '/app',
    User: 'app',
    Volumes: { '/data': {} },
    ExposedPorts: { '80/tcp': {} },
    StopSignal: 'SIGQUIT',
  },
};

test('the image config alone', () => {
  expect(processSpec(image, {}, {})).toEqual({
    args: ['/entry.sh', 'serve', '--port', '80'],
    env: ['PATH=/opt/bin:/bin', 'MODE=prod'],
    cwd: '/app',
    user: 'app',
    volumes: ['/data'],
    exposedPorts: ['80/tcp'],
    stopSignal: 'SIGQUIT',
  });
});

test('a command replaces Cmd and keeps Entrypoint; --entrypoint drops Cmd', () => {
  expect(processSpec(image, { command: ['shell'] }, {}).args).toEqual(['/entry.sh', 'shell']);
  expect(processSpec(image, { entrypoint: ['/bin/sh'] }, {}).args).toEqual(['/bin/sh']);
  expect(processSpec(image, { entrypoint: [''], command: ['ls', '/'] }, {}).args).toEqual(['ls', '/']);
});

test('env, workdir and user overrides; PATH defaulted', () => {
  const spec = processSpec(
    image,
    { env: ['MODE=dev', 'HOME_DIR', 'MISSING'], workdir: '/tmp', user: '1000:1000' },
    { HOME_DIR: '/h' },
  );
  expect(spec.env).toEqual(['PATH=/opt/bin:/bin', 'MODE=dev', 'HOME_DIR=/h']);
  expect([spec.cwd, spec.user]).toEqual(['/tmp', '1000:1000']);
  expect(processSpec({ rootfs: image.rootfs, config: { Cmd: ['sh'] } }, {}, {}).env).toEqual([
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  ]);
});

test('no command anywhere is a usage error', () => {
  expect(() => processSpec({ rootfs: image.rootfs, config: {} }, {}, {})).toThrowError(
    expect.objectContaining({ code: 'RUN_NO_COMMAND' }),
  );
});
