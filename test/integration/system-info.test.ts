// hutch system info on the test host, as the test user with a subuid range.
import { expect, it } from 'vitest';
import { hutch } from '../helpers/hutch-cli.js';

it('finds user namespaces, the ranges and newuidmap usable, in text and JSON', async () => {
  const json = await hutch(['system', 'info', '--format', 'json']);
  expect(json.exitCode).toBe(0);
  const info = JSON.parse(String(json.stdout)) as { user: { uid: number }; checks: { name: string; ok: boolean }[] };
  expect(info.user.uid).toBe(process.getuid!());
  const ok = Object.fromEntries(info.checks.map((c) => [c.name, c.ok]));
  expect(ok).toMatchObject({
    'user namespaces': true,
    '/etc/subuid range': true,
    '/etc/subgid range': true,
    newuidmap: true,
    newgidmap: true,
    '/dev/fuse': true,
  });
  const text = await hutch(['system', 'info']);
  expect(String(text.stdout)).toMatch(/^ok {3}user namespaces: allowed/m);
});
