import { UsageError } from '../../errors.js';
import type { ImageConfig } from '../../image/manifest.js';

type RunConfig = NonNullable<ImageConfig['config']>;

/** The instructions `--change` accepts, as in podman and docker commit. */
export const CHANGE_INSTRUCTIONS = ['CMD', 'ENTRYPOINT', 'ENV', 'WORKDIR', 'USER', 'LABEL', 'EXPOSE'] as const;

/**
 * Applies one Dockerfile-style line (`CMD ["sh"]`, `ENV A=1 B=2`, `EXPOSE 80/tcp`, ...) to an
 * image's run config, returning the new config. CMD and ENTRYPOINT take the exec form (a JSON
 * array) or the shell form (run by /bin/sh -c); ENV and LABEL take KEY=VALUE pairs (quotes
 * allowed) or the old `KEY VALUE` form.
 */
export function applyChange(config: RunConfig, line: string, what = '--change'): RunConfig {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(line);
  const instruction = m?.[1]?.toUpperCase() ?? '';
  const rest = (m?.[2] ?? '').trim();
  const bad = (why: string): UsageError =>
    new UsageError('CHANGE_INVALID', `invalid ${what} ${JSON.stringify(line)}: ${why}`, {
      hint: `use one of ${CHANGE_INSTRUCTIONS.join(', ')}, e.g. --change 'CMD ["sh"]'`,
    });
  if (!(CHANGE_INSTRUCTIONS as readonly string[]).includes(instruction))
    throw bad(`${instruction || 'nothing'} is not an instruction it accepts`);
  if (rest === '') throw bad(`${instruction} needs an argument`);
  switch (instruction) {
    case 'CMD':
      return { ...config, Cmd: commandForm(rest, bad) };
    case 'ENTRYPOINT':
      return { ...config, Entrypoint: commandForm(rest, bad) };
    case 'WORKDIR':
      return { ...config, WorkingDir: rest };
    case 'USER':
      return { ...config, User: rest };
    case 'EXPOSE':
      return {
        ...config,
        ExposedPorts: {
          ...config.ExposedPorts,
          ...Object.fromEntries(rest.split(/\s+/).map((p) => [p.includes('/') ? p : `${p}/tcp`, {}])),
        },
      };
    case 'LABEL':
      return { ...config, Labels: { ...config.Labels, ...Object.fromEntries(pairs(rest, bad)) } };
    default: {
      // ENV
      const env = new Map(
        (config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=') < 0 ? e.length : e.indexOf('=')), e]),
      );
      for (const [k, v] of pairs(rest, bad)) env.set(k, `${k}=${v}`);
      return { ...config, Env: [...env.values()] };
    }
  }
}

/** A JSON array of strings (exec form), else the shell form. */
export function commandForm(text: string, bad: (why: string) => Error, shell: string[] = ['/bin/sh', '-c']): string[] {
  if (!text.startsWith('[')) return [...shell, text];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [...shell, text]; // docker's rule: not valid JSON, so the shell form
  }
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string'))
    throw bad('the exec form must be a JSON array of strings');
  return parsed as string[];
}

/** KEY=VALUE pairs (values may be "quoted"), or the single `KEY VALUE` form. */
export function pairs(text: string, bad: (why: string) => Error): [string, string][] {
  if (!/^[^\s=]+=/.test(text)) {
    const space = text.search(/\s/);
    if (space < 0) throw bad(`${text} has no value`);
    return [[text.slice(0, space), text.slice(space).trim()]];
  }
  const out: [string, string][] = [];
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)\s*/gy;
  for (let at = 0; at < text.length; at = re.lastIndex) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (m === null) throw bad(`cannot read ${text.slice(at)} as KEY=VALUE`);
    out.push([m[1]!, unquote(m[2]!)]);
  }
  return out;
}

function unquote(v: string): string {
  if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) return v.slice(1, -1).replace(/\\(.)/g, '$1');
  if (v.startsWith("'") && v.endsWith("'") && v.length >= 2) return v.slice(1, -1);
  return v;
}
