import { Option } from 'clipanion';
import { HutchCommand } from '../command.js';
import { preserveFdsOption } from '../options/preserve-fds.js';
import { finishVerb, runtimeRoot } from './outcome.js';

/**
 * Base of `hutch runtime` verbs: runc's global flags; the verbs' bodies are in light-verbs.ts and
 * bundle-verbs.ts, which src/cli/runtime-main.ts calls without clipanion (outcome.ts: --log).
 */
export abstract class RuntimeCommand extends HutchCommand {
  rootDir = Option.String('--root', {
    description: 'directory of the runtime state (default: $XDG_RUNTIME_DIR/hutch-runtime)',
  });
  log = Option.String('--log', { description: 'append errors to this file' });
  logFormat = Option.String('--log-format', 'text', { description: 'text or json' });
  debug = Option.Boolean('--debug', false, { description: 'accepted for runc compatibility' });
  systemdCgroup = Option.Boolean('--systemd-cgroup', false, {
    description: 'linux.cgroupsPath is slice:prefix:name and the cgroup a scope of the user manager',
  });
  rootless = Option.String('--rootless', { description: 'accepted for runc compatibility (hutch is always rootless)' });

  protected root(): string {
    return runtimeRoot(this);
  }

  async execute(): Promise<number> {
    return finishVerb(
      this,
      () => this.run(),
      () => [this.context.stdout, this.context.stderr],
      this.context.stderr,
    );
  }
}

/** `create` and `run`: a container from an OCI bundle, with runc's create flags. */
export abstract class BundleCommand extends RuntimeCommand {
  bundle = Option.String('-b,--bundle', '.', {
    description: 'the bundle directory (config.json and the root filesystem)',
  });
  pidFile = Option.String('--pid-file', { description: 'write the container process pid here' });
  consoleSocket = Option.String('--console-socket', {
    description: 'unix socket that receives the pty master (process.terminal)',
  });
  preserveFds = preserveFdsOption('the container process');
  noPivot = Option.Boolean('--no-pivot', false, { description: 'accepted for runc compatibility' });
  noNewKeyring = Option.Boolean('--no-new-keyring', false, {
    description: 'accepted (hutch creates no session keyring)',
  });
  id = Option.String();
}
