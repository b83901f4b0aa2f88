/**
 * Variable expansion as docker does it in ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER,
 * VOLUME and WORKDIR: `$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME:+alternative}`; `\$` is a
 * literal dollar; text in single quotes is left alone. Unset names expand to nothing.
 */
export function expand(text: string, vars: ReadonlyMap<string, string>): string {
  let out = '';
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && text[i + 1] === '$') {
      out += '\\$';
      i++;
    } else if (c === "'" && quote !== '"') {
      quote = quote === "'" ? undefined : "'";
      out += c;
    } else if (c === '"' && quote !== "'") {
      quote = quote === '"' ? undefined : '"';
      out += c;
    } else if (c === '$' && quote !== "'") {
      const m = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/.exec(text.slice(i));
      if (m === null) {
        out += c;
        continue;
      }
      const value = vars.get(m[1] ?? m[4]!);
      if (m[2] === '-') out += value === undefined || value === '' ? m[3]! : value;
      else if (m[2] === '+') out += value === undefined || value === '' ? '' : m[3]!;
      else out += value ?? '';
      i += m[0].length - 1;
    } else out += c;
  }
  return out;
}

/** Removes the escapes expand kept (`\$`) once a word is final. */
export function unescapeDollar(text: string): string {
  return text.replace(/\\\$/g, '$');
}

/** Splits on blanks, keeping quoted parts ("a b" or 'a b') together and dropping the quotes. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  const re = /(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|((?:[^\s"'\\]|\\.)+))+/g;
  for (const m of text.matchAll(re)) {
    words.push(
      m[0]
        .replace(/"((?:[^"\\]|\\.)*)"|'([^']*)'/g, (_q, dq: string | undefined, sq: string | undefined) =>
          dq !== undefined ? dq.replace(/\\(.)/g, '$1') : sq!,
        )
        .replace(/\\(\s)/g, '$1'),
    );
  }
  return words.map(unescapeDollar);
}

/** A JSON array of strings, or undefined when the text is not one (docker then takes the shell form). */
export function jsonArray(text: string): string[] | undefined {
  if (!text.startsWith('[')) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? parsed : undefined;
  } catch {
    return undefined;
  }
}
