import { afterEach, beforeEach, expect, test } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatReference } from '../../../src/image/ref.js';
import { candidates, resolveForPull } from '../../../src/image/short-names.js';

// The user's registries.conf (CONTAINERS_REGISTRIES_CONF) and cache home, in a temporary directory.
let dir: string;
const env = (): NodeJS.ProcessEnv => ({ HOME: dir, CONTAINERS_REGISTRIES_CONF: join(dir, 'registries.conf') });
const conf = (text: string): void => writeFileSync(join(dir, 'registries.conf'), text);
const names = (refs: { candidates: Parameters<typeof formatReference>[0][] }): string[] =>
  refs.candidates.map(formatReference);
beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), 'hutch-short-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const TWO = `unqualified-search-registries = ["one.example", "two.example"]\n`;

test('a qualified name is itself; an alias wins over the search list, keeping the tag or digest', async () => {
  conf(`${TWO}[aliases]\napp = "quay.example/team/app"\n`);
  expect(names(await resolveForPull('docker://reg.example/x:1', env(), undefined))).toEqual(['reg.example/x:1']);
  expect(names(await resolveForPull('app:2', env(), undefined))).toEqual(['quay.example/team/app:2']);
  expect(names({ candidates: candidates('app', env()) })).toEqual([
    'quay.example/team/app:latest',
    'one.example/app:latest',
    'two.example/app:latest',
  ]);
});

test('enforcing: several search registries and no terminal is an error; one registry is no ambiguity', async () => {
  conf(`${TWO}short-name-mode = "enforcing"\n`);
  await expect(resolveForPull('app', env(), undefined)).rejects.toMatchObject({
    code: 'SHORT_NAME_AMBIGUOUS',
    message: expect.stringMatching(/^short name app is ambiguous: 2 unqualified-search registries/),
  });
  conf(`unqualified-search-registries = ["one.example"]\nshort-name-mode = "enforcing"\n`);
  expect(names(await resolveForPull('app', env(), undefined))).toEqual(['one.example/app:latest']);
});

test('permissive (the default) and disabled try every search registry in order without a terminal', async () => {
  conf(TWO);
  expect(names(await resolveForPull('app', env(), undefined))).toEqual([
    'one.example/app:latest',
    'two.example/app:latest',
  ]);
  conf(`${TWO}short-name-mode = "disabled"\n`);
  expect(names(await resolveForPull('app', env(), async () => 1))).toEqual([
    'one.example/app:latest',
    'two.example/app:latest',
  ]);
});

test('a choice made on the terminal is recorded in the aliases file after the pull, and used next time', async () => {
  conf(`${TWO}short-name-mode = "enforcing"\n`);
  mkdirSync(join(dir, '.cache/containers'), { recursive: true });
  writeFileSync(join(dir, '.cache/containers/short-name-aliases.conf'), `[aliases]\nother = "x.example/other"\n`);
  const r = await resolveForPull(
    'app:3',
    env(),
    async (name, registries) => (expect([name, registries]).toEqual(['app', ['one.example', 'two.example']]), 1),
  );
  expect(names(r)).toEqual(['two.example/app:3']);
  r.record!(r.candidates[0]!);
  expect(readFileSync(join(dir, '.cache/containers/short-name-aliases.conf'), 'utf8')).toMatch(
    /other = "x.example\/other"\napp = "two.example\/app"/,
  );
  expect(names(await resolveForPull('app', env(), undefined))).toEqual(['two.example/app:latest']);
});
