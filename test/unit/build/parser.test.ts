// The Containerfile reader, variable expansion and .dockerignore matching of hutch build.
import { describe, expect, it } from 'vitest';
import { ignoreMatcher } from '../../../src/build/context.js';
import { parseContainerfile } from '../../../src/build/parser.js';
import { expand, splitWords } from '../../../src/build/words.js';

describe('parseContainerfile', () => {
  it('joins continuations, drops comments, splits stages and flags', () => {
    const file = parseContainerfile(
      [
        'ARG V=1',
        'from busybox AS Build',
        '# a comment',
        'RUN echo a && \\',
        '  # a comment inside',
        '  echo b',
        '',
        'FROM scratch',
        'COPY --from=build --chown=1:2 /a /b',
      ].join('\n'),
      'Containerfile',
    );
    expect(file.globalArgs.map((a) => a.args)).toEqual(['V=1']);
    expect(file.stages.map((s) => s.name)).toEqual(['build', undefined]);
    expect(file.stages[0]!.steps[0]).toMatchObject({ name: 'RUN', args: 'echo a && echo b', where: 'Containerfile:4' });
    expect(file.stages[1]!.steps[0]).toMatchObject({ flags: { from: 'build', chown: '1:2' }, args: '/a /b' });
  });

  it('names FILE:LINE of an unknown instruction', () => {
    expect(() => parseContainerfile('FROM scratch\n\nRUN \\\n true\nFROBNICATE x\n', 'F')).toThrow(
      expect.objectContaining({ code: 'BUILD_UNKNOWN_INSTRUCTION', message: 'unknown instruction FROBNICATE at F:5' }),
    );
    expect(() => parseContainerfile('RUN true\n', 'F')).toThrow(
      expect.objectContaining({ code: 'BUILD_INSTRUCTION_INVALID' }),
    );
    expect(() => parseContainerfile('# nothing\n', 'F')).toThrow(expect.objectContaining({ code: 'BUILD_NO_FROM' }));
  });
});

describe('expand', () => {
  const vars = new Map([
    ['A', 'x'],
    ['E', ''],
  ]);
  it('expands $V, ${V}, defaults and alternatives; not in single quotes nor escaped', () => {
    expect(expand('$A ${A}/b ${E:-d} ${A:+alt} ${U:-u} $U.', vars)).toBe('x x/b d alt u .');
    expect(expand("'$A' \\$A", vars)).toBe("'$A' \\$A");
    expect(splitWords(expand('"a $A" \'b c\' \\$A', vars))).toEqual(['a x', 'b c', '$A']);
  });
});

describe('.dockerignore', () => {
  it('matches at the root, ** at any depth, directories with their contents, ! re-includes', () => {
    const ignored = ignoreMatcher('# c\n*.key\n**/*.tmp\nbuild\n!build/keep\n');
    expect(['a.key', 'd/a.key', 'x.tmp', 'd/e/x.tmp', 'build/out', 'build/keep', 'src/a'].filter(ignored)).toEqual([
      'a.key',
      'x.tmp',
      'd/e/x.tmp',
      'build/out',
    ]);
  });
});
