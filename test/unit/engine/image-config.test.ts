import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HutchError } from '../../../src/errors.js';
import { applyImageConfig, exposedPorts } from '../../../src/engine/spec/image-config.js';
import type { ImageConfig } from '../../../src/image/manifest.js';

const dir = mkdtempSync(join(tmpdir(), 'hutch-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const base: { command: string[]; env: string[]; volumes: string[]; rootfs: string; workdir?: string; user?: string } = {
  command: [],
  env: [],
  volumes: [],
  rootfs: '',
};
const config = (c: ImageConfig['config']): ImageConfig => ({ config: c, rootfs: { type: 'layers', diff_ids: [] } });

describe("applyImageConfig (docker's rules)", () => {
  it('runs Entrypoint with Cmd, or with the given arguments', () => {
    const image = config({ Entrypoint: ['/init'], Cmd: ['serve'] });
    expect(applyImageConfig(base, image, dir).command).toEqual(['/init', 'serve']);
    expect(applyImageConfig({ ...base, command: ['debug', '-v'] }, image, dir).command).toEqual([
      '/init',
      'debug',
      '-v',
    ]);
  });

  it('--entrypoint replaces Entrypoint and drops Cmd; "" clears it', () => {
    const image = config({ Entrypoint: ['/init'], Cmd: ['serve'] });
    expect(applyImageConfig({ ...base, entrypoint: '/bin/sh' }, image, dir).command).toEqual(['/bin/sh']);
    expect(applyImageConfig({ ...base, entrypoint: '', command: ['ls'] }, image, dir).command).toEqual(['ls']);
  });

  it('puts the image Env first (flags win) and takes WorkingDir and User as defaults', () => {
    const image = config({ Cmd: ['sh'], Env: ['PATH=/bin', 'A=image'], WorkingDir: '/srv', User: 'app' });
    const r = applyImageConfig({ ...base, env: ['A=flag'] }, image, dir);
    expect(r.env).toEqual(['PATH=/bin', 'A=image', 'A=flag']);
    expect([r.workdir, r.user]).toEqual(['/srv', 'app']);
    expect(applyImageConfig({ ...base, workdir: '/tmp', user: '0' }, image, dir)).toMatchObject({
      workdir: '/tmp',
      user: '0',
    });
  });

  it("puts --env-file's entries over the image Env and under -e (docker's order), read once", () => {
    const file = join(dir, 'env');
    writeFileSync(file, '# comment\nA=file\nB=file\n');
    const image = config({ Cmd: ['sh'], Env: ['A=image', 'C=image'] });
    const r = applyImageConfig({ ...base, env: ['B=flag'], envFiles: [file] }, image, dir);
    expect(r.env).toEqual(['A=image', 'C=image', 'A=file', 'B=file', 'B=flag']);
    expect(r.envFiles).toEqual([]); // the blueprint does not read them again
  });

  it('gives each declared Volume an empty directory of its own', () => {
    const r = applyImageConfig(base, config({ Cmd: ['sh'], Volumes: { '/data': {}, '/logs': {} } }), dir);
    expect(r.volumes).toEqual([`${dir}/0:/data:rw`, `${dir}/1:/logs:rw`]);
    expect(statSync(join(dir, '1')).isDirectory()).toBe(true);
  });

  it('refuses an image with nothing to run', () => {
    expect(() => applyImageConfig(base, config({}), dir)).toThrow(HutchError);
  });

  it('lists ExposedPorts for -P', () => {
    expect(exposedPorts(config({ ExposedPorts: { '80/tcp': {}, '53/udp': {} } }))).toEqual(['80/tcp', '53/udp']);
  });
});
