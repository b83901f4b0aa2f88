// Hostile values from flags and archives (issue 13, finding 7): line breaks that would add lines
// to the container's /etc files, and a malformed manifest.json in `hutch load`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hutch, type Sandbox } from '../helpers/hutch-cli.js';
import { useContainerSandbox } from '../helpers/frames.js';

let box: Sandbox;
let rootfs: string;
const run = (...flags: string[]) => hutch(['run', '--root', box.root, '--rootfs', rootfs, ...flags, '--', 'true']);

useContainerSandbox((b, r) => ((box = b), (rootfs = r)));

describe('line breaks in /etc values', () => {
  it.each([
    [
      '--hostname',
      'web\n10.0.0.1 evil',
      'invalid --hostname "web\\n10.0.0.1 evil": a hostname is 1-64 characters without spaces or line breaks',
    ],
    ['--dns', '1.1.1.1\nnameserver 6.6.6.6', 'invalid --dns "1.1.1.1\\nnameserver 6.6.6.6": it holds a line break'],
    [
      '--dns-search',
      'example.com\nnameserver 6.6.6.6',
      'invalid --dns-search "example.com\\nnameserver 6.6.6.6": it holds a line break',
    ],
  ])('etc-injection: %s with a newline is refused before anything runs', async (flag, value, message) => {
    const r = await run(flag, value);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain(message);
  });
});

describe('hutch load', () => {
  it('malformed-manifest: a docker-archive whose manifest.json is not JSON gives a clear error, no stack trace', async () => {
    const dir = join(box.dir, 'archive');
    mkdirSync(dir);
    writeFileSync(join(dir, 'manifest.json'), '[{"Config": ');
    execFileSync('tar', ['-C', dir, '-cf', join(box.dir, 'bad.tar'), 'manifest.json']);
    const r = await hutch(['load', '--root', box.root, '-i', join(box.dir, 'bad.tar')]);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain(`docker-archive:${join(box.dir, 'bad.tar')}: manifest.json is not JSON`);
    expect(r.stderr).not.toMatch(/internal error|this is a bug| {4}at /);
  });
});
