// Compiles the seccomp filter of a plain `run` (the default profile for the default capabilities,
// on this machine's kernel and arch) into dist/bundle/, where seccompProgram
// (src/security/seccomp/precompiled.ts) finds it by the profile, listed in seccomp-filters.json,
// instead of compiling it at every container start. Run by `npm run build`, after the bundle (which empties dist/bundle/).
import { join } from 'node:path';
import { PLAIN_RUN_CAPABILITY_SETS } from '../dist/src/runtime/linux.js';
import { writePrecompiled } from '../dist/src/security/seccomp/precompiled.js';

writePrecompiled(join(import.meta.dirname, '..', 'dist', 'bundle'), PLAIN_RUN_CAPABILITY_SETS);
