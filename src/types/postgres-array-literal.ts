/**
 * A parser for Postgres array literals in text form ('{1,2,NULL}', '{{"a b","c\"d"},{e,f}}',
 * '[0:1]={1,2}'). Elements come back as the raw text of each element (unquoted and
 * unescaped) or null; nesting follows the braces. Turning element text into values is
 * the caller's job (types/postgres-text-values.ts), so one parser serves every element type.
 *
 * Follows array_in: elements are quoted ("…", backslash escapes any character) or
 * unquoted (whitespace around them ignored, backslash escapes allowed); an unquoted
 * NULL in any letter case is SQL NULL, a quoted "NULL" is the four-letter string.
 */
export type PgArrayItem = string | null | PgArrayItem[];

export function parsePgArrayLiteral(text: string, delimiter = ','): PgArrayItem[] {
  const n = text.length;
  let i = 0;

  const fail = (what: string): Error =>
    new Error(`malformed Postgres array literal at offset ${i}: ${what} in ${preview(text)}`);
  const skipSpace = (): void => {
    while (i < n && isSpace(text.charCodeAt(i))) i++;
  };

  const parseQuoted = (): string => {
    i++; // opening quote
    let out = '';
    let start = i;
    for (;;) {
      if (i >= n) throw fail('unterminated quoted element');
      const ch = text[i];
      if (ch === '\\') {
        if (i + 1 >= n) throw fail('backslash at end of input');
        out += text.slice(start, i) + text[i + 1];
        i += 2;
        start = i;
      } else if (ch === '"') {
        out += text.slice(start, i);
        i++;
        return out;
      } else {
        i++;
      }
    }
  };

  const parseUnquoted = (): string | null => {
    let out = '';
    let start = i;
    let keep = 0; // length of `out` up to the last character that is not trailing whitespace
    let isEscaped = false;
    while (i < n) {
      const ch = text[i];
      if (ch === delimiter || ch === '}') break;
      if (ch === '{' || ch === '"') throw fail(`unexpected ${ch} inside an unquoted element`);
      if (ch === '\\') {
        if (i + 1 >= n) throw fail('backslash at end of input');
        out += text.slice(start, i) + text[i + 1];
        keep = out.length;
        isEscaped = true;
        i += 2;
        start = i;
        continue;
      }
      if (!isSpace(text.charCodeAt(i))) keep = out.length + (i - start) + 1;
      i++;
    }
    out = (out + text.slice(start, i)).slice(0, keep);
    if (out === '' && !isEscaped) throw fail('empty element');
    if (!isEscaped && out.length === 4 && out.toUpperCase() === 'NULL') return null;
    return out;
  };

  const parseArray = (): PgArrayItem[] => {
    i++; // opening brace
    const items: PgArrayItem[] = [];
    skipSpace();
    if (text[i] === '}') {
      i++;
      return items;
    }
    for (;;) {
      skipSpace();
      if (i >= n) throw fail('unterminated array');
      const ch = text[i];
      if (ch === '{') items.push(parseArray());
      else if (ch === '"') items.push(parseQuoted());
      else items.push(parseUnquoted());
      skipSpace();
      const sep = text[i];
      if (sep === delimiter) {
        i++;
      } else if (sep === '}') {
        i++;
        return items;
      } else {
        throw fail(i >= n ? 'unterminated array' : `expected "${delimiter}" or "}"`);
      }
    }
  };

  // Arrays whose lower bound is not 1 print their dimensions first: '[0:2]={…}'.
  if (text[0] === '[') {
    const eq = text.indexOf('=');
    if (eq < 0) throw fail('dimension decoration without "="');
    i = eq + 1;
  }
  skipSpace();
  if (text[i] !== '{') throw fail('expected "{"');
  const result = parseArray();
  skipSpace();
  if (i !== n) throw fail('text after the closing brace');
  return result;
}

function isSpace(code: number): boolean {
  // array_in's scanner_isspace: space, \t, \n, \r, \v, \f
  return code === 32 || (code >= 9 && code <= 13);
}

function preview(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
