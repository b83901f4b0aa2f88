/** runc's global flags; the ones with a value take the next word unless written --flag=value. */
const GLOBALS_WITH_VALUE = ['--root', '--log', '--log-format', '--rootless', '--criu'];
const GLOBAL_SWITCHES = ['--debug', '--systemd-cgroup'];

/**
 * Engines call `RUNTIME [global flags] VERB [flags] ID`, as runc takes them; clipanion wants the
 * command path first. Moves the global flags from before the verb to after it. Pure.
 */
export function reorderRuntimeArgv(argv: string[]): string[] {
  const globals: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    const name = a.split('=')[0]!;
    if (GLOBALS_WITH_VALUE.includes(name)) {
      globals.push(a.includes('=') ? a : `${a}=${argv[++i] ?? ''}`);
    } else if (GLOBAL_SWITCHES.includes(name)) globals.push(a);
    else break;
  }
  if (i >= argv.length) return [...argv.slice(0, i)];
  return [argv[i]!, ...globals, ...argv.slice(i + 1)];
}
