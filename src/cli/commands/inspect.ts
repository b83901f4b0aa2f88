import { Option } from 'clipanion';
import { viewContainer } from '../../engine/store/view.js';
import { containerFiles, resolveContainer } from '../../engine/store/records.js';
import { inspectImage } from '../../image/manage.js';
import { HutchError } from '../../errors.js';
import { ContainerCommand } from '../container-command.js';

/** `hutch inspect`: state, pid, exit code, config and mounts of containers, as a JSON array. */
export class InspectCommand extends ContainerCommand {
  static paths = [['inspect'], ['container', 'inspect']];
  static usage = ContainerCommand.Usage({
    description: 'show the details of containers (or images) as JSON',
    examples: [['The pid of a container', 'hutch inspect web']],
  });
  containers = Option.Rest({ required: 1 });

  async run(): Promise<number> {
    const out = this.containers.map((ref) => {
      let id: string;
      try {
        id = resolveContainer(this.store(), ref);
      } catch (error) {
        // Not a container: an image of that name, as docker's inspect falls back.
        if (error instanceof HutchError) return inspectImage(this.root, ref);
        throw error;
      }
      const { config, state } = viewContainer(this.store(), id);
      const live = state.status !== 'stopped';
      return {
        Id: id,
        Name: config.name,
        Created: config.created,
        Image: config.image,
        Rootfs: config.rootfs,
        State: {
          Status: state.status === 'stopped' ? 'exited' : state.status,
          Running: state.status === 'running',
          Paused: state.status === 'paused',
          Pid: live ? (state.pid ?? 0) : 0,
          ExitCode: state.exitCode ?? 0,
          OOMKilled: state.oomKilled ?? false,
          StartedAt: state.startedAt,
          FinishedAt: state.finishedAt,
          Error: state.error ?? '',
          MonitorPid: state.monitorPid ?? 0,
        },
        RestartCount: state.restartCount,
        HostConfig: { RestartPolicy: config.restart, AutoRemove: config.autoRemove },
        Config: {
          Cmd: config.spec.process?.args,
          Env: config.spec.process?.env,
          WorkingDir: config.spec.process?.cwd,
          Hostname: config.spec.hostname,
          Tty: config.spec.process?.terminal === true,
        },
        Mounts: config.spec.mounts ?? [],
        LogPath: containerFiles(this.store(), id).log,
        OCISpec: config.spec,
      };
    });
    this.context.stdout.write(JSON.stringify(out, null, 2) + '\n');
    return 0;
  }
}
