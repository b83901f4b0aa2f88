import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BuildError, StoreError, UsageError } from '../errors.js';
import { hostPlatform, type ImageConfig } from '../image/manifest.js';
import { tagImage } from '../image/manage.js';
import { formatReference, parseReference } from '../image/ref.js';
import { resolveImage } from '../image/resolve.js';
import type { ImageRecord } from '../image/store.js';
import { Store } from '../image/store.js';
import { hutchPaths } from '../paths.js';
import { BuildCache } from './cache.js';
import { openContext } from './context.js';
import { parseContainerfile, type Containerfile, type Instruction, type Stage } from './parser.js';
import { declareArgs, runInstruction, type StageState, type StepContext } from './steps.js';
import { expand } from './words.js';

export interface BuildRequest {
  context: string;
  /** -f: default CONTEXT/Containerfile, else CONTEXT/Dockerfile. */
  file?: string;
  tags: string[];
  /** --build-arg K=V (or K: the value of hutch's environment variable K). */
  buildArgs: string[];
  target?: string;
  noCache: boolean;
  root?: string;
  network?: string;
  out(line: string): void;
  warn(line: string): void;
}

/**
 * `hutch build`: the stages the target needs, in order, each step cached; the last stage's image
 * gets the tags. Progress is printed as buildah prints it. Returns the image.
 */
export async function buildImage(req: BuildRequest): Promise<ImageRecord> {
  const file = containerfile(req);
  const parsed = parseContainerfile(readFileSync(file, 'utf8'), file);
  const stages = neededStages(parsed, req.target);
  const store = new Store(req.root);
  store.sweepTemp();
  const buildArgs = parseBuildArgs(req.buildArgs);
  const used = new Set<string>();
  const built = new Map<string, ImageRecord | undefined>();
  const sc: StepContext = {
    store,
    paths: hutchPaths(req.root),
    root: req.root,
    network: req.network,
    cache: new BuildCache(store, !req.noCache),
    ctx: openContext(req.context),
    fromImage: (ref, ins) => stageOrImage(built, ref, ins, req.root),
    buildArg: (name) => (buildArgs.has(name) ? (used.add(name), buildArgs.get(name)) : undefined),
    out: req.out,
  };
  const globals = parsed.globalArgs.reduce((args, ins) => declareArgs(args, ins, args, sc), new Map<string, string>());
  let last: StageState | undefined;
  for (const stage of stages) {
    const prefix = stages.length > 1 ? `[${stages.indexOf(stage) + 1}/${stages.length}] ` : '';
    last = await buildStage(sc, stage, globals, prefix, built);
    const image = last.image ?? (await emptyImage(store));
    built.set(String(stage.index), image);
    if (stage.name !== undefined) built.set(stage.name, image);
    if (stage !== stages.at(-1)) req.out(`--> ${image.id.slice(7, 19)}`);
  }
  const unused = [...buildArgs.keys()].filter((k) => !used.has(k));
  if (unused.length > 0) req.warn(`[Warning] one or more build args were not consumed: [${unused.join(' ')}]`);
  const image = built.get(String(stages.at(-1)!.index))!;
  if (req.tags.length > 0) req.out(`COMMIT ${req.tags.join(' ')}`);
  req.out(`--> ${image.id.slice(7, 19)}`);
  if (req.tags.length > 0) {
    await tagImage(req.root, image.id, req.tags);
    for (const t of req.tags) req.out(`Successfully tagged ${formatReference(parseReference(t, 'localhost'))}`);
  }
  return image;
}

async function buildStage(
  sc: StepContext,
  stage: Stage,
  globals: Map<string, string>,
  prefix: string,
  built: Map<string, ImageRecord | undefined>,
): Promise<StageState> {
  const total = stage.steps.length + 1;
  const label = (i: number, ins: Instruction): string => `${prefix}STEP ${i}/${total}: ${ins.text}`;
  sc.out(label(1, stage.from));
  let state = await fromState(sc, stage, globals, built);
  for (const [i, ins] of stage.steps.entries()) {
    const line = label(i + 2, ins);
    sc.out(line);
    const before = state.image;
    state = await runInstruction(sc, state, ins, line.replace(/^\[\d+\/\d+\] /, ''));
    if (state.image !== before && i < stage.steps.length - 1) sc.out(`--> ${state.image!.id.slice(7, 19)}`);
  }
  return state;
}

/** FROM IMAGE | STAGE | scratch [AS NAME]; the image is pulled when missing. */
async function fromState(
  sc: StepContext,
  stage: Stage,
  globals: Map<string, string>,
  built: Map<string, ImageRecord | undefined>,
): Promise<StageState> {
  const ref = expand(/^(\S+)/.exec(stage.from.args)![1]!, globals);
  const args = new Map<string, string>();
  if (ref === 'scratch') return { args, config: scratchConfig() };
  const image = await stageOrImage(built, ref, stage.from, sc.root);
  if (image === undefined) throw new BuildError('BUG', `stage ${ref} has no image`);
  return { args, image, config: JSON.parse(sc.store.readBlob(image.config).toString()) as ImageConfig };
}

/** A stage built before (by name or index), else an image of the store (pulled when missing). */
async function stageOrImage(
  built: Map<string, ImageRecord | undefined>,
  ref: string,
  ins: Instruction,
  root: string | undefined,
): Promise<ImageRecord | undefined> {
  if (built.has(ref.toLowerCase())) return built.get(ref.toLowerCase());
  if (/^\d+$/.test(ref))
    throw new UsageError('BUILD_STAGE_UNKNOWN', `stage ${ref} at ${ins.where} is not a stage built before it`, {
      hint: 'name a stage above this instruction (its number from 0, or its AS name)',
    });
  const resolved = await resolveImage(ref, { root });
  const own = new Store(root).images().find((i) => i.id === resolved.id);
  // Found only in a read-only store (src/image/store.ts additionalStores): never taken for scratch.
  if (own === undefined)
    throw new StoreError(
      'STORE_READ_ONLY',
      `cannot build on image ${ref} at ${ins.where}: it is in a read-only image store, and a build needs its base in your store`,
      { hint: `pull it into your store first (hutch pull ${ref})` },
    );
  return own;
}

/** Stages up to the target that it needs: itself and those it names in FROM or COPY --from. */
function neededStages(file: Containerfile, target: string | undefined): Stage[] {
  const byName = (name: string): Stage | undefined =>
    file.stages.find((s) => s.name === name.toLowerCase() || String(s.index) === name);
  const last = target === undefined ? file.stages.at(-1)! : byName(target);
  if (last === undefined)
    throw new UsageError('BUILD_TARGET_UNKNOWN', `no stage named ${target} in the Containerfile`, {
      hint: `use one of: ${file.stages.map((s) => s.name ?? String(s.index)).join(', ')}`,
    });
  const need = new Set<Stage>();
  const visit = (s: Stage): void => {
    if (need.has(s)) return;
    need.add(s);
    const refs = [/^(\S+)/.exec(s.from.args)![1]!, ...s.steps.map((i) => i.flags.from).filter((f) => f !== undefined)];
    for (const r of refs) {
      const dep = byName(r);
      if (dep !== undefined && dep.index < s.index) visit(dep);
    }
  };
  visit(last);
  return file.stages.filter((s) => need.has(s));
}

function containerfile(req: BuildRequest): string {
  const candidates =
    req.file !== undefined ? [resolve(req.file)] : ['Containerfile', 'Dockerfile'].map((n) => join(req.context, n));
  const found = candidates.find((f) => existsSync(f));
  if (found === undefined)
    throw new BuildError(
      'BUILD_FILE_MISSING',
      `cannot build: no ${req.file ?? 'Containerfile or Dockerfile'} in ${req.file ? '.' : req.context}`,
      {
        hint: 'give one with -f FILE, or put a Containerfile in the context directory',
      },
    );
  return found;
}

function parseBuildArgs(values: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq < 0) {
      const env = process.env[v];
      if (env !== undefined) out.set(v, env);
    } else out.set(v.slice(0, eq), v.slice(eq + 1));
  }
  return out;
}

/** A stage FROM scratch with no step that wrote anything is an empty image. */
async function emptyImage(store: Store): Promise<ImageRecord> {
  const { writeImage } = await import('../image/write-image.js');
  return writeImage(store, scratchConfig(), [], []);
}

function scratchConfig(): ImageConfig {
  return {
    architecture: hostPlatform().architecture,
    os: 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: [] },
    history: [],
  };
}
