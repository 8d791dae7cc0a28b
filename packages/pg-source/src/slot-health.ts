import type { Queryable } from './queryable.js';

export interface SlotHealth {
  /** WAL between the server's current position and what the slot's consumer confirmed. */
  lagBytes: number;
  /** WAL the slot keeps on disk (current position minus restart_lsn). */
  retainedWalBytes: number;
  active: boolean;
  confirmedLsn: string | null;
}

export async function slotHealth(db: Queryable, slot: string): Promise<SlotHealth | null> {
  const { rows } = await db.query<{
    lag: string | null;
    retained: string | null;
    active: boolean;
    confirmed: string | null;
  }>(
    `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS lag,
            pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text AS retained,
            active, confirmed_flush_lsn::text AS confirmed
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  const row = rows[0];
  if (!row) return null;
  return {
    lagBytes: Number(row.lag ?? 0),
    retainedWalBytes: Number(row.retained ?? 0),
    active: row.active,
    confirmedLsn: row.confirmed,
  };
}

/** The prefix of heartbeat messages in the stream. */
export const HEARTBEAT_PREFIX = 'cdc_cache.heartbeat';

/**
 * Writes a transactional logical message. It flows through the slot like any transaction,
 * so on an idle database (or one whose writes go to other tables) the slot still advances
 * and retained WAL stays bounded.
 */
export async function emitHeartbeat(db: Queryable): Promise<void> {
  await db.query('SELECT pg_logical_emit_message(true, $1, $2)', [
    HEARTBEAT_PREFIX,
    new Date().toISOString(),
  ]);
}
