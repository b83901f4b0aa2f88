// A long-lived process inside a new user and mount namespace, driven by the test: mounts made
// there stay visible to the commands it runs next. Used by the FUSE tests, which must see the
// union from inside the namespace that mounted it.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';

export interface ShResult {
  status: number;
  stdout: string;
  stderr: string;
}

export interface NsAgent {
  /** Runs `sh -c script` in the namespace. */
  sh(script: string, timeout?: number): Promise<ShResult>;
  /** Like sh, but throws with the output when the status is not 0. */
  ok(script: string, timeout?: number): Promise<string>;
  /** Runs an async function body (given fs, cp, imp) in the namespace's node; returns its value. */
  js<T = unknown>(body: string): Promise<T>;
  close(): Promise<void>;
}

/** `mode`: 'range' maps root to the user plus its subuid range (newuidmap), 'single' only the user. */
export function startAgent(mode: 'range' | 'single', cwd: string): NsAgent {
  // util-linux's unshare maps the subuid/subgid ranges through newuidmap/newgidmap.
  const maps = mode === 'range' ? ['--map-root-user', '--map-users=auto', '--map-groups=auto'] : ['--map-root-user'];
  const child: ChildProcessWithoutNullStreams = spawn(
    'unshare',
    [...maps, '--mount', process.execPath, join(import.meta.dirname, 'ns-agent.mjs')],
    { cwd },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
  const waiting = new Map<number, (v: any) => void>();
  const exited = new Promise<void>((resolve) =>
    child.on('exit', () => {
      for (const w of waiting.values()) w({ error: `namespace agent exited: ${stderr}` });
      waiting.clear();
      resolve();
    }),
  );
  createInterface({ input: child.stdout }).on('line', (line) => {
    const msg = JSON.parse(line);
    waiting.get(msg.id)?.(msg);
    waiting.delete(msg.id);
  });
  let next = 0;
  const ask = (req: object): Promise<any> =>
    new Promise((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      child.stdin.write(JSON.stringify({ id, ...req }) + '\n');
    });
  const agent: NsAgent = {
    sh: (script, timeout) => ask({ sh: script, timeout }),
    async ok(script, timeout) {
      const r: ShResult = await ask({ sh: script, timeout });
      if (r.status !== 0) throw new Error(`in namespace: ${script}\nstatus ${r.status}\n${r.stdout}\n${r.stderr}`);
      return r.stdout;
    },
    async js(body) {
      const r = await ask({ js: body });
      if (r.error !== undefined) throw Object.assign(new Error(r.error), { code: r.code });
      return r.value;
    },
    async close() {
      child.stdin.end();
      await exited;
    },
  };
  return agent;
}
