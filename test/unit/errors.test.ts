import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { renderError } from '../../src/cli/command.js';
import { UserNsError } from '../../src/errors.js';

describe('renderError', () => {
  it('prints the message and the hint on stderr and returns the exit code', () => {
    const out = new PassThrough();
    const code = renderError(
      new UserNsError('SUBUID_MISSING', 'cannot map uids: no entry for alice in /etc/subuid', { hint: 'ask an admin to add one, or use --userns=keep-id' }),
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
