// scripts/tally.mjs: the closing line of `npm test` and its exit status always agree, and every
// suite the run expected counts, including one that never ran or crashed without a failed test.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromTap, fromVitest, tally, type SuiteRecord } from '../../scripts/tally.mjs';

const script = join(import.meta.dirname, '..', '..', 'scripts', 'tally.mjs');
const tap = (pass: number, fail: number, skipped = 0): string =>
  `TAP version 13\nok 1 - a\n1..${pass + fail}\n# tests ${pass + fail}\n# suites 0\n# pass ${pass}\n# fail ${fail}\n# cancelled 0\n# skipped ${skipped}\n# todo 0\n# duration_ms 12.5\n`;
const vitest = (passed: number, failed: number, files: object[] = []): string =>
  JSON.stringify({
    numPassedTests: passed,
    numFailedTests: failed,
    numPendingTests: 1,
    numTodoTests: 0,
    testResults: files,
  });

/** Runs the CLI over suites recorded in a fresh folder; returns its output and status. */
function cli(
  record: (dir: string, add: (...args: string[]) => void) => void,
  names: string[],
): { out: string; status: number | null } {
  const dir = mkdtempSync(join(tmpdir(), 'hutch-tally-'));
  try {
    const add = (...args: string[]): void => {
      const r = spawnSync(process.execPath, [script, args[0]!, join(dir, 'r'), ...args.slice(1)], { encoding: 'utf8' });
      expect(r.status).toBe(0);
    };
    record(dir, add);
    const r = spawnSync(process.execPath, [script, 'line', join(dir, 'r'), ...names], { encoding: 'utf8' });
    return { out: r.stdout, status: r.status };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('tally', () => {
  it('reads node --test TAP and vitest JSON counts', () => {
    expect(fromTap(tap(5, 2, 1))).toEqual({ passed: 5, failed: 2, skipped: 1, failures: [] });
    expect(fromTap('TAP version 13\nnot ok 1 - crashed\n')).toBeUndefined();
    expect(fromVitest(JSON.parse(vitest(3, 1)))).toEqual({ passed: 3, failed: 1, skipped: 1, failures: [] });
  });

  it('counts a vitest file that failed to load as a failure', () => {
    const files = [
      { status: 'failed', assertionResults: [] },
      { status: 'passed', assertionResults: [{ status: 'passed' }] },
    ];
    expect(fromVitest(JSON.parse(vitest(1, 0, files))).failed).toBe(1);
  });

  it('names each failed test with its error, under its suite, where the end of a CI log keeps it', () => {
    const files = [
      {
        name: '/tmp/run/hutchtest/src/test/integration/a.test.ts',
        status: 'failed',
        assertionResults: [
          { status: 'passed', fullName: 'a > works' },
          {
            status: 'failed',
            fullName: 'a > breaks',
            failureMessages: ['\x1b[31mAssertionError: expected 1 to be 2\x1b[39m\n  at x'],
          },
        ],
      },
      {
        name: '/src/test/integration/b.test.ts',
        status: 'failed',
        message: 'SyntaxError: nope\nmore',
        assertionResults: [],
      },
    ];
    const r = cli(
      (dir, add) => {
        writeFileSync(join(dir, 'v.json'), vitest(1, 1, files));
        writeFileSync(join(dir, 'host.tap'), tap(1, 1).replace('ok 1 - a', 'ok 1 - a\n    not ok 2 - kills the scope'));
        add('add', 'vitest', '1', join(dir, 'v.json'));
        add('add', 'cgroups-host', '1', join(dir, 'host.tap'));
      },
      ['vitest', 'cgroups-host'],
    );
    expect(r.out).toContain(
      'vitest: 1 passed, 2 failed, 1 skipped\n      failed: test/integration/a.test.ts > a > breaks: AssertionError: expected 1 to be 2\n',
    );
    expect(r.out).toContain('      failed: test/integration/b.test.ts: did not load: SyntaxError: nope\n');
    expect(r.out).toContain('cgroups-host: 1 passed, 1 failed, 0 skipped\n      failed: kills the scope\n');
    expect(r.out.trim().split('\n').pop()).toBe('tests: 2 passed, 3 failed, 1 skipped (2 suites)');
  });

  it("tells a node --test failure's error: its first line, and a deep-equal's differing lines", () => {
    const failing = [
      'not ok 1 - the C front ran it',
      '  ---',
      "  failureType: 'testCodeFailure'",
      '  error: |-',
      '    the C front ran it (99: it would hand over): hutch: no scope',
      '    ',
      '    99 !== 7',
      '    ',
      "  code: 'ERR_ASSERTION'",
      '  ...',
      '# Subtest: as the TypeScript path',
      '    not ok 1 - as the TypeScript path',
      '      ---',
      '      error: |-',
      '        Expected values to be strictly deep-equal:',
      '        + actual - expected',
      '        ',
      '          {',
      '            status: 7,',
      "        +   stderr: 'hutch: warning'",
      "        -   stderr: ''",
      '          }',
      "      code: 'ERR_ASSERTION'",
      '      ...',
      'not ok 2 - throws',
      '  ---',
      "  error: 'it''s gone'",
      '  ...',
      'not ok 3 - no block',
    ].join('\n');
    expect(fromTap(`${failing}\n${tap(0, 4)}`)?.failures).toEqual([
      'the C front ran it: the C front ran it (99: it would hand over): hutch: no scope',
      "as the TypeScript path: Expected values to be strictly deep-equal: | + stderr: 'hutch: warning' | - stderr: ''",
      "throws: it's gone",
      'no block',
    ]);
  });

  it('sums every suite and exits 0 only when nothing failed', () => {
    const ok = cli(
      (dir, add) => {
        writeFileSync(join(dir, 'v.json'), vitest(10, 0));
        writeFileSync(join(dir, 'host.tap'), tap(4, 0));
        add('add', 'vitest', '0', join(dir, 'v.json'));
        add('add', 'cgroups-host', '0', join(dir, 'host.tap'));
        add('skip', 'cgroups-guest', 'HUTCH_SKIP_VM=1');
      },
      ['vitest', 'cgroups-host', 'cgroups-guest'],
    );
    expect(ok.out.trim().split('\n').pop()).toBe('tests: 14 passed, 0 failed, 1 skipped (3 suites)');
    expect(ok.out).toContain('cgroups-guest: skipped, HUTCH_SKIP_VM=1');
    expect(ok.status).toBe(0);
  });

  it('a suite that never ran, or ran without a report, makes failed > 0 and the status 1', () => {
    const r = cli(
      (dir, add) => {
        writeFileSync(join(dir, 'v.json'), vitest(10, 0));
        add('add', 'vitest', '0', join(dir, 'v.json'));
        add('add', 'cgroups-guest', '125', join(dir, 'missing.tap'));
      },
      ['vitest', 'cgroups-host', 'cgroups-guest'],
    );
    expect(r.out).toContain('cgroups-host: did not run (counted as 1 failure)');
    expect(r.out).toContain('cgroups-guest: exited 125 with no report (counted as 1 failure)');
    expect(r.out.trim().split('\n').pop()).toBe('tests: 10 passed, 2 failed, 1 skipped (3 suites)');
    expect(r.status).toBe(1);
  });

  it('a nonzero exit with no failed test counts as one failure', () => {
    const r = cli(
      (dir, add) => {
        writeFileSync(join(dir, 'host.tap'), tap(4, 0));
        add('add', 'cgroups-host', '1', join(dir, 'host.tap'));
      },
      ['cgroups-host'],
    );
    expect(r.out).toContain('but exited 1 (counted as 1 failure)');
    expect(r.status).toBe(1);
  });

  it('never says 0 failed with a nonzero status, nor the reverse', () => {
    const cases: Array<Map<string, SuiteRecord>> = [
      new Map(),
      new Map([['a', { status: 1, counts: { passed: 1, failed: 0, skipped: 0 } }]]),
      new Map([['a', { status: 0, counts: { passed: 1, failed: 2, skipped: 0 } }]]),
      new Map([['a', { status: 0, counts: { passed: 1, failed: 0, skipped: 0 } }]]),
    ];
    for (const records of cases) {
      const { lines, status } = tally(records, ['a']);
      const failed = Number(/(\d+) failed/.exec(lines[lines.length - 1]!)![1]);
      expect(status === 0).toBe(failed === 0);
    }
  });
});
