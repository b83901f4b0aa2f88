// The `runtime` verb's file: runc's face (../runtime/), its commands loaded together.
export { RuntimeCreateCommand } from '../runtime/create.js';
export { RuntimeDeleteCommand } from '../runtime/delete.js';
export { RuntimeExecCommand } from '../runtime/exec.js';
export { RuntimeFeaturesCommand } from '../runtime/features.js';
export { RuntimeKillCommand } from '../runtime/kill.js';
export { RuntimeListCommand } from '../runtime/list.js';
export { RuntimePsCommand } from '../runtime/ps.js';
export { RuntimeRunCommand } from '../runtime/run.js';
export { RuntimeSpecCommand } from '../runtime/spec.js';
export { RuntimeStartCommand } from '../runtime/start.js';
export { RuntimeStateCommand } from '../runtime/state.js';
export { RuntimeUpdateCommand } from '../runtime/update.js';
