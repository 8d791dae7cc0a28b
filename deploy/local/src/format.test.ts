import { describe, expect, it } from 'vitest';
import { formatStatusTable } from './format.js';

describe('formatStatusTable', () => {
  it('aligns columns and marks unhealthy servers', () => {
    const table = formatStatusTable([
      { name: 'redis', port: 16379, pid: 42, version: '7.0.15', healthy: true, detail: 'PING -> PONG' },
      { name: 'elasticsearch', port: 19200, pid: null, version: null, healthy: false, detail: 'not running' },
    ]);
    expect(table.split('\n')).toEqual([
      'SERVER         PORT   PID  VERSION  HEALTH   DETAIL',
      'redis          16379  42   7.0.15   healthy  PING -> PONG',
      'elasticsearch  19200  -    -        DOWN     not running',
    ]);
  });
});
