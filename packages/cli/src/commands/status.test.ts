import { describe, expect, it } from 'vitest';
import { formatServerTable } from './status.js';

describe('formatServerTable', () => {
  it('aligns columns and marks a server that is down', () => {
    const table = formatServerTable(
      [
        { name: 'postgres', port: 15432, pid: 101, version: '15.18', healthy: true, detail: 'ok' },
        { name: 'kafka', port: 19092, pid: null, version: null, healthy: false, detail: 'not running' },
      ],
      false,
    );
    expect(table).toBe(
      [
        'SERVER    PORT   PID  VERSION  HEALTH   DETAIL',
        'postgres  15432  101  15.18    healthy  ok',
        'kafka     19092  -    -        DOWN     not running',
        '',
      ].join('\n'),
    );
  });
});
