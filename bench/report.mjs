// The part of the benches' reports they share (imported by their closing `node -e`): hyperfine's
// JSON results as a title and a row a command (median, min and max seconds; with BASE, the ratio
// of each median to BASE's), and command -> median for the bench's own ratio lines.
import { readFileSync } from 'node:fs';

/** Prints the table of FILE (hyperfine --export-json) under TITLE; returns command -> median seconds. */
export function medians(file, title, base) {
  const r = JSON.parse(readFileSync(file, 'utf8')).results;
  const med = Object.fromEntries(r.map((x) => [x.command, x.median]));
  const width = Math.max(...r.map((x) => x.command.length));
  const s = (seconds) => seconds.toFixed(3);
  console.log(`${title}, ${r[0].times.length} runs each, median seconds`);
  for (const x of r) {
    const ratio = base === undefined ? '' : `  ratio to ${base} ${(x.median / med[base]).toFixed(2)}`;
    console.log(`${x.command.padEnd(width)} ${s(x.median)}s  (min ${s(x.min)}, max ${s(x.max)})${ratio}`);
  }
  return med;
}
