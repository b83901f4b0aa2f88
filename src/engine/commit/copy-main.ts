// The entry point of `hutch cp`'s container side: started by hutch as root of the container's user
// namespace, it makes the container's root filesystem its own root (chroot), so that every path,
// `..` and symlink of the container resolves inside it, then packs a path to stdout or unpacks
// stdin at a path. argv (one JSON object): CopierRequest.
import { enterRoot } from '../../sys/chroot.js';
import { packPath } from './copy-pack.js';
import { unpackTo, type UnpackOptions } from './copy-unpack.js';

/** What the copier is asked to do, as JSON in argv[2]. */
export type CopierRequest =
  | { op: 'out'; root: string; path: string; follow: boolean }
  | ({ op: 'in'; root: string; path: string } & Pick<UnpackOptions, 'mode' | 'dirOnly' | 'owner'>);

async function copy(req: CopierRequest): Promise<void> {
  enterRoot(req.root);
  if (req.op === 'out') return packPath(req.path, process.stdout, { follow: req.follow });
  return unpackTo(process.stdin, req.path, {
    mode: req.mode,
    dirOnly: req.dirOnly,
    owner: req.owner,
    contained: false,
    warn: (line) => void process.stderr.write(`hutch: warning: ${line}\n`),
  });
}

process.exitCode = 1;
// No top-level await: the bundle is CommonJS (scripts/bundle.mjs).
new Promise<CopierRequest>((resolve) => resolve(JSON.parse(process.argv[2] ?? '') as CopierRequest)).then(copy).then(
  () => {
    process.exitCode = 0;
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${message.replace(/\n/g, ' ')}\n`);
    process.exitCode = 1;
  },
);
