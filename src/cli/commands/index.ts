import type { CommandClass } from 'clipanion';
import { VersionInfoCommand } from './version.js';
import { RunCommand } from './run.js';
import { SystemInfoCommand } from './system-info.js';
import { PullCommand } from './pull.js';
import { ImagesCommand } from './images.js';
import { RmiCommand } from './rmi.js';
import { ImagePruneCommand } from './image-prune.js';
import { ImageInspectCommand } from './image-inspect.js';
import { InspectCommand } from './inspect.js';
import { TagCommand } from './tag.js';
import { ImportCommand } from './import.js';
import { LoadCommand } from './load.js';
import { SaveCommand } from './save.js';
import { LoginCommand } from './login.js';
import { LogoutCommand } from './logout.js';

/** Every `hutch` command, one file each in this folder. */
export const commands: CommandClass[] = [VersionInfoCommand];
commands.push(RunCommand, SystemInfoCommand);
commands.push(PullCommand, ImagesCommand, RmiCommand, ImagePruneCommand, ImageInspectCommand, InspectCommand);
commands.push(TagCommand, ImportCommand, LoadCommand, SaveCommand, LoginCommand, LogoutCommand);
