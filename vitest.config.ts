import { defineConfig } from 'vitest/config';

// Integration tests start real namespaces, FUSE daemons and servers on a 2-core machine:
// run files one at a time so they do not starve each other, and give them room.
export default defineConfig({
  // .cts too: the modules the bundle loader runs before the bundle (src/cli/early-monitor.cts) are CommonJS.
  esbuild: { include: /\.(c|m)?tsx?$/ },
  // `npm test` keeps vitest's cache with its other caches ($HUTCH_TEST_CACHE), not in the tree copy.
  ...(process.env.HUTCH_VITEST_CACHE ? { cacheDir: process.env.HUTCH_VITEST_CACHE } : {}),
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    globalSetup: ['test/helpers/global-setup.ts'],
    // clipanion's ESM build imports a directory, which Node's resolver refuses; let vite bundle it.
    server: { deps: { inline: ['clipanion'] } },
  },
  // Bundled by vite, `clipanion` is its ESM build; src/cli/parser.ts imports lib/core.js (Node's
  // resolution: the CommonJS build the Cli uses there), which must be the Cli's own core here too.
  resolve: { alias: [{ find: /^clipanion\/lib\/(core|constants)\.js$/, replacement: 'clipanion/lib/$1.mjs' }] },
});
