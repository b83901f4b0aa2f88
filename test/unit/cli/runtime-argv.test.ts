import { describe, expect, it } from 'vitest';
import { earlyRuntimeAnswer, reorderRuntimeArgv } from '../../../src/cli/runtime/argv.js';
import { parseRestart } from '../../../src/engine/container/create.js';
import { parseSignal, parseSignalNumber } from '../../../src/engine/launch/signals.js';

describe('runc-style argv', () => {
  it('moves the global flags after the verb', () => {
    expect(
      reorderRuntimeArgv([
        '--root',
        '/r',
        '--log=/l',
        '--log-format',
        'json',
        '--systemd-cgroup',
        'create',
        '--bundle',
        'b',
        'id',
      ]),
    ).toEqual(['create', '--root=/r', '--log=/l', '--log-format=json', '--systemd-cgroup', '--bundle', 'b', 'id']);
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

describe('earlyRuntimeAnswer', () => {
  it('prints runc-shaped version lines, after global flags too', () => {
    const a = earlyRuntimeAnswer(['--root', '/r', '--version'], '9.9.9')!;
    expect(a.code).toBe(0);
    expect(a.stdout.split('\n')).toEqual(['hutch-runtime version 9.9.9', 'commit: hutch-9.9.9', 'spec: 1.2.0', '']);
    expect(earlyRuntimeAnswer(['-v'], '1')!.code).toBe(0);
  });
  it('answers an unknown global flag as a usage error with exit status 1; leaves verbs alone', () => {
    const a = earlyRuntimeAnswer(['--debug', '--nosuch=3', 'list'], '1')!;
    expect(a).toMatchObject({ code: 1, stdout: '' });
    expect(a.stderr).toContain('flag provided but not defined: --nosuch');
    expect(earlyRuntimeAnswer(['--root', '/r', 'list'], '1')).toBeUndefined();
    expect(earlyRuntimeAnswer(['create', '--nosuch'], '1')).toBeUndefined();
    expect(earlyRuntimeAnswer(['--help'], '1')).toBeUndefined();
  });
});

describe('signals of runtime kill', () => {
  it('takes the real-time signals by number and name, as runc', () => {
    expect(['64', 'RTMAX', 'SIGRTMIN', 'rtmin+2', 'RTMAX-1', 'KILL', '15'].map(parseSignalNumber)).toEqual([
      64, 64, 34, 36, 63, 9, 15,
    ]);
    expect(() => parseSignalNumber('65')).toThrow('invalid signal 65');
    expect(() => parseSignalNumber('RTMAX+1')).toThrow('invalid signal');
  });
});
