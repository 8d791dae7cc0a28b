import {
  type ChangeEvent,
  canonicalJson,
  compileKeyTemplate,
  type KeyTemplate,
  type RowImage,
} from '@cdc-cache/core';
import { META_FIELD } from './mappings.js';

/** One index fed from one table (`search.indexes[]` in the config). */
export interface IndexSpec {
  table: string;
  index: string;
  fields: string[];
  /** Document id as a key template; absent: the canonical JSON of the primary key. */
  id?: string | undefined;
  mappings?: Record<string, unknown> | undefined;
}

/** What one change does to one document. */
export type DocumentChange =
  | {
      kind: 'upsert';
      id: string;
      /** The configured fields the event carries, plus the sink's `_cdc` data. */
      document: Record<string, unknown>;
      /** Configured fields the event does not carry (unchanged TOAST): read them from the row. */
      missing: string[];
    }
  | { kind: 'delete'; id: string; document: Record<string, unknown> }
  /** The change cannot be applied to this index: dead-letter it with this reason. */
  | { kind: 'invalid'; reason: string };

export class DocumentIdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DocumentIdError';
  }
}

/**
 * Turns change events of a table into document changes for one index: the document id is the
 * primary key (canonical JSON) or the configured id template; the document is the configured
 * fields of the row image. A delete becomes a tombstone document (`_cdc.deleted: true`) that
 * keeps the delete's version, so that an older change arriving later cannot bring the row back;
 * the index's read alias hides tombstones.
 */
export class DocumentShaper {
  private readonly template: KeyTemplate | null;

  constructor(readonly spec: IndexSpec) {
    if (spec.fields.includes(META_FIELD)) {
      throw new DocumentIdError(
        `search index ${spec.index}: field ${META_FIELD} is reserved for the indexer's own data; rename the column in a view or leave it out`,
      );
    }
    // Elasticsearch ids are at most 512 bytes; longer ones are hashed like long cache keys.
    this.template = spec.id ? compileKeyTemplate(spec.id, { store: 'redis', maxKeyBytes: 512 }) : null;
  }

  /** The document changes of one row event (c, u, d, r); none for a truncate. */
  changesFor(event: ChangeEvent): DocumentChange[] {
    const meta = {
      commitLsn: event.source.commitLsn,
      lsn: event.source.lsn,
      commitTime: event.source.commitTime,
    };
    const key = event.key ?? {};
    switch (event.op) {
      case 't':
        return [];
      case 'd': {
        const id = this.idOf({ ...(event.before ?? {}), ...key }, key);
        if (!id.ok) return [{ kind: 'invalid', reason: id.reason }];
        return [{ kind: 'delete', id: id.id, document: { [META_FIELD]: { ...meta, deleted: true } } }];
      }
      case 'c':
      case 'u':
      case 'r': {
        const after = event.after ?? {};
        const changes: DocumentChange[] = [];
        const id = this.idOf({ ...after, ...key }, key);
        if (!id.ok) return [{ kind: 'invalid', reason: id.reason }];
        // The old document of a changed key (or of a changed id column) goes: it is that row's delete.
        const oldId = event.op === 'u' ? this.oldIdOf(event, key) : null;
        if (oldId !== null && !oldId.ok) changes.push({ kind: 'invalid', reason: oldId.reason });
        else if (oldId !== null && oldId.id !== id.id) {
          changes.push({
            kind: 'delete',
            id: oldId.id,
            document: { [META_FIELD]: { ...meta, deleted: true } },
          });
        }
        const document: Record<string, unknown> = {};
        const missing: string[] = [];
        const toast = new Set(event.unchangedToast);
        for (const field of this.spec.fields) {
          if (Object.hasOwn(after, field)) document[field] = after[field];
          else if (toast.has(field)) missing.push(field);
          // A field the row does not have at all is left out (never written as null).
        }
        document[META_FIELD] = meta;
        changes.push({ kind: 'upsert', id: id.id, document, missing });
        return changes;
      }
    }
  }

  private idOf(row: RowImage, key: RowImage): { ok: true; id: string } | { ok: false; reason: string } {
    if (this.template === null) {
      if (Object.keys(key).length === 0)
        return { ok: false, reason: `${this.spec.table}: event without a key; a document needs one` };
      return { ok: true, id: canonicalJson(key) };
    }
    const rendered = this.template.render(row);
    if (rendered.ok) return { ok: true, id: rendered.key };
    const hint =
      rendered.code === 'missing-column'
        ? '; deletes and key changes carry only the key columns unless the table has REPLICA IDENTITY FULL'
        : '';
    return {
      ok: false,
      reason: `search index ${this.spec.index}: no document id from template ${this.spec.id}: ${rendered.reason}${hint}`,
    };
  }

  /** The id the row had before an update, when it may differ: null when it cannot have changed. */
  private oldIdOf(
    event: ChangeEvent,
    key: RowImage,
  ): { ok: true; id: string } | { ok: false; reason: string } | null {
    const before = event.before;
    if (before === null) return null; // REPLICA IDENTITY DEFAULT, key unchanged
    if (this.template === null) {
      const columns = Object.keys(key);
      if (!columns.every((column) => Object.hasOwn(before, column))) return null;
      const oldKey: RowImage = {};
      for (const column of columns) oldKey[column] = before[column];
      return { ok: true, id: canonicalJson(oldKey) };
    }
    const columns = this.template.columns;
    if (!columns.every((column) => Object.hasOwn(before, column))) {
      // Only key columns came: the id moved only if the key did (then the template needs them all).
      const keyChanged = Object.keys(key).some(
        (column) =>
          Object.hasOwn(before, column) && canonicalJson(before[column]) !== canonicalJson(key[column]),
      );
      return keyChanged ? this.idOf(before, {}) : null;
    }
    return this.idOf(before, {});
  }
}
