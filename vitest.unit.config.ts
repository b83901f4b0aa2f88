import { defineConfig } from 'vitest/config';

// Unit tests (npm run test:unit): pure code and small real files, no build, no containers, any
// user. The integration suite's global setup (a build, an unprivileged user) is not theirs.
export default defineConfig({
  // .cts too: the modules the bundle loader runs before the bundle (src/cli/early-monitor.cts) are CommonJS.
  esbuild: { include: /\.(c|m)?tsx?$/ },
  test: {
    include: ['test/unit/**/*.test.ts'],
    testTimeout: 60_000,
    server: { deps: { inline: ['clipanion'] } },
  },
  // Bundled by vite, `clipanion` is its ESM build; src/cli/parser.ts imports lib/core.js (Node's
  // resolution: the CommonJS build the Cli uses there), which must be the Cli's own core here too.
  resolve: { alias: [{ find: /^clipanion\/lib\/(core|constants)\.js$/, replacement: 'clipanion/lib/$1.mjs' }] },
});
