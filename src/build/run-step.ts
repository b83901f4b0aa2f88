import { layerFromUpper, type StagedTar } from '../engine/commit/index.js';
import { runCommand, type RunCommandRequest } from '../engine/container/index.js';
import { defaultRunRequest } from '../engine/spec/index.js';
import { BuildError } from '../errors.js';
import type { HutchPaths } from '../paths.js';
import type { Store } from '../image/store.js';

export interface RunStep {
  /** The image of the steps so far: its config gives Env, User and WorkingDir. */
  imageId: string;
  command: string[];
  /** Build args the command sees (ENV of the same name wins, as in docker). */
  env: string[];
  /** `STEP 3/5: RUN ...` and FILE:LINE, for messages. */
  step: string;
  where: string;
  network?: string;
  root?: string;
}

/**
 * Runs one RUN instruction as `hutch run` runs a command (the container's root in the user's
 * namespace model, on the union filesystem, with the image's config), and makes its writable
 * layer a staged layer (it takes its name with the step's image). A failing command stops the
 * build naming the step and the exit status; the container and its mounts are gone either way,
 * and nothing of the step stays in the store.
 */
export async function runStep(store: Store, paths: HutchPaths, step: RunStep): Promise<StagedTar> {
  let layer: StagedTar | undefined;
  const req: RunCommandRequest = {
    setup: {
      image: step.imageId,
      root: step.root,
      pull: 'never',
      storageDriver: 'fuse',
      entrypoint: '',
      networkMode: step.network,
      publish: [],
      publishAll: false,
      dns: [],
      dnsSearch: [],
      addHost: [],
    },
    ...defaultRunRequest({ command: step.command, env: step.env }),
    userns: 'auto',
    uidmap: [],
    gidmap: [],
    interactive: false,
    init: false,
    chownNotify: true,
    onSuccess: async (w) => {
      layer = await layerFromUpper(store, w.upper, w.mountpoints, w.maps, `${step.step} (${step.where})`);
    },
  };
  const exitCode = await runCommand(req, {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    paths,
  }).catch((error: unknown) => {
    layer?.discard();
    throw error;
  });
  if (exitCode !== 0 || layer === undefined) {
    layer?.discard();
    throw new BuildError(
      'BUILD_RUN_FAILED',
      `build ${step.step.replace(/^STEP /, 'step ')} at ${step.where} failed: the command exited with status ${exitCode}`,
      {
        hint: 'fix the command (its output is above); the steps before it are cached, so a rebuild starts here',
      },
    );
  }
  return layer;
}
