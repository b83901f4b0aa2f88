/** A bind as bubblewrap names them: --bind (rw), --ro-bind, --dev-bind (devices usable); -try: skip a missing source. */
export interface SandboxBind {
  kind: 'bind' | 'ro-bind' | 'dev-bind';
  source: string;
  destination: string;
  /** The -try form: a missing source is skipped, not an error. */
  optional: boolean;
}

/** --tmpfs DST: an empty tmpfs (mode 0755, as bubblewrap's, or --perms), placed among the binds by depth. */
export interface SandboxTmpfs {
  kind: 'tmpfs';
  destination: string;
  /** --perms before it. */
  mode?: number;
  /** --size before it: bytes, in decimal without leading zeros (the mount's size=). */
  size?: string;
}

/** --dir DST: a directory (and its missing parents, mode 0755 or --perms) made inside the sandbox's root. */
export interface SandboxDir {
  kind: 'dir';
  destination: string;
  mode?: number;
}

/**
 * --file FD DST (a new file), --bind-data / --ro-bind-data FD DST (a file bound at DST): the bytes
 * read from the caller's fd FD (mode 0666 for --file, 0600 for the binds, as bubblewrap's, or --perms).
 */
export interface SandboxData {
  kind: 'file' | 'bind-data' | 'ro-bind-data';
  fd: number;
  destination: string;
  mode?: number;
}

/** --symlink TARGET DST: a symlink at DST inside the root whose text is TARGET (never followed). */
export interface SandboxSymlink {
  kind: 'symlink';
  target: string;
  destination: string;
}

/** A filesystem flag of the command line: binds, tmpfs mounts, directories and symlinks. */
export type SandboxFsFlag = SandboxBind | SandboxTmpfs | SandboxDir | SandboxSymlink | SandboxData;

export const SOCKET_KINDS = ['wayland', 'x11', 'pulseaudio', 'pipewire', 'dbus'] as const;
export type SocketKind = (typeof SOCKET_KINDS)[number];
export const DEVICE_KINDS = ['dri'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

/** What `hutch sandbox` was asked for (src/cli/commands/sandbox.ts fills it from the flags). */
export interface SandboxOptions {
  args: string[];
  /** The binds, tmpfs mounts, directories, symlinks and data files of the flags, in command-line order. */
  binds: SandboxFsFlag[];
  /** A host directory bound read-write at $HOME; else $HOME is an empty tmpfs. */
  home?: string;
  shareNet: boolean;
  /** The working directory inside; default $HOME (or / without one). */
  chdir?: string;
  setenv: [string, string][];
  unsetenv: string[];
  clearenv: boolean;
  dieWithParent: boolean;
  sockets: SocketKind[];
  devices: DeviceKind[];
  /** --chmod OCTAL PATH, in command-line order: done after every other step, PATH resolved inside the root. */
  chmod: { mode: number; path: string }[];
}
