import { describe, expect, it } from 'vitest';
import { reorderRuntimeArgv } from '../../../src/cli/runtime/argv.js';
import { parseRestart } from '../../../src/engine/container/create.js';
import { parseSignal } from '../../../src/engine/launch/signals.js';

describe('runc-style argv', () => {
  it('moves the global flags after the verb', () => {
    expect(reorderRuntimeArgv(['--root', '/r', '--log=/l', '--log-format', 'json', '--systemd-cgroup', 'create', '--bundle', 'b', 'id'])).toEqual(['create', '--root=/r', '--log=/l', '--log-format=json', '--systemd-cgroup', '--bundle', 'b', 'id']);
    expect(reorderRuntimeArgv(['state', 'id'])).toEqual(['state', 'id']);
  });
});

describe('flags of the lifecycle', () => {
  it('parses --restart and signals', () => {
    expect(parseRestart('on-failure:3')).toEqual({ name: 'on-failure', max: 3 });
    expect(parseRestart('always')).toEqual({ name: 'always' });
    expect(() => parseRestart('sometimes')).toThrow('invalid --restart sometimes');
    expect([parseSignal('term'), parseSignal('SIGHUP'), parseSignal('9')]).toEqual(['SIGTERM', 'SIGHUP', 'SIGKILL']);
    expect(() => parseSignal('NOPE')).toThrow('invalid signal NOPE');
  });
});
