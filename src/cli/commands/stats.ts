import { Option } from 'clipanion';
import { setTimeout as sleep } from 'node:timers/promises';
import * as t from 'typanion';
import { renderStatsTable, statsRow, type StatsSample } from '../../cgroups/stats.js';
import { viewContainer } from '../../engine/store/view.js';
import { listIds, resolveContainer } from '../../engine/store/records.js';
import { sampleContainer } from '../../engine/container/stats.js';
import { ContainerCommand } from '../container-command.js';

/** `hutch stats`: podman's live resource table (or one sample with --no-stream). */
export class StatsCommand extends ContainerCommand {
  static paths = [['stats'], ['container', 'stats']];
  static usage = ContainerCommand.Usage({
    description: 'show the resource use of running containers',
    details:
      "Columns as podman's: CPU %, MEM USAGE / LIMIT, MEM %, NET IO, BLOCK IO, PIDS. The numbers come from the container's cgroup; a container without one (no delegated cgroup v2 on this host) shows what /proc tells of its processes, and -- for block I/O.",
    examples: [
      ['One sample of every running container', 'hutch stats --no-stream'],
      ['As JSON', 'hutch stats --no-stream --format json web'],
    ],
  });
  noStream = Option.Boolean('--no-stream', false, { description: 'print one sample and exit' });
  format = Option.String('--format', {
    validator: t.isEnum(['table', 'json'] as const),
    description: 'table (default) or json',
  });
  interval = Option.String('-i,--interval', '1', {
    validator: t.isNumber(),
    description: 'seconds between samples when streaming',
  });
  containers = Option.Rest();

  async run(): Promise<number> {
    const store = this.store();
    const ids =
      this.containers.length > 0
        ? this.containers.map((ref) => resolveContainer(store, ref))
        : listIds(store).filter((id) => viewContainer(store, id).state.status === 'running');
    let previous = new Map<string, StatsSample>();
    for (;;) {
      const samples = ids.map((id) => sampleContainer(store, id));
      const rows = samples.map((s) => statsRow(s, previous.get(s.id)));
      if (this.format === 'json') this.context.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      else
        this.context.stdout.write(
          `${(this.context.stdout as NodeJS.WriteStream).isTTY && !this.noStream ? '\x1b[2J\x1b[H' : ''}${renderStatsTable(rows)}`,
        );
      if (this.noStream) return 0;
      previous = new Map(samples.map((s) => [s.id, s]));
      await sleep(this.interval * 1000);
    }
  }
}
