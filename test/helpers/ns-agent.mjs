// Runs inside `unshare --user --mount ...` for the FUSE tests: executes requests from the test
// (one JSON object a line on stdin) in the namespace, where the union's mount is visible, and
// answers one JSON line each. { id, sh } runs `sh -c`; { id, js } runs an async function body
// given (fs, cp, imp) and returns its value.
import * as fs from 'node:fs';
import * as cp from 'node:child_process';
import { createInterface } from 'node:readline';

const imp = (p) => import(p);
const rl = createInterface({ input: process.stdin });
const send = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const AsyncFunction = (async () => {}).constructor;

rl.on('line', async (line) => {
  const req = JSON.parse(line);
  if (req.sh !== undefined) {
    cp.execFile(
      'sh',
      ['-c', req.sh],
      { maxBuffer: 64 << 20, timeout: req.timeout ?? 120_000 },
      (err, stdout, stderr) => {
        send({ id: req.id, status: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
      },
    );
    return;
  }
  try {
    const value = await new AsyncFunction('fs', 'cp', 'imp', req.js)(fs, cp, imp);
    send({ id: req.id, value: value === undefined ? null : value });
  } catch (e) {
    send({ id: req.id, error: String(e?.stack ?? e), code: e?.code ?? null });
  }
});
rl.on('close', () => process.exit(0));
