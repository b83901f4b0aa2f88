import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../../src/runtime/validate.js';

const good = () => ({
  ociVersion: '1.2.0',
  process: { user: { uid: 0, gid: 0 }, args: ['sh'], cwd: '/' },
  root: { path: 'rootfs' },
  linux: {
    namespaces: [{ type: 'user' }, { type: 'mount' }],
    uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
  },
});

describe('parseSpec', () => {
  it('accepts a valid config', () => {
    expect(parseSpec(JSON.stringify(good())).root?.path).toBe('rootfs');
    for (const v of ['1.0.0', '1.0.2-dev', '1.1.0+dev', '1.2.1'])
      expect(parseSpec(JSON.stringify({ ...good(), ociVersion: v })).ociVersion).toBe(v);
  });

  it.each([
    ['root', (c: any) => delete c.root, 'invalid config.json: root: missing: a container needs a root filesystem'],
    [
      'namespace type',
      (c: any) => c.linux.namespaces.push({ type: 'bogus' }),
      'linux.namespaces[2].type: unknown namespace type bogus',
    ],
    [
      'duplicate namespace',
      (c: any) => c.linux.namespaces.push({ type: 'user' }),
      'linux.namespaces[2].type: namespace type user given twice',
    ],
    ['mapping', (c: any) => (c.linux.uidMappings[0].size = 0), 'linux.uidMappings[0].size: must be at least 1'],
    ['mapping id', (c: any) => (c.linux.uidMappings[0].hostID = 'x'), 'linux.uidMappings[0].hostID: "x" is not an id'],
    [
      'mappings without userns',
      (c: any) => (c.linux.namespaces = []),
      'linux.uidMappings: id mappings need a user namespace',
    ],
    ['args', (c: any) => (c.process.args = []), 'process.args: empty'],
    [
      'hook path',
      (c: any) => (c.hooks = { poststop: [{ path: 'x' }] }),
      'hooks.poststop[0].path: x is not an absolute path',
    ],
    ['hook kind', (c: any) => (c.hooks = { later: [] }), 'hooks.later: unknown hook kind'],
    ['mount', (c: any) => (c.mounts = [{ destination: 'tmp' }]), 'mounts[0].destination: tmp is not an absolute path'],
    ['version', (c: any) => (c.ociVersion = 'invalid'), 'ociVersion: unsupported version "invalid"'],
    ['future version', (c: any) => (c.ociVersion = '2.0.0'), 'ociVersion: unsupported version "2.0.0"'],
  ])('names the field of a bad %s', (_what, change, message) => {
    const c = good();
    change(c);
    expect(() => parseSpec(JSON.stringify(c))).toThrow(message);
  });

  it('refuses what is not JSON', () => {
    expect(() => parseSpec('{', 'b/config.json')).toThrow(/^invalid b\/config.json: not valid JSON/);
  });
});
