import { lstatSync, readdirSync, readFileSync, realpathSync, type Stats } from 'node:fs';
import { join, sep } from 'node:path';
import { UsageError } from '../errors.js';
import { cleanPath } from './image-tree.js';

/** The build context: a directory and what its .dockerignore (or .containerignore) leaves out. */
export interface BuildContext {
  dir: string;
  ignored(rel: string): boolean;
}

/** One file of the context to copy: its path relative to the context and its lstat. */
export interface ContextFile {
  rel: string;
  path: string;
  st: Stats;
}

export function openContext(dir: string): BuildContext {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch (error) {
    throw new UsageError('BUILD_CONTEXT_MISSING', `cannot use ${dir} as the build context: it does not exist`, {
      hint: 'give hutch build a directory (often .)',
      cause: error,
    });
  }
  const patterns = ['.containerignore', '.dockerignore']
    .map((n) => readText(join(real, n)))
    .find((t) => t !== undefined);
  return { dir: real, ignored: ignoreMatcher(patterns ?? '') };
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * .dockerignore's rules: one pattern a line (`#` comments), `*`, `?` and `**` (any number of
 * directories), `!` re-includes; the last pattern that matches a path or one of its parents wins.
 */
export function ignoreMatcher(text: string): (rel: string) => boolean {
  const rules = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const exclude = l.startsWith('!');
      return { exclude, re: globRegExp(cleanPath(exclude ? l.slice(1).trim() : l)) };
    });
  return (rel) => {
    const parts = rel.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const rule of rules) if (prefixes.some((p) => rule.re.test(p))) ignored = !rule.exclude;
    return ignored;
  };
}

/** A glob (`*`, `?`, `[...]`, `**`) as a regular expression over a whole slash-separated path. */
export function globRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i);
      if (end < 0) re += '\\[';
      else {
        re += `[${glob
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * The context paths a COPY/ADD source names (a path or a glob), each checked to lie inside the
 * context once symlinks are followed: `../x`, an absolute path out of it or a symlink leaving
 * it is refused. Paths .dockerignore leaves out are not there.
 */
export function contextSources(ctx: BuildContext, src: string, where: string): string[] {
  const rel = cleanPath(src);
  const escapes =
    src
      .split('/')
      .reduce((depth, p) => (depth < 0 ? depth : p === '..' ? depth - 1 : p && p !== '.' ? depth + 1 : depth), 0) < 0;
  if (escapes) throw outside(src, where);
  if (!/[*?[]/.test(rel)) {
    if (rel !== '' && ctx.ignored(rel)) throw missingSource(src, where, ' (.dockerignore leaves it out)');
    checkInside(ctx, rel, src, where);
    return [rel];
  }
  const re = globRegExp(rel);
  const found = walkContext(ctx, '')
    .filter((f) => re.test(f.rel))
    .map((f) => f.rel);
  if (found.length === 0) throw missingSource(src, where, '');
  for (const f of found) checkInside(ctx, f, src, where);
  return found;
}

function checkInside(ctx: BuildContext, rel: string, src: string, where: string): void {
  let real: string;
  try {
    real = realpathSync(join(ctx.dir, rel));
  } catch {
    throw missingSource(src, where, '');
  }
  if (real !== ctx.dir && !real.startsWith(ctx.dir + sep)) throw outside(src, where);
}

function outside(src: string, where: string): UsageError {
  return new UsageError('BUILD_SOURCE_OUTSIDE', `cannot copy ${src} at ${where}: it is outside the build context`, {
    hint: 'COPY and ADD read only files inside the context directory; move the file into it',
  });
}

function missingSource(src: string, where: string, why: string): UsageError {
  return new UsageError(
    'BUILD_SOURCE_MISSING',
    `cannot copy ${src} at ${where}: no such file in the build context${why}`,
    {
      hint: 'check the path (relative to the context directory) and .dockerignore',
    },
  );
}

/** Every entry under `rel` (itself first), depth first in name order, ignored paths left out; symlinks not followed. */
export function walkContext(ctx: BuildContext, rel: string): ContextFile[] {
  const out: ContextFile[] = [];
  const visit = (r: string): void => {
    const path = join(ctx.dir, r);
    const st = lstatSync(path);
    out.push({ rel: r, path, st });
    if (!st.isDirectory()) return;
    for (const name of readdirSync(path).sort()) {
      const child = r === '' ? name : `${r}/${name}`;
      if (!ctx.ignored(child)) visit(child);
    }
  };
  visit(rel);
  return out;
}
