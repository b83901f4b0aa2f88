// Compiles `hutch sandbox`'s seccomp filter (src/sandbox/seccomp.ts: the default profile, no
// capabilities, TIOCSTI refused) into dist/bundle/sandbox-seccomp-ARCH.bpf, which the C fast path
// native/hutch-sandbox sends as is: the one compiler stays the TypeScript one. Run by `npm run
// build`, after the bundle (which empties dist/bundle/).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sandboxSeccompFile } from '../dist/src/sandbox/seccomp.js';

const { name, program } = sandboxSeccompFile();
writeFileSync(join(import.meta.dirname, '..', 'dist', 'bundle', name), program);
