import type pg from 'pg';

/** A client or a pool: setup and health queries work on either (a pool survives reconnects). */
export type Queryable = pg.ClientBase | pg.Pool;
