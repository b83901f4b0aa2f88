import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveUser } from '../engine/spec/index.js';
import { BuildError } from '../errors.js';
import type { StagedTar } from '../engine/commit/index.js';
import type { ImageConfig } from '../image/manifest.js';
import type { ImageRecord, Store } from '../image/store.js';
import { writeImage } from '../image/write-image.js';
import type { HutchPaths } from '../paths.js';
import { isArchive, packArchive } from './archive.js';
import { BuildCache } from './cache.js';
import { contextSources, type BuildContext } from './context.js';
import { copyEntries, entriesDigest, parseChmod, type CopySource } from './copy.js';
import { imageTree, isTreeDir, resolveInTree, type ImageTree } from './image-tree.js';
import { addEntry, storeEntries, storeStream, withParents, type LayerEntry } from './layer.js';
import { applyMetadata, DEFAULT_SHELL, workdir, type RunConfig } from './metadata.js';
import { invalid, type Instruction } from './parser.js';
import { runStep } from './run-step.js';
import { expand, jsonArray, splitWords } from './words.js';

/** Where a stage stands: the image of its steps so far (none: FROM scratch, nothing yet) and its ARGs. */
export interface StageState {
  image?: ImageRecord;
  config: ImageConfig;
  args: Map<string, string>;
}

/** What every step may use. */
export interface StepContext {
  store: Store;
  paths: HutchPaths;
  root?: string;
  network?: string;
  cache: BuildCache;
  ctx: BuildContext;
  /** --from=NAME or INDEX: the stages built so far; anything else is an image (pulled when missing). */
  fromImage(ref: string, ins: Instruction): Promise<ImageRecord | undefined>;
  /** A --build-arg's value (the name is then counted as used). */
  buildArg(name: string): string | undefined;
  out(line: string): void;
}

/** Variables a stage's instructions expand: its ARGs, then its ENV over them. */
export function stageVars(state: StageState): Map<string, string> {
  const vars = new Map(state.args);
  for (const e of state.config.config?.Env ?? []) {
    const eq = e.indexOf('=');
    if (eq > 0) vars.set(e.slice(0, eq), e.slice(eq + 1));
  }
  return vars;
}

/**
 * One step that makes an image: looked up in the cache by the parent image, the instruction and
 * `inputs`; else `make` gives the new config and layer, stored as an image without a name.
 */
async function cachedStep(
  sc: StepContext,
  state: StageState,
  ins: Instruction,
  inputs: unknown,
  make: () => Promise<{ config: RunConfig; layer?: StagedTar }>,
): Promise<StageState> {
  const key = BuildCache.key(state.image?.id ?? 'scratch', ins.text, [[...state.args], inputs]);
  const hit = sc.cache.lookup(key);
  if (hit !== undefined) {
    sc.out(`--> Using cache ${hit.id.slice(7)}`);
    return { ...state, image: hit, config: JSON.parse(sc.store.readBlob(hit.config).toString()) as ImageConfig };
  }
  const made = await make();
  const created = new Date().toISOString();
  const config: ImageConfig = {
    ...state.config,
    created,
    config: made.config,
    rootfs: {
      type: 'layers',
      diff_ids: [...state.config.rootfs.diff_ids, ...(made.layer ? [made.layer.layer.diffId] : [])],
    },
    history: [
      ...(state.config.history ?? []),
      { created, created_by: `/bin/sh -c #(nop) ${ins.text}`, ...(made.layer ? {} : { empty_layer: true }) },
    ],
  };
  const image = await writeImage(
    sc.store,
    config,
    [...(state.image?.layers ?? []), ...(made.layer ? [made.layer.layer] : [])],
    [],
    made.layer ? [made.layer] : [],
  );
  sc.cache.save(key, image);
  return { ...state, image, config };
}

/** Runs one instruction of a stage (not FROM); returns the stage's new state. */
export async function runInstruction(
  sc: StepContext,
  state: StageState,
  ins: Instruction,
  label: string,
): Promise<StageState> {
  const run = state.config.config ?? {};
  const vars = stageVars(state);
  switch (ins.name) {
    case 'ARG':
      return { ...state, args: declareArgs(state.args, ins, vars, sc) };
    case 'RUN':
      return runInstructionStep(sc, state, ins, label);
    case 'COPY':
    case 'ADD':
      return copyStep(sc, state, ins, vars);
    case 'MAINTAINER':
      return cachedStep(sc, state, ins, null, async () => Promise.resolve({ config: run }));
    case 'WORKDIR':
      return cachedStep(sc, state, ins, null, async () => {
        const config = applyMetadata(run, ins, vars);
        const tree = imageTree(sc.store, state.image?.layers ?? []);
        const path = resolveInTree(
          tree,
          workdir(run, expand(ins.args, vars), (w) => invalid(ins, w)),
        );
        if (isTreeDir(tree, path)) return { config };
        const dir: LayerEntry = { name: path, type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: new Date() };
        return { config, layer: await storeEntries(sc.store, withParents([dir], tree, { uid: 0, gid: 0 }), ins.where) };
      });
    default:
      return cachedStep(sc, state, ins, null, async () => Promise.resolve({ config: applyMetadata(run, ins, vars) }));
  }
}

/** ARG NAME[=DEFAULT]...: --build-arg wins over the default; a global ARG of the name gives the value when none. */
export function declareArgs(
  args: Map<string, string>,
  ins: Instruction,
  vars: ReadonlyMap<string, string>,
  sc: Pick<StepContext, 'buildArg'>,
): Map<string, string> {
  const out = new Map(args);
  for (const word of splitWords(expand(ins.args, vars))) {
    const eq = word.indexOf('=');
    const name = eq < 0 ? word : word.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw invalid(ins, `${name} is not a valid ARG name`);
    const value = sc.buildArg(name) ?? (eq < 0 ? args.get(name) : word.slice(eq + 1));
    if (value !== undefined) out.set(name, value);
  }
  return out;
}

async function runInstructionStep(
  sc: StepContext,
  state: StageState,
  ins: Instruction,
  label: string,
): Promise<StageState> {
  const unknown = Object.keys(ins.flags);
  if (unknown.length > 0) throw invalid(ins, `RUN --${unknown[0]} is not supported by hutch build`);
  const image = state.image;
  if (image === undefined) throw invalid(ins, 'RUN needs an image with a shell: this stage is FROM scratch');
  const shell = state.config.config?.Shell ?? DEFAULT_SHELL;
  const command = jsonArray(ins.args) ?? [...shell, ins.args];
  const envNames = new Set((state.config.config?.Env ?? []).map((e) => e.split('=')[0]));
  const env = [...state.args].filter(([k]) => !envNames.has(k)).map(([k, v]) => `${k}=${v}`);
  return cachedStep(sc, state, ins, env, async () => {
    const layer = await runStep(sc.store, sc.paths, {
      imageId: image.id,
      command,
      env,
      step: label,
      where: ins.where,
      network: sc.network,
      root: sc.root,
    });
    return { config: state.config.config ?? {}, layer };
  });
}

async function copyStep(
  sc: StepContext,
  state: StageState,
  ins: Instruction,
  vars: ReadonlyMap<string, string>,
): Promise<StageState> {
  const { chown, chmod, from, ...rest } = ins.flags;
  if (Object.keys(rest).length > 0) throw invalid(ins, `${ins.name} has no option --${Object.keys(rest)[0]}`);
  if (from !== undefined && ins.name === 'ADD') throw invalid(ins, 'ADD has no --from (use COPY --from)');
  const words = jsonArray(ins.args) ?? splitWords(expand(ins.args, vars));
  const url = words.slice(0, -1).find((w) => /^https?:\/\//.test(w));
  if (url !== undefined && ins.name === 'ADD')
    throw new BuildError('BUILD_ADD_URL', `cannot add ${url} at ${ins.where}: hutch build adds local files only`, {
      hint: 'download the file into the build context first, then ADD or COPY it',
    });
  const tree = imageTree(sc.store, state.image?.layers ?? []);
  const owner = chown === undefined ? undefined : chownIds(tree, expand(chown, vars));
  const opts = { tree, workdir: state.config.config?.WorkingDir || '/', owner, chmod: parseChmod(ins, chmod) };
  const source: CopySource =
    from === undefined ? { kind: 'context', ctx: sc.ctx } : await imageSource(sc, expand(from, vars), ins);
  const archives = ins.name === 'ADD' ? addArchives(sc, ins, words, opts) : { files: [], dest: '', dirs: [] };
  const plain = words.slice(0, -1).filter((w) => !archives.files.some((a) => a.word === w));
  const entries = plain.length > 0 ? copyEntries(ins, [...plain, words.at(-1)!], source, opts) : [];
  const all = withParents([...archives.dirs, ...entries], tree, owner ?? { uid: 0, gid: 0 });
  const inputs = [
    await entriesDigest(all),
    await entriesDigest(archives.files.map((a) => ({ name: a.word, type: 'file', source: a.path }))),
  ];
  return cachedStep(sc, state, ins, inputs, async () => {
    const layer =
      archives.files.length === 0
        ? await storeEntries(sc.store, all, ins.where)
        : await storeStream(sc.store, ins.where, async (pack) => {
            for (const e of all) await addEntry(pack, e);
            for (const a of archives.files) await packArchive(pack, a.path, archives.dest, owner, ins.where);
          });
    return { config: state.config.config ?? {}, layer };
  });
}

async function imageSource(sc: StepContext, ref: string, ins: Instruction): Promise<CopySource> {
  const image = await sc.fromImage(ref, ins);
  return { kind: 'image', tree: imageTree(sc.store, image?.layers ?? []), id: image?.id ?? 'scratch' };
}

/** ADD's sources that are local tar archives, the directory they unpack into, and that directory when the image lacks it. */
function addArchives(
  sc: StepContext,
  ins: Instruction,
  words: string[],
  opts: { tree: ImageTree; workdir: string; owner?: { uid: number; gid: number } },
): { files: { word: string; path: string }[]; dest: string; dirs: LayerEntry[] } {
  const files = words
    .slice(0, -1)
    .filter((w) => !/[*?[]/.test(w))
    .map((word) => ({ word, path: join(sc.ctx.dir, contextSources(sc.ctx, word, ins.where)[0]!) }))
    .filter((a) => isArchive(a.path));
  const last = words.at(-1)!;
  const dest =
    files.length === 0 ? '' : resolveInTree(opts.tree, last.startsWith('/') ? last : join(opts.workdir, last));
  const dirs: LayerEntry[] =
    files.length === 0 || isTreeDir(opts.tree, dest)
      ? []
      : [
          {
            name: dest,
            type: 'directory',
            mode: 0o755,
            uid: opts.owner?.uid ?? 0,
            gid: opts.owner?.gid ?? 0,
            mtime: new Date(),
          },
        ];
  return { files, dest, dirs };
}

/** --chown=USER[:GROUP], names from the image's /etc/passwd and /etc/group; a lone number is uid and gid. */
function chownIds(tree: ImageTree, spec: string): { uid: number; gid: number } {
  if (/^\d+$/.test(spec)) return { uid: Number(spec), gid: Number(spec) };
  const read = (name: string): string => {
    const e = tree.get(resolveInTree(tree, name));
    try {
      return e === undefined ? '' : readFileSync(join(e.dir, e.entry.path), 'utf8');
    } catch {
      return '';
    }
  };
  const user = resolveUser(spec, read('etc/passwd'), read('etc/group'));
  return { uid: user.uid, gid: user.gid };
}
