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
  | { kind: 'mask'; path: string }
  | { kind: 'readonly'; path: string };
