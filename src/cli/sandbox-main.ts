import { parseSandboxArgs, runSandbox } from '../sandbox/index.js';
import { renderError } from './render-error.js';

/**
 * `hutch sandbox ...` as bin/hutch starts it: a bundle entry of its own, without clipanion and
 * the other commands, since a sandbox's start is measured against bubblewrap's (docs/sandbox.md).
 * `hutch sandbox --help` goes through the full CLI (src/cli/commands/sandbox.ts).
 */
async function sandboxMain(words: string[]): Promise<number> {
  try {
    return await runSandbox(parseSandboxArgs(words));
  } catch (error) {
    return renderError(error, process.stderr);
  }
}

// No top-level await: the bundle is CommonJS (scripts/bundle.mjs). argv: node, script, sandbox, ...
void sandboxMain(process.argv.slice(3)).then((code) => {
  process.exitCode = code;
});
