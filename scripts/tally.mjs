// The closing line of `npm test`, "tests: N passed, N failed, N skipped", summed over EVERY suite
// the run meant to run (vitest as each test user, the host and guest cgroup suites under
// `node --test`), and the exit status that always agrees with it: 1 exactly when failed > 0.
// A suite that never ran, whose report is missing or unreadable, or that exited nonzero with no
// failed test (a file that did not load, a crash, a killed VM) counts as one failure, by name.
//   node scripts/tally.mjs add DIR NAME STATUS [REPORT]   record a suite: its exit status and its
//        report (vitest's JSON, or node --test's TAP); no REPORT, or none there: it did not run
//   node scripts/tally.mjs skip DIR NAME REASON           a suite left out on request (HUTCH_SKIP_VM=1)
//   node scripts/tally.mjs line DIR NAME...               print each named suite and the closing line
// Under a suite's line come the names of its failed tests, each with its error's first line (and a
// deep-equal's differing lines): CI keeps only the end of the output, so this is where a failure
// must be named and told.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Counts of a vitest JSON report; a test file that failed to load counts as a failed test. */
export function fromVitest(report) {
  const unloaded = (report.testResults ?? []).filter(
    (file) => file.status === 'failed' && !(file.assertionResults ?? []).some((t) => t.status === 'failed'),
  ).length;
  return {
    passed: report.numPassedTests ?? 0,
    failed: (report.numFailedTests ?? 0) + unloaded,
    skipped: (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0),
    failures: vitestFailures(report),
  };
}

const MAX_NAMED = 10;
const COLOUR = new RegExp(String.fromCharCode(27) + '\\[[0-9;]*m', 'g'); // vitest colours its messages
const firstLine = (text) =>
  String(text ?? '')
    .replace(COLOUR, '')
    .trim()
    .split('\n')[0]
    .slice(0, 240);

/** "file > test: first line of the error" for each failed test (and each file that did not load). */
function vitestFailures(report) {
  const named = [];
  for (const file of report.testResults ?? []) {
    const where = String(file.name ?? '').replace(/^.*?\/(test\/)/, '$1');
    const failed = (file.assertionResults ?? []).filter((t) => t.status === 'failed');
    if (file.status === 'failed' && failed.length === 0)
      named.push(`${where}: did not load: ${firstLine(file.message)}`);
    for (const t of failed)
      named.push(`${where} > ${t.fullName ?? t.title}: ${errorSummary(t.failureMessages?.[0] ?? '')}`);
  }
  return named;
}

/** The "not ok" lines of node --test's TAP, with the test's name (subtests indented), each with
 *  its error (the YAML block's `error:`) when it has one. */
function tapFailures(text) {
  const lines = text.split('\n');
  const named = [];
  lines.forEach((line, i) => {
    const m = /^(\s*)not ok \d+ - (.*)$/.exec(line);
    if (!m) return;
    const error = tapError(lines, i + 1, m[1].length);
    named.push(error ? `${m[2].trim()}: ${error}` : m[2].trim());
  });
  return named;
}

/** The `error:` of the YAML block that starts at lines[at] (under a "not ok" indented by `indent`),
 *  told in short; '' when there is none. */
function tapError(lines, at, indent) {
  if ((lines[at] ?? '').trim() !== '---') return '';
  for (let i = at + 1; i < lines.length && lines[i].trim() !== '...'; i++) {
    const m = /^(\s*)error: (.*)$/.exec(lines[i]);
    if (!m || m[1].length !== indent + 2) continue;
    if (m[2] !== '|-' && m[2] !== '|') return errorSummary(m[2].replace(/^'(.*)'$/, '$1').replaceAll("''", "'"));
    const body = [];
    for (
      let j = i + 1;
      j < lines.length && (lines[j].trim() === '' || /^\s*/.exec(lines[j])[0].length > m[1].length);
      j++
    )
      body.push(lines[j].slice(m[1].length + 2));
    return errorSummary(body.join('\n'));
  }
  return '';
}

/** An error's first line; for a deep-equal, its differing lines too (what the first line does not say). */
function errorSummary(text) {
  const lines = String(text).replace(COLOUR, '').split('\n');
  const first = lines.find((l) => l.trim() !== '') ?? '';
  const legend = lines.findIndex((l) => l.trim() === '+ actual - expected');
  const differing = legend < 0 ? [] : lines.slice(legend + 1).filter((l) => /^[+-] /.test(l.trim()));
  return [first.trim(), ...differing.slice(0, 8).map((l) => l.trim().replace(/^([+-])\s+/, '$1 '))]
    .join(' | ')
    .slice(0, 1200);
}

/** Counts of node --test's TAP (its closing "# pass N" comments); undefined when it has none. */
export function fromTap(text) {
  const last = (key) => {
    const all = [...text.matchAll(new RegExp(`^# ${key} (\\d+)$`, 'gm'))];
    return all.length ? Number(all[all.length - 1][1]) : undefined;
  };
  if (last('pass') === undefined || last('fail') === undefined) return undefined;
  return {
    passed: last('pass'),
    failed: last('fail') + (last('cancelled') ?? 0),
    skipped: (last('skipped') ?? 0) + (last('todo') ?? 0),
    failures: tapFailures(text),
  };
}

/** What a report file says; undefined when it is missing or neither format. */
export function readReport(path) {
  if (!path || !existsSync(path)) return undefined;
  const text = readFileSync(path, 'utf8');
  try {
    return fromVitest(JSON.parse(text));
  } catch {
    return fromTap(text);
  }
}

/** One suite's line and its share of the totals. */
export function judge(name, record) {
  if (!record) return { line: `${name}: did not run (counted as 1 failure)`, passed: 0, failed: 1, skipped: 0 };
  if (record.skippedBecause)
    return { line: `${name}: skipped, ${record.skippedBecause}`, passed: 0, failed: 0, skipped: 0 };
  const counts = record.counts;
  if (!counts)
    return {
      line: `${name}: exited ${record.status} with no report (counted as 1 failure)`,
      passed: 0,
      failed: 1,
      skipped: 0,
    };
  let { passed, failed, skipped } = counts;
  let line = `${name}: ${passed} passed, ${failed} failed, ${skipped} skipped`;
  if (record.status !== 0 && failed === 0) {
    failed = 1;
    line += ` but exited ${record.status} (counted as 1 failure)`;
  }
  const named = counts.failures ?? [];
  for (const failure of named.slice(0, MAX_NAMED)) line += `\n      failed: ${failure}`;
  if (named.length > MAX_NAMED) line += `\n      and ${named.length - MAX_NAMED} more`;
  return { line, passed, failed, skipped };
}

/** The per-suite lines, the closing line and the exit status for the suites a run expected. */
export function tally(records, names) {
  const judged = names.map((name) => judge(name, records.get(name)));
  const sum = (key) => judged.reduce((total, j) => total + j[key], 0);
  const failed = sum('failed');
  const closing = `tests: ${sum('passed')} passed, ${failed} failed, ${sum('skipped')} skipped (${names.length} suites)`;
  return { lines: [...judged.map((j) => `  ${j.line}`), closing], status: failed > 0 ? 1 : 0 };
}

const recordPath = (dir, name) => join(dir, `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`);

function readRecords(dir, names) {
  const records = new Map();
  for (const name of names) {
    const path = recordPath(dir, name);
    if (existsSync(path)) records.set(name, JSON.parse(readFileSync(path, 'utf8')));
  }
  return records;
}

function main([command, dir, ...rest]) {
  if (command === 'add' || command === 'skip') {
    const [name, value, report] = rest;
    mkdirSync(dir, { recursive: true });
    const record =
      command === 'skip' ? { skippedBecause: value } : { status: Number(value), counts: readReport(report) };
    writeFileSync(recordPath(dir, name), JSON.stringify(record) + '\n');
    return 0;
  }
  if (command === 'line') {
    const { lines, status } = tally(readRecords(dir, rest), rest);
    console.log(lines.join('\n'));
    return status;
  }
  console.error('usage: tally.mjs add DIR NAME STATUS [REPORT] | skip DIR NAME REASON | line DIR NAME...');
  return 2;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exit(main(process.argv.slice(2)));
