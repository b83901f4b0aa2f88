import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { entryCommand } from '../sys/entry-points.js';
import { earlyRuntimeAnswer, HUTCH_VERSION, reorderRuntimeArgv } from './runtime/argv.js';
import { renderError } from './render-error.js';
import { finishVerb } from './runtime/outcome.js';
import { parseRuntimeWords } from './runtime/syntax.js';
import type { GlobalArgs, TextOut } from './runtime/verb-args.js';

/**
 * `hutch runtime ...` and bin/hutch-runtime as bin/hutch starts them: a bundle entry of its own.
 * Engines run a runtime process per step of a container (podman: create, start, state several
 * times, kill, delete), so a verb loads its own code alone: state/start/kill/delete the record
 * store (light-verbs.ts), create/run/exec the launcher (bundle-verbs.ts); no clipanion, no
 * podman-face command. Help, `spec`, `update` and any command line syntax.ts does not take go to
 * the full CLI, which answers them as before.
 */
type Verb = (args: never, out: TextOut) => Promise<number>;

/** process.stdout made on first use: creating a stdio stream is a fair part of a verb that prints nothing. */
let printedTo: NodeJS.WriteStream | undefined;
const stdout: TextOut = { write: (text) => (printedTo ??= process.stdout).write(text) };

// Literal paths, so that the bundler (scripts/bundle.mjs) sees each file; each loads when called.
const VERBS: Record<string, () => Promise<Verb>> = {
  state: async () => (await import('./runtime/light-verbs.js')).stateVerb,
  start: async () => (await import('./runtime/light-verbs.js')).startVerb,
  kill: async () => (await import('./runtime/light-verbs.js')).killVerb,
  delete: async () => (await import('./runtime/light-verbs.js')).deleteVerb,
  list: async () => (await import('./runtime/light-verbs.js')).listVerb,
  features: async () => async (_args, out) => (await import('./runtime/features-json.js')).featuresVerb(out),
  create: async () => (await import('./runtime/bundle-verbs.js')).createVerb,
  run: async () => (await import('./runtime/bundle-verbs.js')).runVerb,
  exec: async () => (await import('./runtime/bundle-verbs.js')).execVerb,
  ps: async () => (await import('./runtime/light-verbs.js')).psVerb,
};

async function runtimeMain(argv: string[]): Promise<void> {
  const early = earlyRuntimeAnswer(argv, HUTCH_VERSION);
  if (early !== undefined) {
    if (early.stdout !== '') process.stdout.write(early.stdout);
    if (early.stderr !== '') process.stderr.write(early.stderr);
    process.exitCode = early.code;
    return;
  }
  const parsed = parseRuntimeWords(reorderRuntimeArgv(argv));
  const load = parsed === undefined ? undefined : VERBS[parsed.verb];
  if (parsed === undefined || load === undefined) return fullCli();
  const args = parsed.args as unknown as GlobalArgs;
  await finishVerb(
    args,
    async () => (await load())(args as never, stdout),
    () => (printedTo === undefined ? [] : [printedTo]),
  );
}

/** The full CLI (src/cli/main.ts) on the same command line, bundled or compiled. */
async function fullCli(): Promise<void> {
  const [script, name] = entryCommand('cli');
  if (name !== undefined) (createRequire(script!)(script!) as { runBundle(n: string): void }).runBundle(name);
  else await import(pathToFileURL(script!).href);
}

// No top-level await: the bundle is CommonJS (scripts/bundle.mjs). argv: node, script, runtime, ...
void runtimeMain(process.argv.slice(3)).catch((error: unknown) => {
  process.exitCode = renderError(error, process.stderr); // the full CLI's entry failed to load
});
