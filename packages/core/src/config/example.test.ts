import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileKeyTemplate } from '../key-template.js';
import { loadConfig } from './load.js';

const EXAMPLE = fileURLToPath(new URL('../../../../examples/cdc-cache.yaml', import.meta.url));

describe('examples/cdc-cache.yaml', () => {
  it('loads, pointing at the local stack', () => {
    const config = loadConfig({ path: EXAMPLE, env: {} });
    expect(config.source.postgres.url).toBe('postgres://postgres@127.0.0.1:15432/postgres');
    expect(config.kafka.brokers).toEqual(['127.0.0.1:19092']);
    expect(config.stores.redis?.url).toBe('redis://127.0.0.1:16379');
    expect(config.stores.memcached?.servers).toEqual(['127.0.0.1:21211']);
    expect(config.search?.elasticsearch.node).toBe('http://127.0.0.1:19200');
    expect(config.rules.map((rule) => rule.table)).toEqual([
      'public.users',
      'public.orders',
      'public.products',
    ]);
  });

  it('has the design sketch rules, with keys that render', () => {
    const config = loadConfig({ path: EXAMPLE, env: {} });
    const users = config.rules.find((rule) => rule.table === 'public.users');
    expect(users?.keys).toEqual([
      { key: 'user:{id}', store: 'redis', action: 'refresh', ttl: 3600 },
      { key: 'user:email:{email}', store: 'memcached', action: 'evict' },
    ]);
    const row = { id: 42, email: 'ann@example.com', user_id: 42 };
    const keys = config.rules.flatMap((rule) =>
      rule.keys.map((key) => compileKeyTemplate(key.key, { store: key.store }).render(row)),
    );
    expect(keys.every((key) => key.ok)).toBe(true);
  });
});
