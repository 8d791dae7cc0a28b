-- Large rows: documents of about 2 KB whose body is stored out of line (TOAST, storage
-- EXTERNAL). Half the updates leave the body alone (pgoutput sends the unchanged-TOAST marker),
-- half write a new 2 KB body.
-- pgbench variables: rows (rows in documents).
\set id random(1, :rows)
\set r random(1, 1000000)
\if :r % 2 = 0
UPDATE documents SET version = version + 1, title = 'doc ' || :id || ' rev ' || :r WHERE id = :id;
\else
UPDATE documents SET version = version + 1, body = repeat(md5((CAST(:id AS bigint) * 1000003 + :r)::text), 64) WHERE id = :id;
\endif
