import { Option } from 'clipanion';
import * as t from 'typanion';
import { HutchCommand } from '../command.js';

/** `hutch system info`: what this host gives a rootless user, each missing piece with its fix. */
export class SystemInfoCommand extends HutchCommand {
  static paths = [['system', 'info']];
  static usage = HutchCommand.Usage({
    description: 'show what this host gives a rootless user, and how to fix what is missing',
    examples: [
      ['Check the host', 'hutch system info'],
      ['The same as JSON', 'hutch system info --format json'],
    ],
  });

  root = Option.String('--root', { description: 'where hutch keeps its state (unused here; accepted everywhere)' });
  format = Option.String('--format', 'text', {
    validator: t.isEnum(['text', 'json'] as const),
    description: 'text or json',
  });

  async run(): Promise<number> {
    const { systemInfo } = await import('../../engine/system/system-info.js');
    const info = await systemInfo();
    if (this.format === 'json') {
      this.context.stdout.write(JSON.stringify(info, null, 2) + '\n');
      return 0;
    }
    const out: string[] = [
      `kernel: ${info.kernel}`,
      `user: ${info.user.name} (uid ${info.user.uid}, gid ${info.user.gid})`,
    ];
    for (const c of info.checks) {
      out.push(`${c.ok ? 'ok  ' : 'MISS'} ${c.name}: ${c.detail}`);
      if (!c.ok && c.fix) out.push(`     fix: ${c.fix}`);
    }
    this.context.stdout.write(out.join('\n') + '\n');
    return 0;
  }
}
