/**
 * The command lines engines give `hutch runtime` (runc's: `create --bundle B --pid-file F ID`,
 * `state ID`, `kill ID SIGNAL`, ...), parsed without clipanion, whose parser and command classes
 * cost a verb more than the verb does. Only the plain forms: anything else (help, an unknown or
 * negated option, a value that looks like an option, `--`, missing or extra operands) gives
 * undefined, and the full CLI parses it and says what is wrong. The options mirror the clipanion
 * classes (base.ts and the verb files); test/unit/cli/runtime-syntax.test.ts holds them equal.
 */
type Kind = 'string' | 'boolean' | 'array' | 'count';

interface OptionSyntax {
  names: string[];
  key: string;
  kind: Kind;
  initial?: string | boolean | number | string[];
}

interface VerbSyntax {
  options: OptionSyntax[];
  /** Required operands, then at most one optional one, then (exec) every word left verbatim. */
  operands: string[];
  optional?: string;
  rest?: string;
}

const str = (names: string, key: string, initial?: string): OptionSyntax => ({
  names: names.split(','),
  key,
  kind: 'string',
  initial,
});
const bool = (names: string, key: string): OptionSyntax => ({
  names: names.split(','),
  key,
  kind: 'boolean',
  initial: false,
});
const list = (names: string, key: string): OptionSyntax => ({
  names: names.split(','),
  key,
  kind: 'array',
  initial: [],
});
const count = (names: string, key: string): OptionSyntax => ({
  names: names.split(','),
  key,
  kind: 'count',
  initial: 0,
});

export const GLOBAL_OPTIONS = [
  str('--root', 'rootDir'),
  str('--log', 'log'),
  str('--log-format', 'logFormat', 'text'),
  bool('--debug', 'debug'),
  bool('--systemd-cgroup', 'systemdCgroup'),
  str('--rootless', 'rootless'),
];
const BUNDLE = [
  str('-b,--bundle', 'bundle', '.'),
  str('--pid-file', 'pidFile'),
  str('--console-socket', 'consoleSocket'),
  count('--preserve-fds', 'preserveFds'),
  bool('--no-pivot', 'noPivot'),
  bool('--no-new-keyring', 'noNewKeyring'),
];
const EXEC = [
  str('-p,--process', 'processFile'),
  bool('-d,--detach', 'detach'),
  str('--pid-file', 'pidFile'),
  str('--console-socket', 'consoleSocket'),
  bool('-t,--tty', 'tty'),
  str('--cwd', 'cwd'),
  list('-e,--env', 'env'),
  str('-u,--user', 'user'),
  list('-c,--cap', 'cap'),
  bool('--no-new-privs', 'noNewPrivs'),
  count('--preserve-fds', 'preserveFds'),
  str('--process-label', 'processLabel'),
  str('--apparmor', 'apparmor'),
];

/** The verbs parsed here, with their options beside the global ones. */
export const RUNTIME_SYNTAX: Record<string, VerbSyntax> = {
  create: { options: BUNDLE, operands: ['id'] },
  run: { options: [...BUNDLE, bool('-d,--detach', 'detach')], operands: ['id'] },
  start: { options: [], operands: ['id'] },
  state: { options: [], operands: ['id'] },
  kill: { options: [bool('-a,--all', 'all')], operands: ['id'], optional: 'signal' },
  delete: { options: [bool('-f,--force', 'force')], operands: ['id'] },
  exec: { options: EXEC, operands: ['id'], rest: 'args' },
  ps: { options: [str('-f,--format', 'format', 'table')], operands: ['id'] },
  list: { options: [str('-f,--format', 'format', 'table'), bool('-q,--quiet', 'quiet')], operands: [] },
  features: { options: [], operands: [] },
};

export interface ParsedVerb {
  verb: string;
  args: Record<string, unknown>;
}

/** `words`: the verb and what follows, runc's global flags already moved after it (argv.ts). */
export function parseRuntimeWords(words: string[]): ParsedVerb | undefined {
  const [verb, ...rest] = words;
  const syntax = verb === undefined || !Object.hasOwn(RUNTIME_SYNTAX, verb) ? undefined : RUNTIME_SYNTAX[verb];
  if (syntax === undefined) return undefined;
  const options = [...GLOBAL_OPTIONS, ...syntax.options];
  const args: Record<string, unknown> = Object.fromEntries(
    options.filter((o) => o.initial !== undefined).map((o) => [o.key, structuredClone(o.initial)]),
  );
  const operands: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!;
    if (syntax.rest !== undefined && operands.length === syntax.operands.length) {
      args[syntax.rest] = rest.slice(i); // clipanion's proxy: every word after the id, as given
      break;
    }
    if (!word.startsWith('-')) {
      operands.push(word);
      continue;
    }
    const eq = word.indexOf('=');
    const option = options.find((o) => o.names.includes(eq < 0 ? word : word.slice(0, eq)));
    if (option === undefined) return undefined;
    if (option.kind === 'boolean') {
      if (eq >= 0) return undefined;
      args[option.key] = true;
      continue;
    }
    const value = eq >= 0 ? word.slice(eq + 1) : rest[++i];
    if (value === undefined || (eq < 0 && value.startsWith('-'))) return undefined;
    if (option.kind === 'count' && !/^\d+$/.test(value)) return undefined;
    if (option.kind === 'array') (args[option.key] as string[]).push(value);
    else args[option.key] = option.kind === 'count' ? Number(value) : value;
  }
  return bindOperands(verb!, syntax, operands, args);
}

function bindOperands(
  verb: string,
  syntax: VerbSyntax,
  operands: string[],
  args: Record<string, unknown>,
): ParsedVerb | undefined {
  const most = syntax.operands.length + (syntax.optional === undefined ? 0 : 1);
  if (operands.length < syntax.operands.length || operands.length > most) return undefined;
  syntax.operands.forEach((key, i) => (args[key] = operands[i]));
  if (syntax.optional !== undefined && operands.length === most) args[syntax.optional] = operands[most - 1];
  if (syntax.rest !== undefined) args[syntax.rest] ??= [];
  return { verb, args };
}
