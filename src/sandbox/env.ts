import type { SandboxOptions } from './options.js';

/**
 * Variables never passed from the caller: they name a way out of the sandbox (agent and bus
 * sockets, display servers, the session manager, systemd's fds and sockets), code the dynamic
 * loader would inject, or hutch's own settings. A socket asked for with --socket sets its own.
 */
const BLOCKED = new Set([
  'DBUS_SESSION_BUS_ADDRESS',
  'DBUS_SYSTEM_BUS_ADDRESS',
  'DISPLAY',
  'GPG_AGENT_INFO',
  'INVOCATION_ID',
  'JOURNAL_STREAM',
  'KRB5CCNAME',
  'LD_AUDIT',
  'LD_PRELOAD',
  'LISTEN_FDNAMES',
  'LISTEN_FDS',
  'LISTEN_PID',
  'MANAGERPID',
  'NOTIFY_SOCKET',
  'PIPEWIRE_REMOTE',
  'PULSE_COOKIE',
  'PULSE_SERVER',
  'SESSION_MANAGER',
  'SSH_AGENT_PID',
  'SSH_AUTH_SOCK',
  'STY',
  'SYSTEMD_EXEC_PID',
  'TMUX',
  'TMUX_PANE',
  'WAYLAND_DISPLAY',
  'WAYLAND_SOCKET',
  'XAUTHORITY',
  'XDG_RUNTIME_DIR',
]);

const blocked = (name: string): boolean => BLOCKED.has(name) || name.startsWith('HUTCH_');

/**
 * The sandbox's environment: the caller's minus the blocklist (nothing with --clearenv), then
 * `own` (HOME, what the asked-for sockets set), then --setenv, less --unsetenv. Pure.
 */
export function sandboxEnv(
  options: Pick<SandboxOptions, 'clearenv' | 'setenv' | 'unsetenv'>,
  hostEnv: NodeJS.ProcessEnv,
  own: Record<string, string>,
): string[] {
  const env = new Map<string, string>();
  if (!options.clearenv)
    for (const [name, value] of Object.entries(hostEnv))
      if (value !== undefined && !blocked(name)) env.set(name, value);
  for (const [name, value] of Object.entries(own)) env.set(name, value);
  for (const [name, value] of options.setenv) env.set(name, value);
  for (const name of options.unsetenv) env.delete(name);
  return [...env].map(([name, value]) => `${name}=${value}`);
}
