import { describe, expect, it } from 'vitest';
import { renderPgHba, renderPostgresConf } from './postgres.js';

describe('PostgreSQL configuration', () => {
  it('enables logical replication on the project port, loopback only', () => {
    const conf = renderPostgresConf({ port: 15432, socketDir: '/s/run/postgres' });
    expect(conf).toContain("listen_addresses = '127.0.0.1'\n");
    expect(conf).toContain('port = 15432\n');
    expect(conf).toContain('wal_level = logical\n');
    expect(conf).toContain('max_replication_slots = 20\n');
    expect(conf).toContain('max_wal_senders = 20\n');
    expect(conf).toContain("shared_preload_libraries = 'pg_stat_statements'\n");
    expect(conf).toContain("unix_socket_directories = '/s/run/postgres'\n");
  });

  it('trusts loopback for queries and replication, nothing else', () => {
    const rules = renderPgHba()
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(/\s+/));
    expect(rules).toContainEqual(['host', 'replication', 'all', '127.0.0.1/32', 'trust']);
    expect(rules).toContainEqual(['host', 'all', 'all', '127.0.0.1/32', 'trust']);
    expect(rules.filter((r) => r[0] === 'host').every((r) => r[3] === '127.0.0.1/32')).toBe(true);
  });
});
