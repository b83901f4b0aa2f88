import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { renderError } from '../../src/cli/command.js';
import { UserNsError } from '../../src/errors.js';

describe('renderError', () => {
  it('prints the message and the hint on stderr and returns the exit code', () => {
    const out = new PassThrough();
    const code = renderError(
      new UserNsError('SUBID_MISSING', 'cannot map uids: no entry for alice in /etc/subuid', {
        hint: 'ask an admin to add one, or use --userns=keep-id',
      }),
      out,
    );
    expect(code).toBe(125);
    expect(out.read().toString()).toMatchInlineSnapshot(`
      "hutch: cannot map uids: no entry for alice in /etc/subuid
      hint: ask an admin to add one, or use --userns=keep-id
      "
    `);
  });
});

describe('error codes', () => {
  it('docs/errors.md lists every code of the typed union, and the union is sorted without repeats', async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { ERROR_CODES } = await import('../../src/error-codes.js');
    const listed = new Set(
      [
        ...readFileSync(join(import.meta.dirname, '../../docs/errors.md'), 'utf8').matchAll(
          /^\| ([A-Z][A-Z0-9_]+) \|/gm,
        ),
      ].map((m) => m[1]),
    );
    expect(ERROR_CODES.filter((code) => !listed.has(code))).toEqual([]);
    expect([...ERROR_CODES]).toEqual([...new Set(ERROR_CODES)].sort());
  });
});
