// The argv look of src/cli/prehold.ts: which command lines start the union's holder before the parse.
import { describe, expect, it } from 'vitest';
import { rootOption, wantsPreheldHolder } from '../../../src/cli/prehold.js';

describe('wantsPreheldHolder', () => {
  it.each([
    ['run', 'IMAGE', 'true'],
    ['run', '--rm', '-it', '--network', 'none', 'IMAGE', 'sh'],
    ['--root', '/s', 'run', 'IMAGE'],
    ['run', '-e', 'A=1', '--name', 'x', 'IMAGE'],
    ['run', 'IMAGE', '--', 'ls', '-d'],
    ['run', 'IMAGE', 'ls', '-d', '--rootfs'], // the command's words, not run's
    ['run', '-e', '--rootfs', 'IMAGE'], // --rootfs is -e's value
  ])('a foreground run from an image: %j', (...argv) => expect(wantsPreheldHolder(argv)).toBe(true));

  it.each([
    ['ps'],
    ['container', 'run', 'IMAGE'], // no such command
    ['create', 'IMAGE'],
    ['exec', 'c', 'run'],
    ['--root', 'run', 'ps'],
    ['run', '-d', 'IMAGE'],
    ['run', '-dit', 'IMAGE', 'sh'],
    ['run', '--detach=true', 'IMAGE'],
    ['run', '--rootfs', '/r', 'true'],
    ['run', '--rootfs=/r', 'true'],
    ['run', '--userns=keep-id', 'IMAGE'],
    ['run', '--uidmap', '0:1000:1', 'IMAGE'],
    ['run', '--gidmap=0:1000:1', 'IMAGE'],
    ['run', '--hpc', 'IMAGE'],
    ['run', '--storage-driver', 'vfs', 'IMAGE'],
    ['run', '--help'],
    ['run', '-h'],
  ])('not: %j', (...argv) => expect(wantsPreheldHolder(argv)).toBe(false));
});

describe('rootOption', () => {
  it.each([
    [['run', '--root', '/s', 'IMG'], '/s'],
    [['--root=/s', 'run', '-d', 'IMG'], '/s'],
    [['run', 'IMG'], undefined],
    [['run', '--', '--root', '/s'], undefined],
  ])('%j: %s', (argv, root) => expect(rootOption(argv)).toBe(root));
});
