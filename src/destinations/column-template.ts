/**
 * Text with `{column}` placeholders filled from a row: the URL of an HTTP request
 * (`https://api.example.com/customers/{id}`), the key of a Redis hash (`customer:{id}`).
 * Shared by the record destinations; each decides how a value is written into the text.
 */
export interface ColumnTemplate {
  readonly text: string;
  /** Literal text and placeholders, in order. */
  readonly parts: readonly (string | { column: string })[];
  /** Columns the placeholders name, each once, in order of first use. */
  readonly columns: readonly string[];
}

const PLACEHOLDER = /\{([^{}]+)\}/g;

export function parseColumnTemplate(text: string): ColumnTemplate {
  const parts: (string | { column: string })[] = [];
  const columns: string[] = [];
  let last = 0;
  for (const m of text.matchAll(PLACEHOLDER)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    const column = m[1].trim();
    parts.push({ column });
    if (!columns.includes(column)) columns.push(column);
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return { text, parts, columns };
}

/** Fills the placeholders; `valueOf` gives each column's text (escaped as the caller needs). */
export function renderTemplate(t: ColumnTemplate, valueOf: (column: string) => string): string {
  let out = '';
  for (const p of t.parts) out += typeof p === 'string' ? p : valueOf(p.column);
  return out;
}

/** The literal text before the first placeholder (a Redis key prefix to SCAN). */
export function templatePrefix(t: ColumnTemplate): string {
  return typeof t.parts[0] === 'string' ? t.parts[0] : '';
}

/**
 * Why the template cannot be filled from these columns: a placeholder naming a column the
 * pipeline does not send (`allowed`), said with the field it came from.
 */
export function templateProblems(t: ColumnTemplate, allowed: readonly string[], field: string, allowedWhat = 'the mapped columns'): string[] {
  const problems: string[] = [];
  for (const c of t.columns) {
    if (!allowed.includes(c)) problems.push(`${field}: placeholder {${c}} names no column of ${allowedWhat} (${allowed.join(', ')})`);
  }
  return problems;
}
