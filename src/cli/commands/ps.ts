import { Option } from 'clipanion';
import { isLive } from '../../engine/store/view.js';
import { ago, listContainers, statusText } from '../../engine/container/list.js';
import { containerFiles } from '../../engine/store/records.js';
import { portsColumn, portsJson, recordedPorts } from '../../engine/setup/ports-view.js';
import { ContainerCommand } from '../container-command.js';

/** `hutch ps`: podman's columns; -a for stopped ones too; --format json for scripts. */
export class PsCommand extends ContainerCommand {
  static paths = [['ps'], ['container', 'ls'], ['container', 'list']];
  static usage = ContainerCommand.Usage({
    description: 'list containers',
    examples: [['All containers as JSON', 'hutch ps -a --format json']],
  });
  all = Option.Boolean('-a,--all', false, { description: 'show stopped and created containers too' });
  quiet = Option.Boolean('-q,--quiet', false, { description: 'print ids only' });
  format = Option.String('--format', { description: 'json' });

  async run(): Promise<number> {
    const store = this.store();
    const ports = (id: string) => recordedPorts(containerFiles(store, id).runDir);
    const views = (await listContainers(store)).filter(
      (v) => this.all || v.state.status === 'running' || v.state.status === 'paused',
    );
    if (this.quiet) return this.print(views.map((v) => v.config.id.slice(0, 12)));
    if (this.format === 'json') {
      const rows = views.map((v) => ({
        Id: v.config.id,
        Names: [v.config.name],
        Image: v.config.image,
        Command: v.config.spec.process?.args ?? [],
        Created: v.config.created,
        State: v.state.status === 'stopped' ? 'exited' : v.state.status,
        Status: statusText(v),
        Pid: isLive(v) ? (v.state.pid ?? 0) : 0,
        ExitCode: v.state.exitCode ?? 0,
        OOMKilled: v.state.oomKilled ?? false,
        StartedAt: v.state.startedAt,
        Restarts: v.state.restartCount,
        AutoRemove: v.config.autoRemove,
        Ports: portsJson(ports(v.config.id)),
      }));
      this.context.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      return 0;
    }
    const table = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES']];
    for (const v of views) {
      const command = (v.config.spec.process?.args ?? []).join(' ');
      table.push([
        v.config.id.slice(0, 12),
        v.config.image,
        command.length > 20 ? command.slice(0, 17) + '...' : command,
        `${ago(v.config.created)} ago`,
        statusText(v),
        portsColumn(ports(v.config.id)),
        v.config.name,
      ]);
    }
    const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
    return this.print(
      table.map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2)))
          .join('')
          .trimEnd(),
      ),
    );
  }

  private print(lines: string[]): number {
    if (lines.length > 0) this.context.stdout.write(lines.join('\n') + '\n');
    return 0;
  }
}
