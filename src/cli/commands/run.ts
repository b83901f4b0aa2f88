import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { Option } from 'clipanion';
import * as t from 'typanion';
import type { RunCommandIo, RunCommandRequest } from '../../engine/container/foreground.js';
import { hutchPaths } from '../../paths.js';
import { UsageError } from '../../errors.js';
import { HutchCommand } from '../command.js';
import { dropPreheldHolder } from '../prehold.js';
import { exitWhenWritten } from '../exit-when-written.js';
import { ContainerFlagsCommand } from '../options/container-flags.js';
import { preserveFdsOption } from '../options/preserve-fds.js';
import { applyConfigDefaults } from '../options/config-defaults.js';
import { loadContainersConf, type ContainersConf } from '../../config/containers-conf.js';
import { applyHpcProfile, withHostEnv } from '../options/hpc-profile.js';

/** `hutch run`: flags into a request, then one engine call. */
export class RunCommand extends ContainerFlagsCommand {
  static paths = [['run']];
  static operands = '(IMAGE | --rootfs DIR) [COMMAND [ARG...]]';
  static usage = HutchCommand.Usage({
    description: 'run a command in a new rootless container',
    details:
      "The container gets its own user, mount, PID, UTS, IPC and cgroup namespaces (and a network namespace of its own: slirp4netns by default, see --network). Its exit status is the command's; 125 when hutch fails, 126 when the command cannot be executed, 127 when it is not found.",
    examples: [
      ['Run a shell in an image (pulled when missing)', 'hutch run -it docker.io/library/busybox sh'],
      [
        'Publish a port, limit memory, keep a plain copy instead of the union filesystem',
        'hutch run -p 8080:80 --memory 256m --storage-driver=vfs busybox httpd -f',
      ],
      ['Run a shell in a busybox root filesystem', 'hutch run --rootfs ./rootfs -it -- sh'],
      [
        'Run as a user of the image, with a read-only bind',
        'hutch run --rootfs ./rootfs -u user -v $HOME/data:/data:ro -- id',
      ],
      ['Keep your own uid inside (the HPC habit)', 'hutch run --rootfs ./rootfs --userns=keep-id -- id'],
    ],
  });

  root = Option.String('--root', { description: 'where hutch keeps its state (default: XDG data and runtime dirs)' });
  rootfs = Option.String('--rootfs', {
    description: 'root filesystem directory of the container (instead of an image)',
  });
  env = Option.Array('-e,--env', [], {
    description: "set an environment variable (K=V, or K to take it from hutch's)",
  });
  envFile = Option.Array('--env-file', [], { description: 'read environment variables from a file of K=V lines' });
  workdir = Option.String('-w,--workdir', { description: 'working directory inside the container' });
  user = Option.String('-u,--user', {
    description: "USER[:GROUP] (names from the container's /etc/passwd and /etc/group, or ids)",
  });
  volume = Option.Array('-v,--volume', [], {
    description:
      '[SRC:]DST[:ro|rw|U|O]: SRC a host path (/abs, ./rel, ../rel) or a named volume (created on first use)',
  });
  readOnly = Option.Boolean('--read-only', false, { description: 'mount the root filesystem read-only' });
  tmpfs = Option.Array('--tmpfs', [], { description: 'mount a tmpfs at DST[:OPTIONS]' });
  hostname = Option.String('-h,--hostname', { description: "the container's hostname (default: its id)" });
  pid = Option.String('--pid', { description: "host: share the host's PID namespace (default: the container's own)" });
  ipc = Option.String('--ipc', { description: "host: share the host's IPC namespace and /dev/shm (default: its own)" });
  uts = Option.String('--uts', { description: "host: share the host's hostname (UTS namespace; default: its own)" });
  shmSize = Option.String('--shm-size', { description: 'size of /dev/shm (default 64m)' });
  device = Option.Array('--device', [], {
    description:
      'bind a host device HOST[:CONTAINER][:rwm] (openable: not nodev; access is the node mode on the host), or a CDI device vendor.com/class=NAME|all',
  });
  cdiSpecDir = Option.Array('--cdi-spec-dir', [], {
    description: 'read CDI specs here instead of /etc/cdi and /var/run/cdi',
  });
  gpus = Option.String('--gpus', {
    description:
      "all (the nvidia.com/gpu CDI spec, else the driver's nodes, libraries and tools), N (the first N) or device=0,1 (through the CDI spec)",
  });
  envHost = Option.Boolean('--env-host', false, {
    description: 'pass your environment in, but a blocklist (PATH, HOME, LD_*, sockets, HUTCH_*: docs/hpc.md)',
  });
  hpc = Option.Boolean('--hpc', {
    description:
      "Apptainer's habits: your uid, home, cwd and /tmp, the host's network, PID and IPC, your environment (default: containers.conf [hutch] hpc)",
  });
  cleanenv = Option.Boolean('--cleanenv', false, {
    description: "with --hpc: pass only the job's variables (SLURM_*, PMI_*, PMIX_*, OMPI_*, PRTE_*, HYDRA_*)",
  });
  userns = Option.String('--userns', {
    validator: t.isEnum(['auto', '', 'keep-id'] as const),
    description: "keep-id: map your own uid/gid to themselves inside (default: containers.conf's userns, else auto)",
  });
  uidmap = Option.Array('--uidmap', [], { description: 'explicit uid map CONTAINER:HOST:SIZE (repeatable)' });
  gidmap = Option.Array('--gidmap', [], { description: 'explicit gid map CONTAINER:HOST:SIZE (repeatable)' });
  capAdd = Option.Array('--cap-add', [], { description: 'add a capability (or ALL)' });
  capDrop = Option.Array('--cap-drop', [], { description: 'drop a capability (or ALL)' });
  privileged = Option.Boolean('--privileged', false, {
    description: 'every capability, no seccomp filter, nothing masked (still no more than your own user can do)',
  });
  securityOpt = Option.Array('--security-opt', [], {
    description: 'seccomp=unconfined|PROFILE.json, no-new-privileges[=true|false], mask=PATHS, unmask=PATHS|ALL',
  });
  ulimit = Option.Array('--ulimit', [], { description: 'NAME=SOFT[:HARD], e.g. nofile=1024:2048' });
  tty = Option.Boolean('-t,--tty', false, { description: 'allocate a pseudo-terminal' });
  interactive = Option.Boolean('-i,--interactive', false, { description: 'keep stdin open' });
  init = Option.Boolean('--init', false, {
    description: 'run a tiny init as PID 1 that reaps zombies and forwards signals',
  });
  rm = Option.Boolean('--rm', false, {
    description: 'remove the container when it exits (a foreground run always does; with -d, the monitor removes it)',
  });
  detach = Option.Boolean('-d,--detach', false, {
    description: 'run in the background under a monitor; print the container id',
  });
  name = Option.String('--name', { description: 'name of the container (with -d)' });
  restart = Option.String('--restart', 'no', { description: 'no, always or on-failure[:N] (with -d)' });
  preserveFds = preserveFdsOption('the container (systemd socket activation); not with -d');
  command = Option.Proxy({ required: 1 });

  /**
   * Ends the process as soon as the command is done (run, create) and its output written: its
   * cleanup has run, while a natural exit first tears down V8's heap and the platform's threads
   * (~15-20 ms of every run's wall time, docs/startup.md). The code cache is still written: it
   * hangs on the 'exit' event.
   */
  async execute(): Promise<number> {
    const code = (await super.execute()) ?? 0;
    await dropPreheldHolder(); // a union holder started before the parse and not taken (../prehold.ts)
    return exitWhenWritten(code, [this.context.stdout, this.context.stderr]);
  }

  async run(): Promise<number> {
    if (this.detach) return this.createDetached(true);
    // Loaded on use: other commands (and --help) need not pay for the engine.
    const { runCommand } = await import('../../engine/container/foreground.js');
    return runCommand(this.request(), this.io());
  }

  /** `run -d` and `create`: a container record under a monitor (src/engine/container/create.ts). */
  protected async createDetached(start: boolean): Promise<number> {
    if (this.preserveFds > 0)
      throw new UsageError(
        'PRESERVE_FDS_DETACHED',
        `cannot pass fds to a container ${start ? 'run with -d' : 'made by create'}: its monitor starts it later, from its own fds`,
        { hint: 'run it in the foreground (without -d) to use --preserve-fds' },
      );
    const { createFromFlags } = await import('../../engine/container/create.js');
    const id = await createFromFlags(
      { ...this.request(), name: this.name, restart: this.restart, autoRemove: this.rm },
      this.io(),
      start,
    );
    this.context.stdout.write(id + '\n');
    return 0;
  }

  protected io(): RunCommandIo {
    return { stdin: process.stdin, stdout: process.stdout, stderr: this.context.stderr, paths: hutchPaths(this.root) };
  }

  /** The flags over containers.conf's defaults (read here, once, at the edge), then --hpc or --env-host. */
  protected request(): RunCommandRequest {
    const conf = loadContainersConf();
    const req = this.flagRequest(conf);
    if (this.hpc ?? conf.hpc) {
      const caller = { cwd: process.cwd(), home: userInfo().homedir, env: process.env, exists: existsSync };
      const explicitUserns = this.userns !== undefined || this.uidmap.length > 0 || this.gidmap.length > 0;
      return applyHpcProfile(req, caller, { explicitUserns, cleanenv: this.cleanenv });
    }
    return this.envHost ? withHostEnv(req, process.env, 'all') : req;
  }

  private flagRequest(conf: ContainersConf): RunCommandRequest {
    const { setup, command } = this.setupFlags(this.root, this.rootfs, this.command);
    return applyConfigDefaults(
      {
        setup,
        rootfs: this.rootfs ?? '',
        command,
        env: this.env,
        envFiles: this.envFile,
        workdir: this.workdir,
        user: this.user,
        volumes: this.volume,
        readOnly: this.readOnly,
        tmpfs: this.tmpfs,
        hostname: this.hostname,
        pid: this.pid,
        ipc: this.ipc,
        uts: this.uts,
        shmSize: this.shmSize,
        devices: this.device,
        cdiSpecDirs: this.cdiSpecDir,
        gpus: this.gpus,
        network: 'none',
        capAdd: this.capAdd,
        capDrop: this.capDrop,
        tty: this.tty,
        ulimits: this.ulimit,
        userns: this.userns === 'keep-id' ? 'keep-id' : 'auto',
        uidmap: this.uidmap,
        gidmap: this.gidmap,
        interactive: this.interactive,
        init: this.init,
        preserveFds: this.preserveFds,
        securityOpts: this.securityOpt,
        privileged: this.privileged,
      },
      conf,
      this.userns,
    );
  }
}
