import { appendFileSync } from 'node:fs';
import { Option } from 'clipanion';
import { BugError, HutchError } from '../../errors.js';
import { defaultOciRoot, type OciCreateOptions } from '../../engine/oci/lifecycle.js';
import { HutchCommand, renderError } from '../command.js';
import { preserveFdsOption } from '../options/preserve-fds.js';
import { privateDir } from '../../paths.js';

/**
 * Base of `hutch runtime` verbs: runc's global flags, and errors also written to --log (as JSON
 * lines with --log-format json, which conmon reads back to tell podman why a create failed).
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
    if (this.rootDir === undefined) return defaultOciRoot();
    privateDir(this.rootDir, 'the runtime state directory (--root)');
    return this.rootDir;
  }

  async execute(): Promise<number> {
    let code: number;
    try {
      code = await this.run();
    } catch (error) {
      this.writeLog(error);
      code = renderError(error, this.context.stderr);
    }
    // A created container keeps the helper's pipes open: end here, as runc's create does.
    process.exit(code);
  }

  private writeLog(error: unknown): void {
    if (this.log === undefined) return;
    const msg =
      error instanceof HutchError && !(error instanceof BugError)
        ? error.message
        : String(error instanceof Error ? error.stack : error);
    const line =
      this.logFormat === 'json'
        ? JSON.stringify({ level: 'error', msg, time: new Date().toISOString() })
        : `time="${new Date().toISOString()}" level=error msg="${msg}"`;
    try {
      appendFileSync(this.log, line + '\n');
    } catch {
      // the log is a courtesy; stderr has the error too
    }
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

  protected createOptions(): OciCreateOptions {
    return {
      bundle: this.bundle,
      pidFile: this.pidFile,
      consoleSocket: this.consoleSocket,
      preserveFds: this.preserveFds,
      systemdCgroup: this.systemdCgroup,
    };
  }
}
