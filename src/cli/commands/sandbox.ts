import { Option } from 'clipanion';
import { UsageError } from '../../errors.js';
import {
  DEVICE_KINDS,
  SOCKET_KINDS,
  type DeviceKind,
  type SandboxBind,
  type SandboxOptions,
  type SocketKind,
} from '../../sandbox/options.js';
import { HutchCommand } from '../command.js';

const SOCKETS: readonly string[] = SOCKET_KINDS;

/** `hutch sandbox`: a command confined on the host's own root (bubblewrap's job; docs/sandbox.md). */
export class SandboxCommand extends HutchCommand {
  static paths = [['sandbox']];
  static usage = HutchCommand.Usage({
    description: "run a command confined on the host's own root filesystem, as bubblewrap does",
    details:
      "The command sees the host's /usr, /etc and /opt read-only, a fresh /proc, a minimal /dev, an empty /tmp and an empty home (or --home DIR), and no network (--share-net shares the host's). It runs as you, without capabilities, under the default seccomp profile, in a session of its own. Sockets of your desktop session (--socket) and /dev/dri (--device dri) come only when asked. Exits with the command's status. Recipes: docs/sandbox.md.",
    examples: [
      ['A shell that sees none of your files', 'hutch sandbox -- bash'],
      ['A build with no network, on the current folder', 'hutch sandbox --bind "$PWD" "$PWD" --chdir "$PWD" -- make'],
      [
        'A PDF viewer on Wayland, reading one folder',
        'hutch sandbox --socket wayland --ro-bind ~/Documents ~/Documents -- evince',
      ],
    ],
  });

  bind = Option.Array('--bind', [], {
    arity: 2,
    description: 'bind SRC at DST read-write (SRC on the host, DST in the sandbox)',
  });
  bindTry = Option.Array('--bind-try', [], { arity: 2, description: 'as --bind, skipped when SRC is missing' });
  roBind = Option.Array('--ro-bind', [], { arity: 2, description: 'bind SRC at DST read-only' });
  roBindTry = Option.Array('--ro-bind-try', [], { arity: 2, description: 'as --ro-bind, skipped when SRC is missing' });
  devBind = Option.Array('--dev-bind', [], { arity: 2, description: 'bind SRC at DST read-write, its devices usable' });
  devBindTry = Option.Array('--dev-bind-try', [], {
    arity: 2,
    description: 'as --dev-bind, skipped when SRC is missing',
  });
  home = Option.String('--home', {
    description: 'bind this host directory read-write at $HOME (default: an empty tmpfs)',
  });
  shareNet = Option.Boolean('--share-net', false, { description: "share the host's network (default: none, only lo)" });
  chdir = Option.String('--chdir', { description: 'working directory inside (default: $HOME)' });
  setenv = Option.Array('--setenv', [], { arity: 2, description: 'set VAR to VALUE inside' });
  unsetenv = Option.Array('--unsetenv', [], { description: 'remove VAR from the environment inside' });
  clearenv = Option.Boolean('--clearenv', false, {
    description: 'pass none of your environment (only --setenv and sockets)',
  });
  dieWithParent = Option.Boolean('--die-with-parent', false, {
    description: 'kill the sandbox when the process that started hutch dies',
  });
  socket = Option.Array('--socket', [], { description: `pass a session socket through: ${SOCKETS.join(', ')}` });
  device = Option.Array('--device', [], { description: 'pass host devices through: dri (/dev/dri)' });
  command = Option.Proxy({ required: 1 });

  async run(): Promise<number> {
    const options = this.options();
    const { runSandbox } = await import('../../sandbox/run.js');
    return runSandbox(options);
  }

  private options(): SandboxOptions {
    const binds = (kind: SandboxBind['kind'], values: [string, string][], optional: boolean): SandboxBind[] =>
      values.map(([source, destination]) => ({ kind, source, destination, optional }));
    return {
      args: this.command[0] === '--' ? this.command.slice(1) : this.command,
      binds: [
        ...binds('bind', this.bind, false),
        ...binds('bind', this.bindTry, true),
        ...binds('ro-bind', this.roBind, false),
        ...binds('ro-bind', this.roBindTry, true),
        ...binds('dev-bind', this.devBind, false),
        ...binds('dev-bind', this.devBindTry, true),
      ],
      home: this.home,
      shareNet: this.shareNet,
      chdir: this.chdir,
      setenv: this.setenv,
      unsetenv: this.unsetenv,
      clearenv: this.clearenv,
      dieWithParent: this.dieWithParent,
      sockets: this.socket.map((s) => oneOf<SocketKind>('--socket', s, SOCKETS)),
      devices: this.device.map((d) => oneOf<DeviceKind>('--device', d, DEVICE_KINDS)),
    };
  }
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly string[]): T {
  if (!allowed.includes(value))
    throw new UsageError('SANDBOX_FLAG_VALUE', `invalid ${flag} ${value}: not one of ${allowed.join(', ')}`, {
      hint: `use ${flag} ${allowed.join(` or ${flag} `)}`,
    });
  return value as T;
}
