import { describe, expect, it } from 'vitest';
import { redisVersionFromInfo, respComplete } from './redis.js';

describe('RESP replies', () => {
  it('knows when a simple or bulk reply is whole', () => {
    expect(respComplete(Buffer.from('+PONG\r\n'))).toBe(true);
    expect(respComplete(Buffer.from('+PO'))).toBe(false);
    expect(respComplete(Buffer.from('$5\r\nhel'))).toBe(false);
    expect(respComplete(Buffer.from('$5\r\nhello\r\n'))).toBe(true);
    expect(respComplete(Buffer.from('$-1\r\n'))).toBe(true);
  });

  it('reads the version from INFO', () => {
    expect(redisVersionFromInfo('# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:0\r\n')).toBe('7.0.15');
  });
});
