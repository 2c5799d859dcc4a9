import type { Column, Value } from '../../types/logical-type.js';
import { parseColumnTemplate, renderTemplate, templatePrefix, type ColumnTemplate } from '../column-template.js';
import { textValue, UnwritableValueError } from '../record-values.js';

/**
 * The Redis key of each row, from the `key` template (`customer:{id}`). Placeholders name
 * primary key columns only, so a removed row (known by its key alone) finds its key, and
 * a row's key never changes while the row lives.
 */
export class RedisKeys {
  readonly template: ColumnTemplate;

  constructor(text: string) {
    this.template = parseColumnTemplate(text);
  }

  /**
   * Does a key found by SCAN have this template's shape. Placeholders of integer columns
   * match digits only, so customer:{id} does not claim customer:7:orders.
   */
  matcher(columns: readonly Column[]): (key: string) => boolean {
    const pattern = new RegExp(
      '^' +
        this.template.parts
          .map((p) => {
            if (typeof p === 'string') return escapeRegExp(p);
            const kind = columns.find((c) => c.name === p.column)?.type.kind;
            return kind === 'int16' || kind === 'int32' || kind === 'int64' ? '-?\\d+' : '.+';
          })
          .join('') +
        '$',
      's',
    );
    return (key) => pattern.test(key);
  }

  /** Placeholders naming no primary key column. */
  static problems(text: string, keys: readonly string[]): string[] {
    return parseColumnTemplate(text)
      .columns.filter((c) => !keys.includes(c))
      .map((c) => `destination.key: placeholder {${c}} is not a primary key column (${keys.join(', ')}); a key must be built from the key alone`);
  }

  /** The key of a row, from its key values (in key column order). Throws UnwritableValueError for a NULL. */
  keyOf(key: readonly Value[], keyColumns: readonly Column[]): string {
    return renderTemplate(this.template, (name) => {
      const i = keyColumns.findIndex((c) => c.name === name);
      const v = key[i];
      if (v === null || v === undefined) throw new UnwritableValueError(name, 'is NULL, and the key needs it');
      return textValue(keyColumns[i], v);
    });
  }

  /** SCAN MATCH pattern: the literal prefix (glob characters escaped), then anything. */
  scanPattern(): string {
    return templatePrefix(this.template).replace(/[*?[\]\\]/g, '\\$&') + '*';
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
