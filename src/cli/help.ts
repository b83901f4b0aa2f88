import { Cli, type CommandClass } from 'clipanion';
import { useLazyParser } from './parser.js';

/**
 * hutch's clipanion Cli, with help as a newcomer reads it: value names instead of clipanion's
 * `#0` placeholders (`--memory BYTES`), operands in docker's style (`IMAGE [COMMAND [ARG...]]`),
 * `[OPTIONS]` in usage lines instead of every option inline, and no colour codes when stdout is
 * not a terminal or NO_COLOR is set (clipanion decides by $TERM alone); its parser's machine made
 * only where a command line goes (parser.ts).
 */
export class HutchCli extends Cli {
  constructor(options: { binaryLabel: string; binaryName: string; binaryVersion: string }) {
    super({ ...options, enableColors: wantsColor(process.stdout, process.env) });
    useLazyParser(this);
  }

  /** The usage line of a command and its option list, with real value and operand names. */
  protected override getUsageByIndex(
    n: number,
    opts?: { detailed?: boolean; inlineOptions?: boolean },
  ): { usage: string; options: { definition: string; description: string; required: boolean }[] } {
    const raw = super.getUsageByIndex(n, { ...opts, inlineOptions: false });
    if (opts?.detailed === false) return raw;
    const klass = [...this.registrations].find(([, r]) => r.index === n)?.[0];
    return {
      usage: shortUsage(raw.usage, klass, raw.options.length > 0),
      options: raw.options.map((o) => ({ ...o, definition: nameValues(o.definition) })),
    };
  }
}

/** Colour only for a terminal, and never with NO_COLOR set (https://no-color.org). */
export function wantsColor(stdout: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stdout.isTTY === true && !env.NO_COLOR;
}

/** A command class may name its operands itself (`static operands = 'IMAGE [COMMAND [ARG...]]'`). */
type Documented = CommandClass & { operands?: string };

/**
 * `hutch run <arg> ...` (clipanion's form, options left out) as `hutch run [OPTIONS] IMAGE ...`:
 * the class's own operands when it names them, else clipanion's positionals upper-cased.
 */
export function shortUsage(usage: string, klass: Documented | undefined, hasOptions: boolean): string {
  const path = klass?.paths?.find((p) => usage.startsWith(['hutch', ...p].join(' '))) ?? [];
  const head = ['hutch', ...path].join(' ');
  const operands = klass?.operands ?? operandNames(usage.slice(head.length).trim());
  return [head, hasOptions ? '[OPTIONS]' : '', operands].filter((s) => s !== '').join(' ');
}

/** `<containers> ...` -> `CONTAINER...`, `<id>` -> `ID`, `[name]` -> `[NAME]`, `...` -> `[ARG...]`. */
export function operandNames(positionals: string): string {
  return positionals
    .replace(/<(\w+?)s?> \.\.\./g, (_, name: string) => `${name.toUpperCase()}...`)
    .replace(/<(\w+)>/g, (_, name: string) => name.toUpperCase())
    .replace(/\[(\w+)\]/g, (_, name: string) => `[${name.toUpperCase()}]`)
    .replace(/(^| )\.\.\.$/, '$1[ARG...]');
}

/** `--memory #0` -> `--memory BYTES`: the value's name by the option's long name, else VALUE. */
export function nameValues(definition: string): string {
  const long =
    definition
      .split(' ')[0]!
      .split(',')
      .find((n) => n.startsWith('--')) ?? '';
  return definition.replace(/ #\d+/g, ` ${VALUE_NAMES[long] ?? 'VALUE'}`);
}

const VALUE_NAMES: Record<string, string> = {
  '--add-host': 'HOST:IP',
  '--apparmor': 'PROFILE',
  '--authfile': 'FILE',
  '--blkio-weight': 'WEIGHT',
  '--blkio-weight-device': 'DEVICE:WEIGHT',
  '--bundle': 'DIR',
  '--cap': 'CAP',
  '--cap-add': 'CAP',
  '--cap-drop': 'CAP',
  '--cgroup-manager': 'MANAGER',
  '--cgroup-parent': 'PARENT',
  '--cgroups': 'MODE',
  '--console-socket': 'SOCKET',
  '--cpu-period': 'MICROSECONDS',
  '--cpu-quota': 'MICROSECONDS',
  '--cpu-shares': 'SHARES',
  '--cpu-weight': 'WEIGHT',
  '--cpus': 'N',
  '--cpuset-cpus': 'CPUS',
  '--cpuset-mems': 'NODES',
  '--creds': 'USER:PASSWORD',
  '--cwd': 'DIR',
  '--device-read-bps': 'DEVICE:RATE',
  '--device-read-iops': 'DEVICE:RATE',
  '--device-write-bps': 'DEVICE:RATE',
  '--device-write-iops': 'DEVICE:RATE',
  '--dns': 'IP',
  '--dns-option': 'OPTION',
  '--dns-search': 'DOMAIN',
  '--entrypoint': 'COMMAND',
  '--env': 'KEY=VALUE',
  '--env-file': 'FILE',
  '--format': 'FORMAT',
  '--gidmap': 'CONTAINER:HOST:SIZE',
  '--hostname': 'NAME',
  '--input': 'FILE',
  '--interval': 'SECONDS',
  '--log': 'FILE',
  '--log-format': 'FORMAT',
  '--memory': 'BYTES',
  '--memory-reservation': 'BYTES',
  '--memory-swap': 'BYTES',
  '--name': 'NAME',
  '--network': 'MODE',
  '--output': 'PATH',
  '--password': 'PASSWORD',
  '--pid-file': 'FILE',
  '--pids-limit': 'N',
  '--platform': 'OS/ARCH',
  '--preserve-fds': 'N',
  '--process': 'FILE',
  '--process-label': 'LABEL',
  '--publish': '[IP:][HOSTPORT:]PORT',
  '--pull': 'POLICY',
  '--restart': 'POLICY',
  '--root': 'DIR',
  '--rootfs': 'DIR',
  '--rootless': 'BOOL',
  '--signal': 'SIGNAL',
  '--storage-driver': 'DRIVER',
  '--tail': 'N',
  '--time': 'SECONDS',
  '--tmpfs': 'DST[:OPTIONS]',
  '--uidmap': 'CONTAINER:HOST:SIZE',
  '--ulimit': 'NAME=SOFT[:HARD]',
  '--user': 'USER[:GROUP]',
  '--username': 'NAME',
  '--userns': 'MODE',
  '--volume': 'SRC:DST[:ro]',
  '--workdir': 'DIR',
};
