import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { ConfigFileError } from '../errors.js';

/**
 * The TOML files of containers/common (registries.conf, containers.conf, storage.conf and
 * their drop-in directories), read once at the edge into plain tables: the readers then take
 * typed values out with the getters below, which name the file and key of a wrong value.
 */
export type Table = Record<string, unknown>;

/** A parsed TOML file, or undefined when it does not exist (a file that exists must parse). */
export function readToml(file: string): Table | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (['ENOENT', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw new ConfigFileError('CONF_UNREADABLE', `cannot read ${file}: ${(e as Error).message}`, {
      hint: 'make the file readable or remove it',
      cause: e,
    });
  }
  try {
    return parse(withoutCommentLines(text)) as Table;
  } catch (e) {
    const where = e instanceof TomlError ? ` at line ${e.line}, column ${e.column}` : '';
    const why = (e as Error).message.split('\n')[0];
    throw new ConfigFileError('CONF_PARSE', `cannot parse ${file}${where}: ${why}`, {
      hint: 'fix the TOML syntax (see containers-registries.conf(5), containers.conf(5))',
      cause: e,
    });
  }
}

/**
 * The text with each line that is only a comment left empty (the line numbers of errors stay).
 * containers-common's containers.conf is 24 KB, nearly all comments, which smol-toml reads a
 * character at a time: ~5 ms of every `hutch run`; a regular expression blanks them in well under
 * one. Not where a multi-line string could hold a line starting with #, nor a comment with a
 * control character (an error the parser must still see).
 */
export function withoutCommentLines(text: string): string {
  if (text.includes('"""') || text.includes("'''")) return text;
  // eslint-disable-next-line no-control-regex -- the control characters TOML refuses in a comment
  return text.replace(/^[ \t]*#[^\x00-\x08\x0a-\x1f\x7f]*$/gm, '');
}

/** The `*.conf` files of a drop-in directory, in the alphanumeric order the man pages give. */
export function dropIns(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => n.endsWith('.conf'))
      .sort()
      .map((n) => join(dir, n));
  } catch {
    return [];
  }
}

/** Typed access to one file's table; a value of the wrong type is an error naming file and key. */
export class TomlView {
  constructor(
    readonly file: string,
    readonly table: Table,
    readonly path = '',
  ) {}

  private wrong(key: string, want: string): never {
    throw new ConfigFileError('CONF_VALUE', `${this.file}: ${this.path}${key} must be ${want}`, {
      hint: 'fix the value (see containers-registries.conf(5), containers.conf(5), containers-storage.conf(5))',
    });
  }

  has(key: string): boolean {
    return this.table[key] !== undefined;
  }

  str(key: string): string | undefined {
    const v = this.table[key];
    if (v === undefined) return undefined;
    return typeof v === 'string' ? v : this.wrong(key, 'a string');
  }

  bool(key: string): boolean | undefined {
    const v = this.table[key];
    if (v === undefined) return undefined;
    return typeof v === 'boolean' ? v : this.wrong(key, 'true or false');
  }

  strings(key: string): string[] | undefined {
    const v = this.table[key];
    if (v === undefined) return undefined;
    return Array.isArray(v) && v.every((x) => typeof x === 'string')
      ? (v as string[])
      : this.wrong(key, 'an array of strings');
  }

  /** A sub-table (`[key]`); undefined when absent. */
  sub(key: string): TomlView | undefined {
    const v = this.table[key];
    if (v === undefined) return undefined;
    return isTable(v) ? new TomlView(this.file, v, `${this.path}${key}.`) : this.wrong(key, 'a table');
  }

  /** An array of tables (`[[key]]`); empty when absent. */
  subs(key: string): TomlView[] {
    const v = this.table[key];
    if (v === undefined) return [];
    if (!Array.isArray(v) || !v.every(isTable)) return this.wrong(key, 'an array of tables ([[' + key + ']])');
    return v.map((t, i) => new TomlView(this.file, t as Table, `${this.path}${key}[${i}].`));
  }

  /** A table of strings (`[aliases]`). */
  stringMap(key: string): Map<string, string> | undefined {
    const t = this.sub(key);
    if (t === undefined) return undefined;
    const out = new Map<string, string>();
    for (const k of Object.keys(t.table)) out.set(k, t.str(k)!);
    return out;
  }
}

function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}
