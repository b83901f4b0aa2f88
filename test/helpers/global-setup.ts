// Runs once before the suite: refuse root (a rootless runtime tested as root proves nothing)
// and make sure the build exists, since integration tests run bin/hutch and native/hutch-nsexec.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export function setup(): void {
  if (process.getuid?.() === 0 && !process.env.HUTCH_TEST_ALLOW_ROOT) {
    throw new Error('the suite must run as an unprivileged user: use `npm test`, which drops to the test user');
  }
  const repo = join(import.meta.dirname, '..', '..');
  // hutch reads podman's containers.conf (a host with podman ships default_capabilities and more):
  // the suite runs against hutch's own defaults unless a test names its file (workers inherit this).
  process.env.CONTAINERS_CONF ??= join(repo, 'test/fixtures/containers.conf');
  // The shared union daemon leaves with its last container, as the leak checks after each test
  // expect; fuse-shared.test.ts sets a linger of its own where it tests it.
  process.env.HUTCH_FS_LINGER ??= '0';
  for (const built of ['dist/src/cli/main.js', 'dist/bundle/cli.cjs']) {
    if (!existsSync(join(repo, built))) throw new Error(`missing ${built}: run \`npm run build\` first`);
  }
}
