// src/config/toml.ts blanks comment-only lines before smol-toml parses a file: the tables, and
// the errors with their lines, must be what the whole text gives.
import { parse, TomlError } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { withoutCommentLines } from '../../../src/config/toml.js';

const conf = [
  '# containers.conf',
  '#',
  '[containers]',
  '',
  '  # indented comment',
  '# default_capabilities = ["CHOWN"]',
  'default_capabilities = [',
  '  "CHOWN", # the owner',
  '  # "MKNOD",',
  '  "KILL",',
  ']',
  'env = ["A=#not a comment", "B=2"] # trailing',
  "label = '# literal'",
  '#\t tab and unicode \u2026',
  '[engine]',
  'runtime = "runc"',
].join('\n');

const errorOf = (text: string): { line: number; column: number } => {
  try {
    parse(text);
  } catch (e) {
    if (e instanceof TomlError) return { line: e.line, column: e.column };
  }
  throw new Error('parsed');
};

describe('comment lines blanked', () => {
  it('leave the same tables', () => {
    expect(withoutCommentLines(conf)).not.toContain('indented comment');
    expect(parse(withoutCommentLines(conf))).toEqual(parse(conf));
    const crlf = conf.replace(/\n/g, '\r\n');
    expect(parse(withoutCommentLines(crlf))).toEqual(parse(crlf));
  });

  it('keep every line, so that an error names the same line and column', () => {
    const bad = `${conf}\n# more\nbroken = = 1\n`;
    expect(withoutCommentLines(bad).split('\n').length).toBe(bad.split('\n').length);
    expect(errorOf(withoutCommentLines(bad))).toEqual(errorOf(bad));
  });

  it('leave a comment with a control character to the parser, and multi-line strings alone', () => {
    const control = `${conf}\n# bell \u0007\n`;
    expect(errorOf(withoutCommentLines(control))).toEqual(errorOf(control));
    const multi = `a = """\n# inside\n"""\n# outside\n`;
    expect(withoutCommentLines(multi)).toBe(multi);
    expect(parse(withoutCommentLines(multi))).toEqual({ a: '# inside\n' });
  });
});
