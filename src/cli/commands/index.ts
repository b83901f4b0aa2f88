import type { CommandClass } from 'clipanion';
import { VersionInfoCommand } from './version.js';
import { RunCommand } from './run.js';
import { SystemInfoCommand } from './system-info.js';

/** Every `hutch` command, one file each in this folder. */
export const commands: CommandClass[] = [VersionInfoCommand];
commands.push(RunCommand);
commands.push(SystemInfoCommand);
