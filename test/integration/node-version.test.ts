// hutch needs Node.js 20+: bin/hutch, hutch-runtime, hutch-fs and the quickstart say so, with how to
// get it, and exit 125 under an older Node. The older Node is this one with its version reported
// as 18 (a `node` first on PATH that preloads the override), which is what the check reads.
import { execa } from 'execa';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { transformSync } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { fakeTool, firstOnPath } from '../helpers/fake-tool.js';
import { REPO, sandbox } from '../helpers/hutch-cli.js';

const box = sandbox();
afterAll(() => box.remove());

/** A folder whose `node` is this Node reporting `version` (and `node --version` says so too). */
function fakeNode(version: string): string {
  const dir = join(box.dir, `node-${version}`);
  mkdirSync(dir, { recursive: true });
  const preload = join(dir, 'preload.cjs');
  writeFileSync(
    preload,
    `Object.defineProperty(process.versions, 'node', { value: '${version}' });\nObject.defineProperty(process, 'version', { value: 'v${version}' });\n`,
  );
  return fakeTool(
    dir,
    'node',
    `#!/bin/sh\n[ "$1" = --version ] && { echo v${version}; exit 0; }\nexec ${process.execPath} --require ${preload} "$@"\n`,
  );
}

function withNode(dir: string): Record<string, string> {
  return { PATH: firstOnPath(dir, '/usr/local/bin:/usr/bin:/bin'), HOME: box.dir };
}

describe('under Node.js 18', () => {
  const old = fakeNode('18.19.0');

  for (const bin of ['hutch', 'hutch-runtime', 'hutch-fs']) {
    it(`bin/${bin} says what it needs and exits 125`, async () => {
      const r = await execa(join(REPO, 'bin', bin), ['--version'], {
        reject: false,
        env: withNode(old),
        extendEnv: false,
      });
      expect(r.exitCode).toBe(125);
      expect(r.stderr).toContain('hutch: cannot start: Node.js 18.19.0 is too old: hutch needs Node.js 20 or newer');
      expect(r.stderr).toMatch(/^hint: install Node\.js 20\+ .*NodeSource.*nvm/m);
      expect(r.stdout).toBe('');
    });
  }

  it('the quickstart stops before it builds anything', async () => {
    const r = await execa('bash', [join(REPO, 'scripts', 'quickstart.sh')], {
      reject: false,
      env: withNode(old),
      extendEnv: false,
    });
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain('Node.js 18.19.0 is too old: hutch needs Node.js 20 or newer');
    expect(r.stdout).toBe('');
  });
});

it('the quickstart says so when there is no node at all', async () => {
  const bin = join(box.dir, 'no-node');
  mkdirSync(bin);
  symlinkSync('/usr/bin/dirname', join(bin, 'dirname'));
  const r = await execa('/bin/bash', [join(REPO, 'scripts', 'quickstart.sh')], {
    reject: false,
    env: { PATH: bin, HOME: box.dir },
    extendEnv: false,
  });
  expect(r.exitCode).toBe(125);
  expect(r.stderr).toContain('node or npm is not installed: hutch needs Node.js 20 or newer');
  expect(r.stderr).toContain('hint: install Node.js 20+');
});

it('under Node.js 20 and later bin/hutch starts', async () => {
  const r = await execa(join(REPO, 'bin', 'hutch'), ['--version'], {
    reject: false,
    env: withNode(fakeNode('20.0.0')),
    extendEnv: false,
  });
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
});

it('the check itself is ES5, so that any old Node parses it', () => {
  // Nothing in the file needs lowering to ES5: the ES5 output is the same as the untouched one.
  const source = readFileSync(join(REPO, 'bin', 'start-bundle.js'), 'utf8');
  expect(transformSync(source, { target: 'es5' }).code).toBe(transformSync(source, { target: 'esnext' }).code);
});
