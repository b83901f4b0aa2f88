import type { Cli, CommandClass } from 'clipanion';
import { UsageError } from '../errors.js';

/**
 * clipanion's parse errors as hutch says them: "unknown command frobnicate" with suggestions only
 * when some are close, "cannot run: an IMAGE or --rootfs DIR is needed" with the usage line,
 * instead of "Command not found; did you mean one of:" and a list cut off, or "Not enough
 * positional arguments."
 */
export interface SyntaxProblem {
  error: UsageError;
  /** The usage line of the command meant, when one is known. */
  usage?: string;
}

interface ClipanionSyntaxError extends Error {
  candidates?: { usage: string; reason: string | null }[];
}

/** Translates what `cli.process(argv)` threw; `classes` are the registered commands. */
export function syntaxProblem(thrown: unknown, argv: string[], cli: Cli, classes: CommandClass[]): SyntaxProblem {
  const words = commandWords(argv);
  const klass = matchClass(words, classes);
  const path = klass === undefined ? [] : pathOf(klass, words);
  const usage = klass === undefined ? undefined : cli.usage(klass, { colored: false, prefix: '' }).trim();
  const hint = `see 'hutch ${path.join(' ')}${path.length > 0 ? ' ' : ''}--help'`;
  const error = thrown as ClipanionSyntaxError;
  const reason = error.candidates?.find((c) => c.reason !== null)?.reason;
  if (error.name === 'UnknownSyntaxError' && (klass === undefined || reason === undefined || reason === null)) {
    return unknownCommand(words, classes);
  }
  const text = reason ?? (error.message ?? String(thrown)).split('\n')[0]!;
  const verb = path.join(' ') || 'parse the command line';
  if (/^Not enough positional arguments/.test(text)) {
    return {
      error: new UsageError('CLI_MISSING_ARGUMENTS', `cannot ${verb}: ${missingWhat(path, argv)}`, { hint }),
      usage,
    };
  }
  const extra = /^Extraneous positional argument \("(.*)"\)/.exec(text);
  if (extra)
    return {
      error: new UsageError('CLI_EXTRA_ARGUMENT', `cannot ${verb}: unexpected argument ${extra[1]}`, { hint }),
      usage,
    };
  const option = /^Unsupported option name \("(.*)"\)/.exec(text);
  if (option)
    return {
      error: new UsageError('CLI_UNKNOWN_OPTION', `cannot ${verb}: unknown option ${option[1]}`, { hint }),
      usage,
    };
  const sentence = text.replace(/\.$/, '').replace(/^[A-Z](?=[a-z])/, (c) => c.toLowerCase());
  return { error: new UsageError('CLI_INVALID', `cannot ${verb}: ${sentence}`, { hint }), usage };
}

/** Writes the problem: the message, the usage line, the hint; returns podman's usage exit status. */
export function renderSyntaxProblem(problem: SyntaxProblem, stderr: NodeJS.WritableStream): number {
  stderr.write(`hutch: ${problem.error.message}\n`);
  if (problem.usage !== undefined) stderr.write(`usage: ${problem.usage}\n`);
  if (problem.error.hint !== undefined) stderr.write(`hint: ${problem.error.hint}\n`);
  return problem.error.exitCode;
}

function missingWhat(path: string[], argv: string[]): string {
  if (path.at(-1) !== 'run' && path.at(-1) !== 'create') return 'arguments are missing';
  return argv.some((a) => a === '--rootfs' || a.startsWith('--rootfs='))
    ? 'a COMMAND is needed after --rootfs DIR'
    : 'an IMAGE or --rootfs DIR is needed';
}

/** An unknown first word, or a known group word (image, system, ...) with an unknown or no subcommand. */
function unknownCommand(words: string[], classes: CommandClass[]): SyntaxProblem {
  const paths = classes.flatMap((c) => c.paths ?? []).filter((p) => p.length > 0);
  const group = paths.some((p) => p.length > 1 && p[0] === words[0]) ? words[0]! : undefined;
  const known = [
    ...new Set(
      paths
        .filter((p) => (group === undefined ? true : p[0] === group && p.length > 1))
        .map((p) => p[group === undefined ? 0 : 1]!),
    ),
  ].sort();
  const given = group === undefined ? words[0] : words[1];
  const prefix = group === undefined ? 'hutch' : `hutch ${group}`;
  if (given === undefined) {
    return {
      error: new UsageError(
        'CLI_UNKNOWN_COMMAND',
        `missing the subcommand of ${group ?? 'hutch'}: one of ${known.join(', ')}`,
        { hint: "see 'hutch --help' for the commands" },
      ),
    };
  }
  const close = known.filter(
    (k) =>
      editDistance(k, given) <= Math.min(2, Math.floor(given.length / 2)) || (given.length >= 3 && k.startsWith(given)),
  );
  const suggestion = close.length === 0 ? '' : `did you mean ${close.map((k) => `'${prefix} ${k}'`).join(' or ')}? `;
  return {
    error: new UsageError('CLI_UNKNOWN_COMMAND', `unknown command ${group === undefined ? '' : `${group} `}${given}`, {
      hint: `${suggestion}see 'hutch --help' for the commands`,
    }),
  };
}

/** The words of the command line up to its first option (`--root DIR` may come first). */
function commandWords(argv: string[]): string[] {
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--root') i++;
    else if (a.startsWith('-')) {
      if (words.length > 0) break;
    } else words.push(a);
  }
  return words;
}

/** The registered command whose path is the longest prefix of the words. */
function matchClass(words: string[], classes: CommandClass[]): CommandClass | undefined {
  let best: { klass: CommandClass; length: number } | undefined;
  for (const klass of classes) {
    for (const p of klass.paths ?? []) {
      if (p.length > 0 && p.every((w, i) => words[i] === w) && p.length > (best?.length ?? 0))
        best = { klass, length: p.length };
    }
  }
  return best?.klass;
}

function pathOf(klass: CommandClass, words: string[]): string[] {
  return (klass.paths ?? []).find((p) => p.length > 0 && p.every((w, i) => words[i] === w)) ?? [];
}

/** Edit distance counting a swap of two neighbours as one edit (rnu -> run), for "did you mean". */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!,
        up = d[i - 1]!;
      row[j] = Math.min(up[j]! + 1, row[j - 1]! + 1, up[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}
