// What a newcomer reads when the command line is wrong or they ask for help: the real bin/hutch,
// its stderr and stdout as rendered (no container is started).
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { HUTCH, hutch } from '../helpers/hutch-cli.js';

const ESC = '\x1b';

describe('command line mistakes', () => {
  it('an unknown command says so, with no empty suggestion list', async () => {
    const r = await hutch(['frobnicate']);
    expect(r.exitCode).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatchInlineSnapshot(`
      "hutch: unknown command frobnicate
      hint: see 'hutch --help' for the commands"
    `);
  });

  it('suggests the commands that are close, and only those', async () => {
    expect((await hutch(['rnu', 'busybox'])).stderr).toMatchInlineSnapshot(`
      "hutch: unknown command rnu
      hint: did you mean 'hutch run'? see 'hutch --help' for the commands"
    `);
    expect((await hutch(['image', 'prnue'])).stderr).toMatchInlineSnapshot(`
      "hutch: unknown command image prnue
      hint: did you mean 'hutch image prune'? see 'hutch --help' for the commands"
    `);
    expect((await hutch(['system'])).stderr).toMatchInlineSnapshot(`
      "hutch: missing the subcommand of system: one of check, info, reset
      hint: see 'hutch --help' for the commands"
    `);
  });

  it('run with no arguments says an IMAGE or --rootfs DIR is needed, with the usage line', async () => {
    const r = await hutch(['run']);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toMatchInlineSnapshot(`
      "hutch: cannot run: an IMAGE or --rootfs DIR is needed
      usage: hutch run [OPTIONS] (IMAGE | --rootfs DIR) [COMMAND [ARG...]]
      hint: see 'hutch run --help'"
    `);
    expect((await hutch(['run', '--rootfs', '/tmp'])).stderr).toMatchInlineSnapshot(`
      "hutch: cannot run: a COMMAND is needed after --rootfs DIR
      usage: hutch run [OPTIONS] (IMAGE | --rootfs DIR) [COMMAND [ARG...]]
      hint: see 'hutch run --help'"
    `);
  });

  it('names an unknown option, a bad value and an extra argument, with the usage line', async () => {
    expect((await hutch(['run', '--bogus', 'busybox'])).stderr).toMatchInlineSnapshot(`
      "hutch: cannot run: unknown option --bogus
      usage: hutch run [OPTIONS] (IMAGE | --rootfs DIR) [COMMAND [ARG...]]
      hint: see 'hutch run --help'"
    `);
    expect((await hutch(['run', '--pull', 'sometimes', 'busybox'])).stderr).toMatchInlineSnapshot(`
      "hutch: cannot run: invalid value for --pull: expected one of "always", "missing", or "never" (got "sometimes")
      usage: hutch run [OPTIONS] (IMAGE | --rootfs DIR) [COMMAND [ARG...]]
      hint: see 'hutch run --help'"
    `);
    expect((await hutch(['ps', 'extra'])).stderr).toMatchInlineSnapshot(`
      "hutch: cannot ps: unexpected argument extra
      usage: hutch ps [OPTIONS]
      hint: see 'hutch ps --help'"
    `);
    expect((await hutch(['container', 'exec', 'web'])).stderr).toMatchInlineSnapshot(`
      "hutch: cannot container exec: arguments are missing
      usage: hutch exec [OPTIONS] CONTAINER COMMAND [ARG...]
      hint: see 'hutch container exec --help'"
    `);
  });
});

describe('--help', () => {
  it('piped: no colour codes, real value names instead of #0', async () => {
    for (const args of [['--help'], ['run', '--help'], ['help', 'exec'], ['runtime', 'create', '--help']]) {
      const r = await hutch(args);
      expect(r.exitCode, args.join(' ')).toBe(0);
      expect(r.stdout).not.toContain(ESC);
      expect(r.stdout).not.toMatch(/#\d/);
    }
    const run = String((await hutch(['run', '--help'])).stdout).split('\n');
    expect(run.slice(0, 5)).toMatchInlineSnapshot(`
      [
        "Run a command in a new rootless container",
        "",
        "Usage",
        "",
        "$ hutch run [OPTIONS] (IMAGE | --rootfs DIR) [COMMAND [ARG...]]",
      ]
    `);
    expect(
      run.filter((l) => /^ {2}(-m,--memory|-v,--volume|-u,--user|--pull) /.test(l)).map((l) => l.split(/ {2,}/)[1]),
    ).toMatchInlineSnapshot(`
      [
        "-m,--memory BYTES",
        "--pull POLICY",
        "-u,--user USER[:GROUP]",
        "-v,--volume SRC:DST[:ro]",
      ]
    `);
  });

  // `script` gives hutch a terminal as its stdout: colour there, unless NO_COLOR is set.
  it('on a terminal: colour, unless NO_COLOR is set', async () => {
    const onTty = (env: Record<string, string>) =>
      execa('script', ['-qec', `${process.execPath} ${HUTCH} ps --help`, '/dev/null'], {
        env: { TERM: 'xterm-256color', ...env },
        reject: false,
      });
    expect(String((await onTty({})).stdout)).toContain(ESC);
    expect(String((await onTty({ NO_COLOR: '1' })).stdout)).not.toContain(ESC);
  });
});
