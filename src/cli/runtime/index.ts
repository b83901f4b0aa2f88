import type { CommandClass } from 'clipanion';
import { RuntimeCreateCommand } from './create.js';
import { RuntimeDeleteCommand } from './delete.js';
import { RuntimeExecCommand } from './exec.js';
import { RuntimeFeaturesCommand } from './features.js';
import { RuntimeKillCommand } from './kill.js';
import { RuntimeListCommand } from './list.js';
import { RuntimePsCommand } from './ps.js';
import { RuntimeRunCommand } from './run.js';
import { RuntimeSpecCommand } from './spec.js';
import { RuntimeStartCommand } from './start.js';
import { RuntimeStateCommand } from './state.js';

/** The `hutch runtime` verbs: runc's command line. */
export const runtimeCommands: CommandClass[] = [RuntimeCreateCommand, RuntimeStartCommand, RuntimeStateCommand, RuntimeKillCommand, RuntimeDeleteCommand, RuntimeRunCommand, RuntimeExecCommand, RuntimeFeaturesCommand, RuntimeSpecCommand, RuntimeListCommand, RuntimePsCommand];
