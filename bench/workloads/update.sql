-- Single-table update load: one UPDATE of a random row per transaction (autocommit).
-- pgbench variables: rows (rows in counters).
\set id random(1, :rows)
\set v random(1, 1000000)
UPDATE counters SET hits = hits + 1, val = :v, updated_at = now() WHERE id = :id;
