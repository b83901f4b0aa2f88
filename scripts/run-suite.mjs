// Runs vitest as the current (unprivileged) user and ends with one plain summary line,
// "tests: N passed, N failed, N skipped". Under `npm test` as root (HUTCH_SUITE set), the line
// names the suite instead: scripts/tally.mjs sums every suite into the run's closing line.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

if (process.getuid?.() === 0 && !process.env.HUTCH_TEST_ALLOW_ROOT) {
  console.error('run-suite: refusing to run the suite as root; use `npm test` (it drops to the test user)');
  process.exit(2);
}
const results = '.vitest-results.json';
rmSync(results, { force: true });
const args = [
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${results}`,
  ...process.argv.slice(2),
];
const run = spawnSync('npx', args, { stdio: 'inherit' });
let summary = { numPassedTests: 0, numFailedTests: 0, numPendingTests: 0, numTodoTests: 0 };
try {
  summary = JSON.parse(readFileSync(results, 'utf8'));
} catch {
  console.error('run-suite: vitest wrote no results');
}
const skipped = summary.numPendingTests + summary.numTodoTests;
const line = `${summary.numPassedTests} passed, ${summary.numFailedTests} failed, ${skipped} skipped`;
console.log(`${process.env.HUTCH_SUITE || 'tests'}: ${line}`);
process.exit(run.status ?? 1);
