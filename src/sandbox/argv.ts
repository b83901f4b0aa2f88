import { UsageError } from '../errors.js';
import { DEVICE_KINDS, SOCKET_KINDS, type SandboxBind, type SandboxOptions } from './options.js';

/**
 * `hutch sandbox`'s flags, bubblewrap's way: each takes a fixed number of words, may repeat, and
 * the command starts after `--` (or at the first word that is not a flag). One table: the parser
 * reads it and the help shows it (src/cli/commands/sandbox.ts), so the two cannot drift.
 */
export const SANDBOX_FLAGS = {
  '--bind': { args: ['SRC', 'DST'], help: 'bind SRC (host) at DST (sandbox) read-write' },
  '--bind-try': { args: ['SRC', 'DST'], help: 'as --bind, skipped when SRC is missing' },
  '--ro-bind': { args: ['SRC', 'DST'], help: 'bind SRC at DST read-only' },
  '--ro-bind-try': { args: ['SRC', 'DST'], help: 'as --ro-bind, skipped when SRC is missing' },
  '--dev-bind': { args: ['SRC', 'DST'], help: 'bind SRC at DST read-write, its devices usable' },
  '--dev-bind-try': { args: ['SRC', 'DST'], help: 'as --dev-bind, skipped when SRC is missing' },
  '--tmpfs': { args: ['DST'], help: 'an empty tmpfs at DST (mode 0755)' },
  '--dir': { args: ['DST'], help: 'make the directory DST (and its parents, mode 0755) inside' },
  '--symlink': { args: ['TARGET', 'DST'], help: 'make a symlink at DST inside whose text is TARGET' },
  '--file': { args: ['FD', 'DST'], help: 'copy what fd FD holds to a new file DST inside (mode 0666)' },
  '--bind-data': { args: ['FD', 'DST'], help: 'what fd FD holds, in a file bound at DST (mode 0600)' },
  '--ro-bind-data': { args: ['FD', 'DST'], help: 'as --bind-data, read-only' },
  '--perms': { args: ['OCTAL'], help: 'the mode of the next --dir, --tmpfs, --file or --bind-data' },
  '--size': { args: ['BYTES'], help: 'the size of the next --tmpfs, in bytes' },
  '--chmod': { args: ['OCTAL', 'PATH'], help: 'set the mode of PATH inside, after every other flag' },
  '--home': { args: ['DIR'], help: 'bind DIR read-write at $HOME (default: an empty tmpfs)' },
  '--share-net': { args: [], help: "share the host's network (default: none, only lo)" },
  '--chdir': { args: ['DIR'], help: 'working directory inside (default: $HOME)' },
  '--setenv': { args: ['VAR', 'VALUE'], help: 'set VAR to VALUE inside' },
  '--unsetenv': { args: ['VAR'], help: 'remove VAR from the environment inside' },
  '--clearenv': { args: [], help: 'pass none of your environment (HOME, --setenv and sockets only)' },
  '--die-with-parent': { args: [], help: 'end the sandbox when the process that started hutch dies' },
  '--socket': { args: ['KIND'], help: `pass a session socket through: ${SOCKET_KINDS.join(', ')}` },
  '--device': { args: ['KIND'], help: `pass host devices through: ${DEVICE_KINDS.join(', ')} (/dev/dri)` },
} as const satisfies Record<string, { args: readonly string[]; help: string }>;

type Flag = keyof typeof SANDBOX_FLAGS;
const BIND_KINDS: Record<string, SandboxBind['kind']> = { bind: 'bind', 'ro-bind': 'ro-bind', 'dev-bind': 'dev-bind' };
/** The flags that only set something of the next flag (bubblewrap's), what that is, and the flags they may precede. */
const MODIFIERS = {
  '--perms': { what: 'mode', before: ['--dir', '--tmpfs', '--file', '--bind-data', '--ro-bind-data'] },
  '--size': { what: 'size', before: ['--tmpfs'] },
} as const satisfies Partial<Record<Flag, { what: string; before: readonly Flag[] }>>;
type Modifier = keyof typeof MODIFIERS;
/** The modifiers given right before a flag: their values as given (checked). */
interface Pending {
  '--perms'?: string;
  '--size'?: string;
}

/** Parses `hutch sandbox`'s words (after the verb) into options; throws UsageError on a bad one. */
export function parseSandboxArgs(words: string[]): SandboxOptions {
  const options: SandboxOptions = {
    args: [],
    binds: [],
    shareNet: false,
    setenv: [],
    unsetenv: [],
    clearenv: false,
    dieWithParent: false,
    sockets: [],
    devices: [],
    chmod: [],
  };
  let i = 0;
  let pending: Pending = {}; // --perms and --size not yet taken by the flag after them
  while (i < words.length && words[i] !== '--' && words[i]!.startsWith('--')) {
    const flag = words[i] as Flag;
    const spec = SANDBOX_FLAGS[flag] as { args: readonly string[] } | undefined;
    if (spec === undefined) throw usage(`unknown flag ${words[i]}`, 'see `hutch sandbox --help`');
    const values = words.slice(i + 1, i + 1 + spec.args.length);
    if (values.length < spec.args.length)
      throw usage(`${flag} needs ${spec.args.join(' ')}`, `give ${flag} ${spec.args.join(' ')}`);
    checkPending(pending, flag);
    if (flag === '--perms' || flag === '--size') {
      // checked here: before anything is read or run
      if (flag === '--size') size(values[0]!);
      else octal(flag, values[0]!);
      pending[flag] = values[0]!;
    } else {
      apply(options, flag, values, pending);
      pending = {};
    }
    i += 1 + spec.args.length;
  }
  checkPending(pending, undefined);
  options.args = words.slice(words[i] === '--' ? i + 1 : i);
  if (options.args.length === 0) throw usage('no command given', 'give one after --, e.g. hutch sandbox -- sh');
  return options;
}

/** A --perms or --size waiting must be followed by a flag it applies to (`next`; undefined: the flags ended). */
function checkPending(pending: Pending, next: Flag | undefined): void {
  for (const [modifier, { what, before }] of Object.entries(MODIFIERS)) {
    const given = pending[modifier as Modifier];
    if (given === undefined) continue;
    const hint = `put ${modifier} right before ${before.length > 1 ? 'one of ' : ''}${before.join(', ')}`;
    if (next === undefined) throw usage(`${modifier} ${given} is not followed by a flag it applies to`, hint);
    if (next === modifier) throw usage(`${modifier} ${given} is followed by ${next}: one flag takes one ${what}`, hint);
    if (!(next in MODIFIERS) && !(before as readonly string[]).includes(next))
      throw usage(`${modifier} ${given} is followed by ${next}, which takes no ${what}`, hint);
  }
}

function apply(options: SandboxOptions, flag: Flag, [a, b]: string[], pending: Pending): void {
  const bind = /^--(bind|ro-bind|dev-bind)(-try)?$/.exec(flag);
  if (bind !== null) {
    options.binds.push({ kind: BIND_KINDS[bind[1]!]!, source: a!, destination: b!, optional: bind[2] !== undefined });
    return;
  }
  const perms = pending['--perms'];
  const mode = perms === undefined ? {} : { mode: octal('--perms', perms) };
  const data = /^--(file|bind-data|ro-bind-data)$/.exec(flag);
  if (data !== null)
    options.binds.push({ kind: data[1] as 'file', fd: fdNumber(options, flag, a!), destination: b!, ...mode });
  else if (flag === '--tmpfs') {
    const bytes = pending['--size'];
    options.binds.push({
      kind: 'tmpfs',
      destination: a!,
      ...mode,
      ...(bytes === undefined ? {} : { size: size(bytes) }),
    });
  } else if (flag === '--chmod') options.chmod.push({ mode: octal(flag, a!), path: b! });
  else if (flag === '--dir') options.binds.push({ kind: 'dir', destination: a!, ...mode });
  else if (flag === '--symlink') options.binds.push({ kind: 'symlink', target: a!, destination: b! });
  else if (flag === '--home') options.home = a;
  else if (flag === '--share-net') options.shareNet = true;
  else if (flag === '--chdir') options.chdir = a;
  else if (flag === '--setenv') options.setenv.push([a!, b!]);
  else if (flag === '--unsetenv') options.unsetenv.push(a!);
  else if (flag === '--clearenv') options.clearenv = true;
  else if (flag === '--die-with-parent') options.dieWithParent = true;
  else if (flag === '--socket') options.sockets.push(oneOf(flag, a!, SOCKET_KINDS));
  else if (flag === '--device') options.devices.push(oneOf(flag, a!, DEVICE_KINDS));
}

/** --perms OCTAL, --chmod OCTAL PATH: octal digits, at most 07777 (bubblewrap's rule). */
function octal(flag: string, value: string): number {
  if (!/^[0-7]{1,5}$/.test(value) || parseInt(value, 8) > 0o7777)
    throw new UsageError('SANDBOX_FLAG_VALUE', `invalid ${flag} ${value}: not an octal mode of at most 07777`, {
      hint: `give the mode in octal, e.g. ${flag} 0700`,
    });
  return parseInt(value, 8);
}

/** The largest --size: bubblewrap's (half the address space of 64 bits). */
const SIZE_MAX = (1n << 63n) - 1n;

/** --size BYTES: a decimal number of bytes, 1 to 2^63-1 (bubblewrap's limits), without its leading zeros. */
function size(value: string): string {
  const bytes = /^[0-9]{1,20}$/.test(value) ? BigInt(value) : 0n;
  if (bytes === 0n || bytes > SIZE_MAX)
    throw new UsageError('SANDBOX_FLAG_VALUE', `invalid --size ${value}: not a number of bytes from 1 to ${SIZE_MAX}`, {
      hint: 'give the size in bytes, in decimal, e.g. --size 10485760 (10 MiB)',
    });
  return String(bytes);
}

/**
 * The FD of --file, --bind-data or --ro-bind-data: a decimal number above 2 (0-2 are the command's
 * own stdio) that no earlier flag took (the front reads each fd to its end once, then closes it).
 */
function fdNumber(options: SandboxOptions, flag: string, value: string): number {
  const fd = /^[0-9]{1,9}$/.test(value) ? Number(value) : NaN;
  const taken = options.binds.some((b) => 'fd' in b && b.fd === fd);
  if (!Number.isInteger(fd) || fd < 3 || taken)
    throw new UsageError(
      'SANDBOX_FLAG_VALUE',
      `invalid ${flag} FD ${value}: ${taken ? 'an earlier flag reads that fd already' : 'not a file descriptor number of 3 or more'}`,
      { hint: `open a descriptor of its own for it, e.g. ${flag} 3 DST 3< FILE` },
    );
  return fd;
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value))
    throw new UsageError('SANDBOX_FLAG_VALUE', `invalid ${flag} ${value}: not one of ${allowed.join(', ')}`, {
      hint: `use ${flag} ${allowed.join(` or ${flag} `)}`,
    });
  return value as T;
}

function usage(what: string, hint: string): UsageError {
  return new UsageError('SANDBOX_USAGE', `cannot run hutch sandbox: ${what}`, { hint });
}
