// Types of scripts/tally.mjs (plain JavaScript, so that `npm test` can sum suites without a build).
export interface Counts {
  passed: number;
  failed: number;
  skipped: number;
  /** Each failed test: "file > name: the error's first line" (vitest) or the "not ok" name (TAP). */
  failures?: string[];
}
export interface SuiteRecord {
  status?: number;
  counts?: Counts;
  skippedBecause?: string;
}
export function fromVitest(report: object): Counts;
export function fromTap(text: string): Counts | undefined;
export function readReport(path: string | undefined): Counts | undefined;
export function judge(name: string, record: SuiteRecord | undefined): Counts & { line: string };
export function tally(records: Map<string, SuiteRecord>, names: string[]): { lines: string[]; status: number };
