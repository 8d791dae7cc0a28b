import { canonicalJson, convertValue, type RowImage, type ValueMode } from '@cdc-cache/core';
import type pg from 'pg';

export type { ValueMode } from '@cdc-cache/core';

/** Every value as pg's text output: the same text the cdc-worker puts in events. */
const TEXT_TYPES = { getTypeParser: () => (value: string) => value };

/**
 * Reads one row as the row document the cache-invalidator writes: the canonical JSON of the
 * row image (columns sorted), values as the config's `types` asks, exactly as in change events
 * (core's convertValue), so a value filled by a reader and one refreshed from an event
 * are the same bytes.
 */
export class RowLoader {
  private readonly sql: string;

  constructor(
    private readonly pool: Pick<pg.Pool, 'query'>,
    table: string,
    private readonly columns: readonly string[],
    private readonly valueMode: ValueMode = 'text',
  ) {
    const [schema, name] = table.split('.') as [string, string];
    const where = columns.map((column, i) => `${quoteIdent(column)} = $${i + 1}`).join(' AND ');
    this.sql = `SELECT * FROM ${quoteIdent(schema)}.${quoteIdent(name)} WHERE ${where} LIMIT 1`;
  }

  /** The row document for these key values (column -> text), or null when there is no such row. */
  async load(params: RowImage): Promise<string | null> {
    const values = this.columns.map((column) => String(params[column]));
    const result = await this.pool.query({ text: this.sql, values, types: TEXT_TYPES });
    const row = result.rows[0] as Record<string, string | null> | undefined;
    if (row === undefined) return null;
    const image: RowImage = {};
    for (const field of result.fields) {
      const text = row[field.name];
      image[field.name] =
        text === null || text === undefined ? null : convertValue(text, field.dataTypeID, this.valueMode);
    }
    return canonicalJson(image);
  }
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
