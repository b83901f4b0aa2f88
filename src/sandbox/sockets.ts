import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { UsageError } from '../errors.js';
import type { Mount } from '../runtime/spec.js';
import type { DeviceKind, SocketKind } from './options.js';

/** What a passthrough adds: binds at the same path as on the host, and the variables naming them. */
export interface Passthrough {
  mounts: Mount[];
  env: Record<string, string>;
}

/** Where a socket is, from the caller's environment; throws when its address is not a path. */
type Locate = (env: NodeJS.ProcessEnv, runtimeDir: string) => { path: string; env: Record<string, string> };

const LOCATE: Record<SocketKind, Locate> = {
  wayland: (env, runtimeDir) => {
    const display = env.WAYLAND_DISPLAY || 'wayland-0';
    return {
      path: isAbsolute(display) ? display : join(runtimeDir, display),
      env: { WAYLAND_DISPLAY: display, XDG_RUNTIME_DIR: runtimeDir },
    };
  },
  x11: (env) => {
    const display = /^(?:unix)?:(\d+)(?:\.\d+)?$/.exec(env.DISPLAY ?? '');
    if (display === null) throw unsupported('x11', `DISPLAY=${env.DISPLAY ?? ''}`, 'a local display such as :0');
    return { path: `/tmp/.X11-unix/X${display[1]}`, env: { DISPLAY: `:${display[1]}` } };
  },
  pulseaudio: (env, runtimeDir) => {
    const server = env.PULSE_SERVER || `unix:${runtimeDir}/pulse/native`;
    if (!server.startsWith('unix:/')) throw unsupported('pulseaudio', `PULSE_SERVER=${server}`, 'unix:/PATH');
    const path = server.slice('unix:'.length);
    return { path, env: { PULSE_SERVER: `unix:${path}` } };
  },
  pipewire: (env, runtimeDir) => {
    const remote = env.PIPEWIRE_REMOTE || 'pipewire-0';
    const path = isAbsolute(remote) ? remote : join(runtimeDir, remote);
    return { path, env: { XDG_RUNTIME_DIR: runtimeDir, ...(env.PIPEWIRE_REMOTE ? { PIPEWIRE_REMOTE: remote } : {}) } };
  },
  dbus: (env, runtimeDir) => {
    const address = env.DBUS_SESSION_BUS_ADDRESS || `unix:path=${runtimeDir}/bus`;
    const path = /^unix:(?:.*,)?path=([^,;]+)/.exec(address)?.[1];
    if (path === undefined)
      throw unsupported(
        'dbus',
        `DBUS_SESSION_BUS_ADDRESS=${address}`,
        'unix:path=/PATH (an abstract socket cannot be bound)',
      );
    return { path, env: { DBUS_SESSION_BUS_ADDRESS: `unix:path=${path}` } };
  },
};

function unsupported(kind: SocketKind, setting: string, wanted: string): UsageError {
  return new UsageError(
    'SANDBOX_SOCKET_ADDRESS',
    `cannot pass the ${kind} socket into the sandbox: ${setting} is not a socket path`,
    {
      hint: `set it to ${wanted}, or leave out --socket ${kind}`,
    },
  );
}

/**
 * The sockets asked for with --socket, each bound read-only at its host path (connect(2) needs no
 * write access to the mount) with its variables set; a socket that is not there is an error.
 */
export function socketMounts(
  kinds: SocketKind[],
  env: NodeJS.ProcessEnv,
  uid: number,
  exists: (path: string) => boolean = existsSync,
): Passthrough {
  const runtimeDir = env.XDG_RUNTIME_DIR || `/run/user/${uid}`;
  const out: Passthrough = { mounts: [], env: {} };
  for (const kind of new Set(kinds)) {
    const found = LOCATE[kind](env, runtimeDir);
    if (!exists(found.path))
      throw new UsageError(
        'SANDBOX_SOCKET_MISSING',
        `cannot pass the ${kind} socket into the sandbox: ${found.path} does not exist`,
        {
          hint: `start the ${kind} server in your session first, or leave out --socket ${kind}`,
        },
      );
    out.mounts.push(readOnlyBind(found.path));
    Object.assign(out.env, found.env);
    if (kind === 'x11' && env.XAUTHORITY && exists(env.XAUTHORITY)) {
      out.mounts.push(readOnlyBind(env.XAUTHORITY));
      out.env.XAUTHORITY = env.XAUTHORITY;
    }
  }
  return out;
}

const DEVICE_PATHS: Record<DeviceKind, string> = { dri: '/dev/dri' };

/** --device dri: the host's GPU nodes, bound with their devices usable; a missing one is an error. */
export function deviceMounts(kinds: DeviceKind[], exists: (path: string) => boolean = existsSync): Mount[] {
  return [...new Set(kinds)].map((kind) => {
    const path = DEVICE_PATHS[kind];
    if (!exists(path))
      throw new UsageError(
        'SANDBOX_DEVICE_MISSING',
        `cannot pass --device ${kind} into the sandbox: ${path} does not exist`,
        {
          hint: 'this machine has no such device (or its driver is not loaded); leave out --device',
        },
      );
    return { destination: path, type: 'bind', source: path, options: ['rbind'] };
  });
}

function readOnlyBind(path: string): Mount {
  return { destination: path, type: 'bind', source: path, options: ['bind', 'ro'] };
}
