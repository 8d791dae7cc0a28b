-- Mixed insert/update/delete over three tables (users, orders, order_lines), as an
-- application's transactions: 25 % place an order (order + 2 lines + the user's balance),
-- 40 % update a user, 20 % update an order's status, 15 % delete an order and its lines.
-- pgbench variables: users, orders (rows seeded; new orders get higher ids).
\set r random(1, 100)
\set uid random(1, :users)
\set oid random(1, :orders)
\set qty random(1, 5)
\if :r <= 25
BEGIN;
INSERT INTO orders (user_id, status, total) VALUES (:uid, 'new', :qty * 9.99);
INSERT INTO order_lines (order_id, sku, qty, price) VALUES (currval('orders_id_seq'), 'SKU-' || :oid, :qty, 9.99);
INSERT INTO order_lines (order_id, sku, qty, price) VALUES (currval('orders_id_seq'), 'SKU-' || :uid, 1, 4.50);
UPDATE users SET balance = balance - :qty * 9.99, updated_at = now() WHERE id = :uid;
COMMIT;
\elif :r <= 65
UPDATE users SET name = 'user ' || :uid || ' rev ' || :r, updated_at = now() WHERE id = :uid;
\elif :r <= 85
UPDATE orders SET status = CASE WHEN status = 'new' THEN 'paid' ELSE 'shipped' END WHERE id = :oid;
\else
BEGIN;
DELETE FROM order_lines WHERE order_id = :oid;
DELETE FROM orders WHERE id = :oid;
COMMIT;
\endif
