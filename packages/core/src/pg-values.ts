/** How column values appear in row images: pg's text output, or JSON types where lossless. */
export type ValueMode = 'text' | 'parsed';

const BOOL = 16;
const INT2 = 21;
const INT4 = 23;
const OID = 26;
const FLOAT4 = 700;
const FLOAT8 = 701;
const JSON_OID = 114;
const JSONB = 3802;

/**
 * A column's text value (pg's output function) as it appears in a row image: as sent in text
 * mode; in parsed mode, JSON types where the conversion is lossless (bigint and numeric stay
 * strings). One function for the stream, the snapshot reader and the read path, so all agree.
 */
export function convertValue(text: string, typeOid: number, valueMode: ValueMode): unknown {
  if (valueMode === 'text') return text;
  switch (typeOid) {
    case BOOL:
      return text === 't';
    case INT2:
    case INT4:
    case OID:
      return Number(text);
    case FLOAT4:
    case FLOAT8: {
      // NaN and ±Infinity have no JSON number: they stay text.
      const number = Number(text);
      return Number.isFinite(number) ? number : text;
    }
    case JSON_OID:
    case JSONB:
      return JSON.parse(text);
    default:
      return text;
  }
}
