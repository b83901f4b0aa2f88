import { UsageError } from '../errors.js';

/** The instructions hutch build knows (docker's set; ONBUILD and the heredoc syntax are not supported). */
export const INSTRUCTIONS = [
  'FROM',
  'RUN',
  'COPY',
  'ADD',
  'ENV',
  'ARG',
  'WORKDIR',
  'USER',
  'LABEL',
  'EXPOSE',
  'VOLUME',
  'ENTRYPOINT',
  'CMD',
  'SHELL',
  'STOPSIGNAL',
  'HEALTHCHECK',
  'MAINTAINER',
] as const;
export type InstructionName = (typeof INSTRUCTIONS)[number];

/** One instruction of a Containerfile, its `--flag=value` options split off. */
export interface Instruction {
  name: InstructionName;
  /** The text after the name and the flags, continuation lines joined. */
  args: string;
  flags: Record<string, string>;
  /** Where it starts: `FILE:LINE`. */
  where: string;
  /** The instruction as written (one line), for progress and the history. */
  text: string;
}

/** A stage: FROM and what follows until the next FROM. */
export interface Stage {
  index: number;
  /** `AS NAME`, lower case. */
  name?: string;
  from: Instruction;
  steps: Instruction[];
}

export interface Containerfile {
  /** ARGs before the first FROM: usable in FROM lines only. */
  globalArgs: Instruction[];
  stages: Stage[];
}

const FLAGGED = new Set<InstructionName>(['COPY', 'ADD', 'FROM', 'RUN', 'HEALTHCHECK']);

/**
 * Reads a Containerfile: comments (a `#` first on a line), blank lines, `\` line continuations
 * (comment lines inside a continued instruction are dropped, as docker does), instruction names
 * in any case. An unknown instruction is an error naming FILE:LINE.
 */
export function parseContainerfile(text: string, file: string): Containerfile {
  const instructions = logicalLines(text).map(({ line, at }) => instruction(line, `${file}:${at}`));
  const out: Containerfile = { globalArgs: [], stages: [] };
  for (const ins of instructions) {
    if (ins.name === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?\s*$/i.exec(ins.args);
      if (m === null) throw invalid(ins, 'FROM takes IMAGE [AS NAME]');
      out.stages.push({ index: out.stages.length, name: m[2]?.toLowerCase(), from: ins, steps: [] });
    } else if (out.stages.length === 0) {
      if (ins.name !== 'ARG') throw invalid(ins, `${ins.name} comes before the first FROM`);
      out.globalArgs.push(ins);
    } else out.stages.at(-1)!.steps.push(ins);
  }
  if (out.stages.length === 0)
    throw new UsageError('BUILD_NO_FROM', `cannot build from ${file}: it has no FROM instruction`, {
      hint: 'start the Containerfile with FROM IMAGE (or FROM scratch)',
    });
  return out;
}

export function invalid(ins: Pick<Instruction, 'where' | 'text'>, why: string): UsageError {
  return new UsageError('BUILD_INSTRUCTION_INVALID', `invalid instruction at ${ins.where} (${ins.text}): ${why}`, {
    hint: 'see docs/build.md for the forms hutch build reads',
  });
}

/** Lines with continuations joined, each with the number of its first physical line. */
function logicalLines(text: string): { line: string; at: number }[] {
  const out: { line: string; at: number }[] = [];
  let current: { line: string; at: number } | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith('#') || (trimmed === '' && current === undefined)) return;
    const continued = /\\\s*$/.test(raw);
    const part = continued ? raw.replace(/\\\s*$/, '') : raw;
    if (current === undefined) current = { line: part.trim(), at: i + 1 };
    else current.line += (current.line.endsWith(' ') ? '' : ' ') + part.trim();
    if (!continued) {
      out.push(current);
      current = undefined;
    }
  });
  if (current !== undefined && current.line !== '') out.push(current);
  return out;
}

function instruction(line: string, where: string): Instruction {
  const m = /^(\S+)\s*(.*)$/s.exec(line)!;
  const name = m[1]!.toUpperCase();
  const text = line.length > 200 ? `${line.slice(0, 197)}...` : line;
  if (!(INSTRUCTIONS as readonly string[]).includes(name)) {
    const hint = name === 'ONBUILD' ? 'ONBUILD is not supported by hutch build' : `known: ${INSTRUCTIONS.join(', ')}`;
    throw new UsageError('BUILD_UNKNOWN_INSTRUCTION', `unknown instruction ${m[1]} at ${where}`, { hint });
  }
  const ins: Instruction = { name: name as InstructionName, args: m[2]!.trim(), flags: {}, where, text };
  if (!FLAGGED.has(ins.name)) return ins;
  for (;;) {
    const f = /^--([a-z-]+)(?:=(\S*))?(?:\s+|$)/.exec(ins.args);
    if (f === null) return ins;
    ins.flags[f[1]!] = f[2] ?? 'true';
    ins.args = ins.args.slice(f[0].length);
  }
}
