import { describe, expect, it } from 'vitest';
import { nameValues, operandNames, shortUsage, wantsColor } from '../../../src/cli/help.js';
import { editDistance } from '../../../src/cli/syntax-error.js';

describe('help rendering', () => {
  it('names option values by the long option, VALUE when unknown', () => {
    expect(nameValues('-m,--memory #0')).toBe('-m,--memory BYTES');
    expect(nameValues('--network,--net #0')).toBe('--network,--net MODE');
    expect(nameValues('--frobnicate #0')).toBe('--frobnicate VALUE');
    expect(nameValues('-d,--detach')).toBe('-d,--detach');
  });

  it("writes operands in docker's style", () => {
    expect(operandNames('<containers> ...')).toBe('CONTAINER...');
    expect(operandNames('<file> [name]')).toBe('FILE [NAME]');
    expect(operandNames('<id> ...')).toBe('ID...');
    expect(operandNames('...')).toBe('[ARG...]');
    expect(shortUsage('hutch ps', { paths: [['ps']] } as never, true)).toBe('hutch ps [OPTIONS]');
    expect(shortUsage('hutch run <arg> ...', { paths: [['run']], operands: 'IMAGE' } as never, true)).toBe(
      'hutch run [OPTIONS] IMAGE',
    );
  });

  it('colours only a terminal without NO_COLOR', () => {
    expect(wantsColor({ isTTY: true }, {})).toBe(true);
    expect(wantsColor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(wantsColor({ isTTY: false }, {})).toBe(false);
    expect(wantsColor({}, {})).toBe(false);
  });

  it('counts a swap of neighbours as one edit', () => {
    expect(editDistance('rnu', 'run')).toBe(1);
    expect(editDistance('frobnicate', 'run')).toBeGreaterThan(2);
    expect(editDistance('imgaes', 'images')).toBe(1);
  });
});
