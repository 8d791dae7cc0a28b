/**
 * The mappings of an index generation: the configured mapping of a field where there is one,
 * otherwise a default chosen from the PostgreSQL column type, always for the value as the
 * event carries it (pg's text output, or the parsed JSON value with `types: parsed`). Values
 * Elasticsearch cannot read for a numeric or date field (`NaN`, `infinity`) are kept in
 * `_source` but not indexed (`ignore_malformed`), never failing the document.
 *
 * The trimmed Elasticsearch distribution has no mapper-extras module: `scaled_float`,
 * `search_as_you_type` and friends are refused when an index is created; the error names them.
 */

/** PostgreSQL type of a column: `pg_type.typname` and `typcategory`. */
export interface ColumnType {
  name: string;
  category: string;
}

export type ValueMode = 'text' | 'parsed';

export type FieldMapping = Record<string, unknown>;

/** Where the sink keeps its own data in every document (never a column of the row). */
export const META_FIELD = '_cdc';

/** pg's text output of date, timestamp and timestamptz, any fraction, any offset. */
const PG_TIMESTAMP =
  'uuuu-MM-dd HH:mm:ss[.SSSSSS][.SSSSS][.SSSS][.SSS][.SS][.S][XXX][X]||uuuu-MM-dd HH:mm:ss[XXX][X]||uuuu-MM-dd';

const TEXT: FieldMapping = { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } };

/** The default mapping of a column, by PostgreSQL type. */
export function defaultFieldMapping(type: ColumnType | undefined, valueMode: ValueMode): FieldMapping {
  if (type === undefined) return TEXT;
  switch (type.name) {
    case 'int2':
    case 'int4':
    case 'int8':
    case 'oid':
      return { type: 'long' };
    case 'float4':
    case 'float8':
    case 'numeric':
      // numeric keeps its exact text in _source; the index holds a double for ranges and sorting.
      return { type: 'double', ignore_malformed: true };
    case 'bool':
      // Text mode carries pg's "t"/"f", which a boolean field refuses.
      return valueMode === 'parsed' ? { type: 'boolean' } : { type: 'keyword' };
    case 'date':
    case 'timestamp':
    case 'timestamptz':
      return { type: 'date', format: `strict_date_optional_time||${PG_TIMESTAMP}`, ignore_malformed: true };
    case 'uuid':
    case 'money':
    case 'time':
    case 'timetz':
    case 'interval':
    case 'inet':
    case 'cidr':
    case 'macaddr':
      return { type: 'keyword', ignore_above: 256 };
    case 'bytea':
      // Kept in _source only: pg's hex text is no use to search.
      return { type: 'keyword', index: false, doc_values: false };
    case 'json':
    case 'jsonb':
      // Parsed mode carries any JSON value (object, array, scalar): stored, not indexed.
      return valueMode === 'parsed' ? { type: 'object', enabled: false } : TEXT;
    default:
      return TEXT;
  }
}

export interface IndexMappingInput {
  fields: readonly string[];
  /** Configured mappings (`search.indexes[].mappings`), by field. */
  explicit?: Record<string, unknown> | undefined;
  columnTypes?: ReadonlyMap<string, ColumnType> | undefined;
  valueMode: ValueMode;
}

/** The `mappings` body of a new generation (without `_meta`, which the generation adds). */
export function indexMappings(input: IndexMappingInput): {
  dynamic: false;
  properties: Record<string, unknown>;
} {
  const properties: Record<string, unknown> = {};
  for (const field of input.fields) {
    properties[field] = defaultFieldMapping(input.columnTypes?.get(field), input.valueMode);
  }
  for (const [field, mapping] of Object.entries(input.explicit ?? {})) properties[field] = mapping;
  properties[META_FIELD] = {
    properties: {
      deleted: { type: 'boolean' },
      commitLsn: { type: 'keyword' },
      lsn: { type: 'keyword' },
      commitTime: { type: 'date' },
    },
  };
  // Only the configured fields are ever written; nothing else should grow the mapping.
  return { dynamic: false, properties };
}

/** The read alias hides tombstones (deleted rows kept as version fences). */
export const LIVE_DOCUMENTS_FILTER = {
  bool: { must_not: { term: { [`${META_FIELD}.deleted`]: true } } },
};
