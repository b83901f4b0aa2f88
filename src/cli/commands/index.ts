import type { CommandClass } from 'clipanion';
import { VersionInfoCommand } from './version.js';
import { RunCommand } from './run.js';
import { SystemInfoCommand } from './system-info.js';

/** Every `hutch` command, one file each in this folder. */
export const commands: CommandClass[] = [VersionInfoCommand];
commands.push(RunCommand);
commands.push(SystemInfoCommand);
import { CreateCommand } from './create.js';
import { StartCommand } from './start.js';
import { StopCommand } from './stop.js';
import { KillCommand } from './kill.js';
import { RmCommand } from './rm.js';
import { WaitCommand } from './wait.js';
import { PsCommand } from './ps.js';
import { LogsCommand } from './logs.js';
import { InspectCommand } from './inspect.js';
import { RestartCommand } from './restart.js';
import { ContainerPruneCommand } from './prune.js';
import { TopCommand } from './top.js';
import { PauseCommand } from './pause.js';
commands.push(CreateCommand, StartCommand, StopCommand, KillCommand, RmCommand, WaitCommand, PsCommand, LogsCommand, InspectCommand, RestartCommand, ContainerPruneCommand, TopCommand, PauseCommand);
import { ExecCommand } from './exec.js';
commands.push(ExecCommand);
import { runtimeCommands } from '../runtime/index.js';
commands.push(...runtimeCommands);
import { AttachCommand } from './attach.js';
commands.push(AttachCommand);
