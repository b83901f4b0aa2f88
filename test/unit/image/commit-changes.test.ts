import { describe, expect, it } from 'vitest';
import { applyChange } from '../../../src/engine/commit/changes.js';

describe('applyChange (--change)', () => {
  it('reads the exec and shell forms of CMD and ENTRYPOINT', () => {
    expect(applyChange({}, 'CMD ["a", "b c"]').Cmd).toEqual(['a', 'b c']);
    expect(applyChange({}, 'cmd echo hi').Cmd).toEqual(['/bin/sh', '-c', 'echo hi']);
    expect(applyChange({}, 'ENTRYPOINT [not json').Entrypoint).toEqual(['/bin/sh', '-c', '[not json']);
    expect(() => applyChange({}, 'CMD [1, 2]')).toThrow('the exec form must be a JSON array of strings');
  });

  it('sets ENV and LABEL pairs (quoted values, the old KEY VALUE form), replacing a key', () => {
    const env = applyChange({ Env: ['A=1', 'PATH=/bin'] }, 'ENV A=2 B="two words" C=\'x y\'').Env;
    expect(env).toEqual(['A=2', 'PATH=/bin', 'B=two words', 'C=x y']);
    expect(applyChange({}, 'ENV K some value').Env).toEqual(['K=some value']);
    expect(applyChange({ Labels: { a: '1' } }, 'LABEL b=2').Labels).toEqual({ a: '1', b: '2' });
  });

  it('sets WORKDIR, USER and EXPOSE (tcp by default)', () => {
    const c = applyChange(applyChange(applyChange({}, 'WORKDIR /w'), 'USER 1000:1000'), 'EXPOSE 80 53/udp');
    expect(c).toEqual({ WorkingDir: '/w', User: '1000:1000', ExposedPorts: { '80/tcp': {}, '53/udp': {} } });
  });

  it('names what it refuses', () => {
    expect(() => applyChange({}, 'RUN x')).toThrow('invalid --change "RUN x": RUN is not an instruction it accepts');
    expect(() => applyChange({}, 'ENV')).toThrow('ENV needs an argument');
    expect(() => applyChange({}, 'ENV A=1 =bad')).toThrow('cannot read =bad as KEY=VALUE');
  });
});
