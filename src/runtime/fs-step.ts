/** One filesystem step of the helper, carried out in order before pivot_root. */
export type FsStep =
  | {
      kind: 'mount';
      source: string;
      target: string;
      fstype: string;
      flags: number;
      data: string;
      mkdir?: boolean;
      mkfile?: boolean;
      remountRo?: boolean;
      copyUp?: boolean;
      noSymlinks?: boolean;
      what: string;
    }
  | { kind: 'sysctl'; key: string; path: string; value: string }
  | { kind: 'symlink'; target: string; linkpath: string }
  /** A directory made (with its parents) inside the root with `mode`; `what` names it for errors (the container path). */
  | { kind: 'dir'; path: string; mode: number; what: string }
  /** A file inside the root holding `data` with `mode`: new, or bound on the path (read-only with `bind: 'ro'`). */
  | { kind: 'file'; path: string; mode: number; data: Buffer; bind?: 'rw' | 'ro'; what: string }
  /** A symlink made inside the root (parents made; an identical one is fine); `target` is its text, never followed. */
  | { kind: 'symlink-in-root'; target: string; linkpath: string; what: string }
  /** chmod of what the path names inside the root (symlinks followed there); it must exist. */
  | { kind: 'chmod'; path: string; mode: number; what: string }
  | { kind: 'mask'; path: string }
  | { kind: 'readonly'; path: string };
