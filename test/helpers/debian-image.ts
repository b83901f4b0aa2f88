// A debootstrap'ed Debian 12 for tests: scripts/debian-image.sh builds it as root (in the root
// part of `npm test`) once per machine into a tarball the test user reads; tests import it the way
// a user would (`hutch import`). Also small local .deb packages built with dpkg-deb at test time,
// and a fingerprint of a store's unpacked layers to prove a container never changed them.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import { hutch, REPO } from './hutch-cli.js';

/** The cached tarball; throws (never skips) when the root part of `npm test` did not build it. */
export function debianTarball(): string {
  const path = execFileSync('bash', [join(REPO, 'scripts', 'debian-image.sh'), '--print-path'], {
    encoding: 'utf8',
  }).trim();
  if (!existsSync(path)) {
    throw new Error(
      `test host is missing a prerequisite: the Debian image ${path} (run \`npm test\` as root: it builds it with debootstrap)`,
    );
  }
  return path;
}

/** Imports the cached Debian tarball into the store at `root` as `name`. */
export async function importDebian(root: string, name: string): Promise<void> {
  const r = await hutch(['import', '--root', root, debianTarball(), name]);
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
}

export interface DebSpec {
  name: string;
  version: string;
  /** Files under the package root (path -> content); a trailing / makes a directory. */
  files: Record<string, string>;
  /** Hard links: link path -> existing file path. */
  hardlinks?: Record<string, string>;
  /** Symlinks: link path -> target. */
  symlinks?: Record<string, string>;
  /** Maintainer scripts (postinst, postrm, ...), without the #!/bin/sh line. */
  scripts?: Record<string, string>;
  conffiles?: string[];
}

/** Builds `dir/NAME_VERSION_all.deb` with dpkg-deb (files owned by root:root); returns its path. */
export function buildDeb(dir: string, spec: DebSpec): string {
  const tree = join(dir, `${spec.name}-${spec.version}`);
  mkdirSync(join(tree, 'DEBIAN'), { recursive: true });
  for (const [path, content] of Object.entries(spec.files)) {
    if (path.endsWith('/')) {
      mkdirSync(join(tree, path), { recursive: true });
      continue;
    }
    mkdirSync(dirname(join(tree, path)), { recursive: true });
    writeFileSync(join(tree, path), content, { mode: path.includes('/bin/') ? 0o755 : 0o644 });
  }
  for (const [link, target] of Object.entries(spec.hardlinks ?? {})) linkSync(join(tree, target), join(tree, link));
  for (const [link, target] of Object.entries(spec.symlinks ?? {})) symlinkSync(target, join(tree, link));
  const control = [
    `Package: ${spec.name}`,
    `Version: ${spec.version}`,
    'Architecture: all',
    'Maintainer: hutch tests <tests@hutch.invalid>',
    'Priority: optional',
    'Section: misc',
    'Description: a package built by the hutch test suite',
    '',
  ];
  writeFileSync(join(tree, 'DEBIAN', 'control'), control.join('\n'));
  if (spec.conffiles) writeFileSync(join(tree, 'DEBIAN', 'conffiles'), spec.conffiles.map((c) => `${c}\n`).join(''));
  for (const [name, body] of Object.entries(spec.scripts ?? {})) {
    writeFileSync(join(tree, 'DEBIAN', name), `#!/bin/sh\nset -e\n${body}\n`);
    chmodSync(join(tree, 'DEBIAN', name), 0o755);
  }
  chmodSync(tree, 0o755);
  const deb = join(dir, `${spec.name}_${spec.version}_all.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', tree, deb], { stdio: 'pipe' });
  return deb;
}

/**
 * A fingerprint of every entry of the store's unpacked layers and their indexes: path, type,
 * mode, size, inode, mtime and ctime (any write, chmod, chown, link or rename changes one of them),
 * and the content of the index files.
 */
export function layersFingerprint(root: string): string {
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const st = lstatSync(path, { bigint: true });
      hash.update(`${path} ${st.mode} ${st.size} ${st.ino} ${st.nlink} ${st.uid} ${st.mtimeNs} ${st.ctimeNs}\n`);
      if (st.isDirectory()) walk(path);
      else if (name.endsWith('.hli')) hash.update(readFileSync(path));
    }
  };
  walk(join(root, 'data', 'layers'));
  return hash.digest('hex');
}
