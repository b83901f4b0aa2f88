import { posix } from 'node:path';
import { applyChange, commandForm } from '../engine/commit/index.js';
import type { ImageConfig } from '../image/manifest.js';
import { invalid, type Instruction } from './parser.js';
import { expand, jsonArray, splitWords } from './words.js';

export type RunConfig = NonNullable<ImageConfig['config']>;

export const DEFAULT_SHELL = ['/bin/sh', '-c'];

/**
 * Applies an instruction that changes only the config (ENV, LABEL, EXPOSE, USER, WORKDIR, CMD,
 * ENTRYPOINT, VOLUME, SHELL, STOPSIGNAL, HEALTHCHECK), variables already known in `vars`.
 */
export function applyMetadata(config: RunConfig, ins: Instruction, vars: ReadonlyMap<string, string>): RunConfig {
  const bad = (why: string): Error => invalid(ins, why);
  const text = ['CMD', 'ENTRYPOINT', 'SHELL', 'HEALTHCHECK'].includes(ins.name) ? ins.args : expand(ins.args, vars);
  const shell = config.Shell ?? DEFAULT_SHELL;
  switch (ins.name) {
    case 'ENV':
    case 'LABEL':
    case 'EXPOSE':
    case 'USER':
      if (text === '') throw bad(`${ins.name} needs an argument`);
      return applyChange(config, `${ins.name} ${text.replace(/\\\$/g, '$')}`, `${ins.name} at ${ins.where}`);
    case 'WORKDIR':
      return { ...config, WorkingDir: workdir(config, text, bad) };
    case 'CMD':
      return { ...config, Cmd: commandForm(text, bad, shell) };
    case 'ENTRYPOINT':
      return { ...config, Entrypoint: commandForm(text, bad, shell) };
    case 'VOLUME': {
      const dirs = jsonArray(text) ?? splitWords(text);
      if (dirs.length === 0) throw bad('VOLUME needs a path');
      return { ...config, Volumes: { ...config.Volumes, ...Object.fromEntries(dirs.map((d) => [d, {}])) } };
    }
    case 'SHELL': {
      const form = jsonArray(text);
      if (form === undefined || form.length === 0) throw bad('SHELL takes a JSON array, e.g. SHELL ["/bin/sh", "-c"]');
      return { ...config, Shell: form };
    }
    case 'STOPSIGNAL':
      if (!/^(SIG)?[A-Z0-9+-]+$/i.test(text)) throw bad(`${text} is not a signal`);
      return { ...config, StopSignal: text };
    case 'HEALTHCHECK':
      return { ...config, Healthcheck: healthcheck(ins, text) };
    default:
      throw bad(`${ins.name} is not a config instruction`);
  }
}

/** WORKDIR: relative to the one before; always absolute. */
export function workdir(config: RunConfig, text: string, bad: (why: string) => Error): string {
  if (text === '') throw bad('WORKDIR needs a path');
  const word = text.replace(/\\\$/g, '$');
  return posix.resolve(config.WorkingDir || '/', word);
}

function healthcheck(ins: Instruction, text: string): NonNullable<RunConfig['Healthcheck']> {
  if (/^NONE$/i.test(text)) return { Test: ['NONE'] };
  const m = /^CMD\s+(.*)$/is.exec(text);
  if (m === null) throw invalid(ins, 'HEALTHCHECK takes [OPTIONS] CMD COMMAND, or NONE');
  const exec = jsonArray(m[1]!);
  const test = exec !== undefined ? ['CMD', ...exec] : ['CMD-SHELL', m[1]!];
  const out: NonNullable<RunConfig['Healthcheck']> = { Test: test };
  const known: Record<string, 'Interval' | 'Timeout' | 'StartPeriod'> = {
    interval: 'Interval',
    timeout: 'Timeout',
    'start-period': 'StartPeriod',
  };
  for (const [flag, value] of Object.entries(ins.flags)) {
    if (flag === 'retries' && /^\d+$/.test(value)) out.Retries = Number(value);
    else if (known[flag] !== undefined) out[known[flag]] = duration(ins, flag, value);
    else throw invalid(ins, `HEALTHCHECK has no option --${flag}`);
  }
  return out;
}

/** `1m30s`, `500ms`, `2h` as nanoseconds (docker's unit for the config). */
function duration(ins: Instruction, flag: string, value: string): number {
  const units: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== value)
    throw invalid(ins, `--${flag}=${value} is not a duration such as 30s or 1m30s`);
  return parts.reduce((n, p) => n + Number(p[1]) * units[p[2]!]!, 0);
}
