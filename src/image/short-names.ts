import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { stringify } from 'smol-toml';
import { RegistryError } from '../errors.js';
import { readToml } from '../config/toml.js';
import { readlinePromises } from '../sys/on-use.js';
import { parseReference, splitReference, type ImageRef } from './ref.js';
import { aliasesFile, loadRegistriesConf, type RegistriesConf } from './registries-conf.js';

/**
 * Short-name resolution as containers-registries.conf(5) defines it: a qualified name is itself;
 * a short name's alias (tag and digest stripped for the match) wins; otherwise
 * unqualified-search-registries per short-name-mode: one registry is no ambiguity; several are
 * asked on a terminal (the choice then recorded as an alias once the pull succeeds); with no
 * terminal, enforcing fails and permissive (the default) and disabled try them all in order.
 * With no search registry at all hutch keeps docker.io (docker's rule; podman fails there).
 */
export interface Resolution {
  candidates: ImageRef[];
  /** Set when the user chose: records the choice in the aliases file after a successful pull. */
  record?: (pulled: ImageRef) => void;
}

/** How to ask the user: undefined when stdin and stdout are not both a terminal. */
export type Chooser = (name: string, registries: string[]) => Promise<number>;

/** Resolves `text` for a pull. */
export async function resolveForPull(
  text: string,
  env: NodeJS.ProcessEnv = process.env,
  choose: Chooser | undefined = terminalChooser(),
): Promise<Resolution> {
  const s = short(text);
  if (s === undefined) return { candidates: [parseReference(bare(text))] };
  const conf = loadRegistriesConf(env);
  const aliased = aliasOf(conf, s);
  if (aliased !== undefined) return { candidates: [aliased] };
  const search = conf.unqualifiedSearch;
  if (search.length <= 1 || conf.shortNameMode === 'disabled') return { candidates: searchCandidates(search, s.text) };
  if (choose !== undefined) {
    const at = await choose(s.name, search);
    const ref = parseReference(s.text, search[at]);
    return {
      candidates: [ref],
      record: (pulled) => recordAlias(env, s.name, `${pulled.registry}/${pulled.repository}`),
    };
  }
  if (conf.shortNameMode === 'enforcing') {
    throw new RegistryError(
      'SHORT_NAME_AMBIGUOUS',
      `short name ${s.name} is ambiguous: ${search.length} unqualified-search registries (${search.join(', ')}) and no terminal to choose one`,
      {
        hint: `use a fully qualified name (e.g. ${search[0]}/${s.name}), add an alias to [aliases] in registries.conf, or set short-name-mode = "permissive"`,
      },
    );
  }
  return { candidates: searchCandidates(search, s.text) };
}

/** Every reference a name may mean in the store: its alias, then one per search registry (containers/image's local lookup). */
export function candidates(text: string, env: NodeJS.ProcessEnv = process.env): ImageRef[] {
  const s = short(text);
  if (s === undefined) return [parseReference(bare(text))];
  const conf = loadRegistriesConf(env);
  const aliased = aliasOf(conf, s);
  return [...(aliased !== undefined ? [aliased] : []), ...searchCandidates(conf.unqualifiedSearch, s.text)];
}

const bare = (text: string): string => (text.startsWith('docker://') ? text.slice(9) : text);

/** A short name's parts (undefined when `text` names a registry); `text` keeps the tag or digest. */
function short(text: string): { name: string; text: string } | undefined {
  const b = bare(text);
  const parts = splitReference(b);
  return parts.host === undefined ? { name: parts.path, text: b } : undefined;
}

function searchCandidates(search: string[], text: string): ImageRef[] {
  return search.length === 0 ? [parseReference(text)] : search.map((registry) => parseReference(text, registry));
}

/** The alias of a short name, with the name's own tag or digest. */
function aliasOf(conf: RegistriesConf, s: { name: string; text: string }): ImageRef | undefined {
  const target = conf.aliases.get(s.name);
  if (target === undefined) return undefined;
  const { tag, digest } = splitReference(s.text);
  return parseReference(`${target}${digest !== undefined ? `@${digest}` : tag !== undefined ? `:${tag}` : ''}`);
}

/** Writes `name = "target"` into the aliases file (kept: its other aliases), atomically. */
export function recordAlias(env: NodeJS.ProcessEnv, name: string, target: string): void {
  const file = aliasesFile(env);
  const table = readToml(file) ?? {};
  const aliases = { ...((table.aliases as Record<string, string> | undefined) ?? {}), [name]: target };
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(
    tmp,
    `# Written by hutch (as by podman) when a short name was resolved; see containers-registries.conf(5).\n${stringify({ ...table, aliases })}\n`,
  );
  renameSync(tmp, file);
}

/** Asks on the terminal which search registry a short name means. */
function terminalChooser(): Chooser | undefined {
  if (!process.stdin.isTTY || !process.stdout.isTTY) return undefined;
  return async (name, registries) => {
    const rl = readlinePromises().createInterface({ input: process.stdin, output: process.stderr });
    try {
      process.stderr.write(
        `? Please select an image for ${name}:\n${registries.map((r, i) => `  ${i + 1}. ${r}/${name}`).join('\n')}\n`,
      );
      for (;;) {
        const n = Number((await rl.question(`choice [1-${registries.length}]: `)).trim());
        if (Number.isInteger(n) && n >= 1 && n <= registries.length) return n - 1;
      }
    } finally {
      rl.close();
    }
  };
}
