import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey } from './partitioner.js';

describe('key partitioning', () => {
  it('hashes exactly as Java Kafka does (vectors from Kafka UtilsTest)', () => {
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [input, expected] of vectors) expect(murmur2(Buffer.from(input)), input).toBe(expected);
  });

  it('puts the same key bytes in the same partition, whether given as string or Buffer', () => {
    for (let i = 0; i < 1000; i++) {
      const key = `{"id":${i}}`;
      const partition = partitionForKey(key, 6);
      expect(partition).toBeGreaterThanOrEqual(0);
      expect(partition).toBeLessThan(6);
      expect(partitionForKey(Buffer.from(key), 6)).toBe(partition);
    }
  });
});
