import type { CommandClass } from 'clipanion';

/**
 * Every `hutch` command, by the first word of its paths: the files in this folder whose command
 * classes that word can mean (runtime.ts gathers runc's face from ../runtime/). main.ts loads only
 * the files a command line's verb names — loading all forty-odd commands and their engine code
 * costs a `hutch run` more than the container does.
 */
const containerFiles = [
  'inspect',
  'create',
  'start',
  'stop',
  'kill',
  'rm',
  'wait',
  'ps',
  'logs',
  'restart',
  'prune',
  'top',
  'pause',
  'stats',
  'update',
  'exec',
  'port',
  'attach',
  'commit',
  'diff',
  'export',
  'cp',
];
const imageFiles = [
  'pull',
  'images',
  'rmi',
  'image-prune',
  'image-inspect',
  'tag',
  'import',
  'load',
  'save',
  'push',
  'build',
];
const filesByVerb: Record<string, string[]> = {
  attach: ['attach'],
  container: containerFiles,
  create: ['create'],
  exec: ['exec'],
  image: [...imageFiles, 'squash'],
  images: ['images'],
  import: ['import'],
  inspect: ['inspect'],
  kill: ['kill'],
  load: ['load'],
  login: ['login'],
  logout: ['logout'],
  logs: ['logs'],
  pause: ['pause'],
  port: ['port'],
  ps: ['ps'],
  pull: ['pull'],
  restart: ['restart'],
  rm: ['rm'],
  rmi: ['rmi'],
  run: ['run'],
  runtime: ['runtime'],
  save: ['save'],
  start: ['start'],
  stats: ['stats'],
  stop: ['stop'],
  system: ['system-info', 'system-reset', 'system-check'],
  tag: ['tag'],
  top: ['top'],
  unpause: ['pause'],
  update: ['update'],
  version: ['version'],
  wait: ['wait'],
  commit: ['commit'],
  push: ['push'],
  unshare: ['unshare'],
  sandbox: ['sandbox'],
  diff: ['diff'],
  export: ['export'],
  cp: ['cp'],
  squash: ['squash'],
  build: ['build'],
  volume: ['volume-create', 'volume-ls', 'volume-inspect', 'volume-rm', 'volume-prune'],
};

/** The words a command line may start with (after global flags). */
export const verbs: ReadonlySet<string> = new Set(Object.keys(filesByVerb));

/**
 * The command classes `verb` can mean; every command when `verb` is undefined (help, errors).
 * With the word after the verb (`runtime create`, `image prune`), only the classes of that
 * subcommand when there are any: clipanion's parser costs ~1 ms per registered option.
 */
export async function loadCommands(verb: string | undefined, next?: string): Promise<CommandClass[]> {
  const files = verb === undefined ? [...new Set(Object.values(filesByVerb).flat())] : (filesByVerb[verb] ?? []);
  // One literal folder pattern, so that the bundler (scripts/bundle.mjs) sees every file that may load.
  const modules = await Promise.all(files.map((file) => import(`./${file}.js`) as Promise<Record<string, unknown>>));
  const classes = new Set<CommandClass>();
  for (const exported of modules.flatMap((m) => Object.values(m))) {
    const paths = (exported as { paths?: string[][] } | undefined)?.paths;
    if (
      typeof exported === 'function' &&
      Array.isArray(paths) &&
      (verb === undefined || paths.some((p) => p[0] === verb))
    )
      classes.add(exported as CommandClass);
  }
  const exact = [...classes].filter((c) => c.paths?.some((p) => p[0] === verb && p[1] === next));
  return exact.length > 0 ? exact : [...classes];
}
