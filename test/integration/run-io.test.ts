// hutch run's I/O: stdin, a real pseudo-terminal with its window size, and signals reaching the command.
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { execa, type Options } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { setWindowSize } from '../../src/sys/pty.js';
import { callerTerminal } from '../helpers/caller-terminal.js';
import { endedOrWaiting, fullPipe } from '../helpers/full-pipe.js';
import { requires } from '../helpers/host.js';
import { fdStdio, HUTCH, hutch, type HutchResultPromise } from '../helpers/hutch-cli.js';
import { IN_C, type Via } from '../helpers/run-front.js';
import { until } from '../helpers/netns.js';
import { alive, processTree } from '../helpers/process-tree.js';
import { containerTest } from '../helpers/container-test.js';

const t = containerTest();
const runArgs = (args: string[], script: string) => t.args(args, ['sh', '-c', script]);

beforeAll(() => requires('userns', 'subuid', 'busybox'));

/** An fd open for reading on a new file of the sandbox holding `text`. */
function writeTemp(name: string, text: string): number {
  const path = join(t.box.dir, name);
  writeFileSync(path, text);
  return openSync(path, 'r');
}

/**
 * `hutch ARGS` through the TypeScript path (hutch(): `node bin/hutch`, the caller's environment) or
 * the C front (bin/hutch, a hand-over exits 99) with only PATH and HOME of the environment (it
 * hands a HUTCH_ variable it does not know over), reject: false, stdin ignored unless given. The
 * TypeScript path keeps the caller's environment (with PATH and HOME alone, its exit came sooner
 * and dropped the end of the slow reader's 100 MB below, 2 runs in 5: 'reads only after', below).
 */
function hutchVia(via: Via, args: string[], options: Options = {}): HutchResultPromise {
  if (via === 'node') return hutch(args, options);
  const stdin = options.input === undefined && options.stdio === undefined ? { stdin: 'ignore' as const } : {};
  return execa(HUTCH, args, {
    reject: false,
    ...stdin,
    ...options,
    extendEnv: false,
    env: { PATH: process.env.PATH!, HOME: process.env.HOME!, ...IN_C },
  }) as unknown as HutchResultPromise;
}

/** Resolves once `stream` has printed `text`. */
function printed(stream: NodeJS.ReadableStream, text: string): Promise<void> {
  let seen = '';
  return new Promise((resolve) => stream.on('data', (d: Buffer) => (seen += d.toString()).includes(text) && resolve()));
}

/** 1 MB in lines of 100 (what `fold -w 100` makes of it). */
const LINES = ('a'.repeat(100) + '\n').repeat(10_000);
/**
 * Echo off, then the terminal copied back; `timeout` ends cat after 20 s, the rest read away (on
 * main's blocking writes the run still outlived the test's 60 s: the test fails by its timeout).
 */
const COPY_BACK = 'stty -echo; echo ready; timeout 20 cat || cat >/dev/null';

/**
 * Once `child` (running COPY_BACK on a terminal) is ready, pipes it LINES and ^D (the end of a
 * terminal's input, for cat: hutch types nothing at its stdin's end); its output, \r dropped.
 */
async function typedBack(child: ReturnType<typeof hutch>): Promise<string> {
  await printed(child.stdout!, 'ready');
  child.stdin!.end(`${LINES}\x04`);
  const r = await child;
  expect(r.exitCode, String(r.stderr)).toBe(0);
  return String(r.stdout).replace(/\r/g, '');
}

/** 10 KB without a newline: less than hutch's stdout (its 16 KiB mark) holds before the container waits. */
const LATE_OUTPUT = "head -c 10000 /dev/zero | tr '\\0' a";

/**
 * `hutch ARGS` (the TypeScript path) with its stdout a pipe that is full (test/helpers/full-pipe.ts)
 * until the command made `done`, `settled` holds, and hutch ended or waits; then all is read.
 */
async function readAfterEnd(args: string[], done: string, settled: () => boolean) {
  const out = fullPipe();
  const child = hutch(args, { stdout: fdStdio(out.write) });
  out.spawned();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await until(() => existsSync(done));
  await until(settled);
  await endedOrWaiting(exited);
  const [output, result] = await Promise.all([out.readAll(), child]);
  return { output: output.toString(), result };
}

describe('stdio', () => {
  it('passes stdin with -i, and gives /dev/null without it', async () => {
    const withI = await hutch(runArgs(['-i'], 'cat'), { input: 'through stdin' });
    expect(withI.stdout).toBe('through stdin');
    const without = await hutch(runArgs([], 'cat; echo end'), { input: 'lost' });
    expect(without.stdout).toBe('end');
  });
});

describe('--preserve-fds', () => {
  it("passes hutch's fds 3 and 4 on as the command's 3 and 4, and nothing above them", async () => {
    const a = writeTemp('a.txt', 'from fd 3\n'),
      b = writeTemp('b.txt', 'from fd 4\n');
    try {
      const r = await hutch(runArgs(['--preserve-fds', '2'], 'cat <&3; cat <&4; ls /proc/self/fd'), {
        stdio: ['ignore', 'pipe', 'pipe', fdStdio(a), fdStdio(b)],
      });
      expect(r.stderr).toBe('');
      // 5 is ls's own handle on /proc/self/fd
      expect(r.stdout.split('\n')).toEqual(['from fd 3', 'from fd 4', '0', '1', '2', '3', '4', '5']);
    } finally {
      closeSync(a);
      closeSync(b);
    }
  });

  it("refuses an fd hutch was not given (its own event loop's), exit 125, before anything runs", async () => {
    const r = await hutch(runArgs(['--preserve-fds', '1'], 'true'));
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatch(/^hutch: cannot pass fd 3 to the container: hutch was not given it/);
  });
});

describe('signals', () => {
  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)('forwards %s to the command', async (signal) => {
    const name = signal.slice(3);
    const child = hutch(
      runArgs([], `trap "echo caught ${name}; exit 42" ${name}; echo ready; while :; do sleep 0.1; done`),
    );
    await printed(child.stdout!, 'ready');
    child.kill(signal);
    const r = await child;
    expect(r.stdout).toBe(`ready\ncaught ${name}`);
    expect(r.exitCode).toBe(42);
  });

  it('SIGKILL of hutch takes the container with it; the next run sweeps its files', async () => {
    const child = hutch(runArgs([], 'echo ready; exec sleep 1000'));
    await printed(child.stdout!, 'ready');
    const ids = readdirSync(join(t.box.root, 'run', 'ephemeral'));
    expect(ids).toHaveLength(1);
    const netDir = join(t.box.root, 'run', 'net', ids[0]!.slice(0, 16)); // its network's folder
    expect(existsSync(netDir)).toBe(true);
    child.kill('SIGKILL');
    await child;
    // No process is left (afterEach checks); the folders are, until the next run sweeps them.
    expect((await hutch(runArgs([], 'true'))).exitCode).toBe(0);
    expect(readdirSync(join(t.box.root, 'run', 'ephemeral'))).toEqual([]);
    expect(existsSync(netDir)).toBe(false);
  });

  it('a setup.json the host went down while writing (unsynced: it marked nothing) does not stop the sweep', async () => {
    const child = hutch(runArgs([], 'echo ready; exec sleep 1000'));
    await printed(child.stdout!, 'ready');
    const [id] = readdirSync(join(t.box.root, 'run', 'ephemeral'));
    child.kill('SIGKILL');
    await child;
    const files = [join(t.box.root, 'data', 'ephemeral'), join(t.box.root, 'run', 'ephemeral', id!)]
      .map((dir) => join(dir, dir.endsWith('ephemeral') ? id! : 'data', 'setup.json'))
      .filter((file) => existsSync(file));
    expect(files).toHaveLength(1);
    writeFileSync(files[0]!, '');
    expect((await hutch(runArgs([], 'true'))).exitCode).toBe(0);
    expect(readdirSync(join(t.box.root, 'run', 'ephemeral'))).toEqual([]);
  });

  it('--init runs as PID 1 under a neutral name, forwards signals to the command and exits 128+N', async () => {
    const child = hutch(
      runArgs(['--init'], 'tr "\\0" " " < /proc/1/cmdline; echo; wc -c < /proc/1/environ; echo ready; exec sleep 1000'),
      { env: { HUTCH_CALLER_SECRET: 'x' } },
    );
    await printed(child.stdout!, 'ready');
    child.kill('SIGTERM');
    const r = await child;
    // No host path (where hutch is installed) and none of hutch's environment shows inside.
    expect(String(r.stdout).split('\n').slice(0, 2)).toEqual(['hutch-init ', '0']);
    expect(r.exitCode).toBe(143);
  });
});

it('--init reaps orphaned zombies', async () => {
  // An orphan reparents to PID 1. A zombie may show for a moment before init reaps it: wait
  // (bounded) until the orphan is gone; one still there after the wait is a zombie nobody reaps.
  const script =
    '(sleep 0.1 &); i=0; while [ $i -lt 100 ]; do s=$(ps -o stat,comm | grep " sleep$" | cut -c1); [ -z "$s" ] && echo reaped && exit; i=$((i+1)); sleep 0.1; done; echo "left: $s"';
  expect(String((await hutch(runArgs(['--init'], script))).stdout)).toBe('reaped');
});

// The terminal of a foreground run on both paths, the same output and status: the TypeScript
// path's (node bin/hutch) and the C front's (bin/hutch; HUTCH_RUN_NO_NODE=1: a hand-over would
// exit 99), with no network (the front's default network needs slirp4netns' cached --help).
describe.each(['node', 'c'] as const)('terminal (%s)', (via) => {
  const run = (flags: string[], script: string, options: Options = {}) =>
    hutchVia(via, runArgs(['--network', 'none', ...flags], script), options);
  /** A folder of the sandbox for -v DIR:/x; the tree holds /x already (the front hands a -v target it lacks over: the union's). */
  const boundDir = (name: string): string => {
    const dir = join(t.box.dir, name);
    mkdirSync(dir);
    mkdirSync(join(t.rootfs, 'x'));
    return dir;
  };

  it("-it gives the command a tty with the caller's window size, follows resizes, restores the terminal", async () => {
    const term = callerTerminal({ rows: 30, cols: 100 });
    const modes = term.modes();
    const child = run(
      ['-it'],
      'tty; stty size; test -t 0 && echo stdin-is-tty; trap "stty size; exit 7" WINCH; echo ready; while :; do sleep 0.1; done',
      { stdio: term.stdio },
    );
    await term.printed('ready');
    setWindowSize(term.master, { rows: 40, cols: 120 });
    child.kill('SIGWINCH'); // what the kernel sends hutch when its terminal is resized
    const r = await child;
    expect(r.exitCode).toBe(7);
    expect(term.modes()).toBe(modes);
    term.close();
    const lines = term.output().replace(/\r/g, '').split('\n');
    expect(lines.slice(0, 5)).toEqual(['/dev/pts/0', '30 100', 'stdin-is-tty', 'ready', '40 120']);
  });

  it('-it keeps what is typed before the container is ready', async () => {
    const term = callerTerminal();
    const child = run(['-it'], 'read x; echo "got $x"', { stdio: term.stdio });
    writeSync(term.master, 'early\r'); // typed at once: hutch is still starting
    expect((await child).exitCode).toBe(0);
    term.close();
    expect(term.output().replace(/\r/g, '')).toContain('got early');
  });

  // hutch wrote the input into the pty blocking: past the ~4 KiB it holds unread, hutch stopped
  // reading the pty too, and cat, writing back, stopped on it: a deadlock (terminal-input.ts).
  it('-it takes 1 MB piped in by a command that writes it back, every byte, without a deadlock', async () => {
    const child = run(['-it'], COPY_BACK, { stdin: 'pipe' });
    expect(await typedBack(child)).toBe(`ready\n${LINES}`.trimEnd());
  });

  it("-t without -i writes the command's output through the terminal", async () => {
    const r = await run(['-t'], 'test -t 1 && echo on-a-tty');
    expect(r.exitCode).toBe(0);
    expect(String(r.stdout).replace(/\r/g, '')).toBe('on-a-tty');
  });

  it('-t relays a large output whole into a pipe before hutch exits (run ends with process.exit)', async () => {
    const r = await run(['-t'], "head -c 2000000 /dev/zero | tr '\\0' a");
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout)).toBe('a'.repeat(2_000_000));
  });

  // hutch passes the container's output on as its stdout takes it: while nobody reads, the
  // container's writes block (the pty full), as they would on the pipe itself; hutch used to read
  // all of it into its memory. 100 MB cannot fit in the pipe and pty buffers.
  it('-t makes the container wait while its output is not read, then passes all of it', async () => {
    const dir = boundDir('slow');
    const script = "touch /x/started; head -c 100000000 /dev/zero | tr '\\0' a; touch /x/done";
    const child = run(['-t', '-v', `${dir}:/x`], script, { buffer: false });
    child.stdout!.pause();
    await until(() => existsSync(join(dir, 'started')));
    await new Promise((resolve) => setTimeout(resolve, 3000)); // not a timing bound: the old code finished in it
    expect(existsSync(join(dir, 'done'))).toBe(false);
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024;
    expect(rss).toBeLessThan(100_000_000); // it holds no large part of the output
    let bytes = 0;
    let other = '';
    child.stdout!.on('data', (d: Buffer) => {
      bytes += d.length;
      const odd = d.toString('latin1').replace(/a/g, '');
      if (odd !== '' && other.length < 100) other += odd;
    });
    child.stdout!.resume();
    const r = await child;
    expect(r.exitCode).toBe(0);
    expect(bytes).toBe(100_000_000);
    expect(other).toBe('');
    expect(existsSync(join(dir, 'done'))).toBe(true);
  });

  it('-t hangs the terminal up when its output is gone (`| head`): the container sees EIO, hutch ends with its status', async () => {
    const dir = boundDir('hup');
    const child = run(['-t', '-v', `${dir}:/x`], 'yes; echo $? > /x/status', { buffer: false });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise((resolve) => child.stdout!.once('data', resolve));
    child.stdout!.destroy(); // the reader gone: hutch's next write fails with EPIPE
    const r = await child;
    expect(stderr).toBe(''); // no stack trace of an unhandled EPIPE
    expect(r.exitCode).toBe(0); // sh's, after yes ended
    expect(readFileSync(join(dir, 'status'), 'utf8')).toBe('1\n'); // yes: a write error (EIO)
  });

  // The pty holds ~8 KiB its reader has not read; the container ends (its slave closed) while hutch
  // is stopped. libuv ended the stream at the first short read (~4 KiB) after that hang-up.
  it('-t passes on what the pty still held when the container ended while hutch was not reading', async () => {
    const dir = boundDir('x');
    const script = 'touch /x/ready; until [ -e /x/go ]; do sleep 0.1; done; head -c 8000 /dev/zero | tr "\\0" a';
    const child = run(['-t', '-v', `${dir}:/x`], script);
    await until(() => existsSync(join(dir, 'ready')));
    const container = processTree(child.pid!).find((p) => p.command.startsWith('sh -c touch /x/ready'))!;
    process.kill(child.pid!, 'SIGSTOP');
    try {
      writeFileSync(join(dir, 'go'), '');
      await until(() => !alive(container)); // PID 1 ended last: the output is in the pty, its slave closed
    } finally {
      process.kill(child.pid!, 'SIGCONT');
    }
    const r = await child;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout)).toBe('a'.repeat(8000));
  });

  it('-t passes on a last line without a newline; a child left holding the pty ends with PID 1 (as podman)', async () => {
    const r = await run(['-t'], 'echo one; trap "" HUP; sleep 1000 & printf two');
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout)).toBe('one\r\ntwo');
  });

  it('-t binds the terminal over /dev/console (as runc): the same pty, writes to it reach the terminal; none without -t', async () => {
    const script =
      'stat -L -c %t:%T /dev/console /proc/self/fd/1; grep -c " /dev/console " /proc/self/mountinfo; echo via-console > /dev/console';
    const r = await run(['-t'], script);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const [console, stdout, mounts, written] = String(r.stdout).replace(/\r/g, '').split('\n');
    expect(console).toMatch(/^88:\d+$/); // a pts device (major 136)
    expect([stdout, mounts, written]).toEqual([console, '1', 'via-console']);
    const plain = await run([], 'test -e /dev/console && echo console || echo none');
    expect(plain.stdout).toBe('none');
  });
});

describe('terminal', () => {
  // What hutch passes on while its stdout is full waits in it. The run ended with process.exit,
  // which drops what a stream still holds: the end of the output was lost whenever the caller read
  // slower than the run ended (2 runs in 5 with the 100 MB above). The C front writes before it
  // reads more of the pty: the container waits there, as in the 100 MB test.
  it('run -t passes the whole output on to a reader that reads only after the container ended', async () => {
    const dir = join(t.box.dir, 'late');
    mkdirSync(dir);
    const ephemeral = join(t.box.root, 'run', 'ephemeral');
    const { output, result } = await readAfterEnd(
      runArgs(['-t', '-v', `${dir}:/x`], `${LATE_OUTPUT}; touch /x/done`),
      join(dir, 'done'),
      () => readdirSync(ephemeral).length === 0, // the run's cleanup is over
    );
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(output).toBe('a'.repeat(10_000));
  });

  // They end naturally (main.ts), which waits for what stdout still holds: the same test, kept so.
  it('exec -t and logs pass the whole output on to a reader that reads only after the command ended', async () => {
    const h = (...args: string[]) => hutch([args[0]!, '--root', t.box.root, ...args.slice(1)]);
    const dir = join(t.box.dir, 'late');
    mkdirSync(dir);
    const script = `${LATE_OUTPUT}; echo; touch /x/logged; exec sleep 1000`;
    const id = String((await hutch(t.args(['-d', '-v', `${dir}:/x`], ['sh', '-c', script]))).stdout).trim();
    try {
      const exec = await readAfterEnd(
        ['exec', '--root', t.box.root, '-t', id, 'sh', '-c', `${LATE_OUTPUT}; touch /x/done`],
        join(dir, 'done'),
        () => true,
      );
      expect(exec.result.exitCode, String(exec.result.stderr)).toBe(0);
      expect(exec.output).toBe('a'.repeat(10_000));
      await until(async () => (await h('logs', id)).stdout !== ''); // the monitor logged the line
      const logs = await readAfterEnd(['logs', '--root', t.box.root, id], join(dir, 'logged'), () => true);
      expect(logs.result.exitCode, String(logs.result.stderr)).toBe(0);
      expect(logs.output).toBe('a'.repeat(10_000) + '\n');
    } finally {
      await h('rm', '-f', id);
    }
  });

  it('exec -it takes 1 MB the same way', async () => {
    const h = (args: string[], options = {}) => hutch([args[0]!, '--root', t.box.root, ...args.slice(1)], options);
    const id = String((await hutch(t.args(['-d'], ['sleep', '1000']))).stdout).trim();
    try {
      const child = h(['exec', '-it', id, 'sh', '-c', COPY_BACK], { stdin: 'pipe' });
      expect(await typedBack(child)).toBe(`ready\n${LINES}`.trimEnd());
    } finally {
      await h(['rm', '-f', id]);
    }
  });

  it('exec -t ends with its process, not with a child it left holding the pty', async () => {
    const h = (...args: string[]) => hutch([args[0]!, '--root', t.box.root, ...args.slice(1)]);
    const id = String((await hutch(t.args(['-d'], ['sleep', '1000']))).stdout).trim();
    try {
      const r = await h('exec', '-t', id, 'sh', '-c', 'trap "" HUP; sleep 1000 & printf x');
      expect(r.exitCode, String(r.stderr)).toBe(0);
      expect(String(r.stdout)).toBe('x');
    } finally {
      await h('rm', '-f', id);
    }
  });

  it('run -d -t logs a large output whole, its last line without a newline too', async () => {
    const h = (...args: string[]) => hutch([args[0]!, '--root', t.box.root, ...args.slice(1)]);
    const run = await hutch(runArgs(['-d', '-t'], "head -c 300000 /dev/zero | tr '\\0' a; echo; printf end"));
    const id = String(run.stdout).trim();
    expect((await h('wait', id)).stdout).toBe('0');
    expect(String((await h('logs', id)).stdout)).toBe(`${'a'.repeat(300_000)}\nend`);
    await h('rm', id);
  });
});
