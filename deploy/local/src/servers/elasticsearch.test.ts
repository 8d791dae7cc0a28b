import { describe, expect, it } from 'vitest';
import { JVM_OPTIONS, renderElasticsearchYml } from './elasticsearch.js';

describe('Elasticsearch configuration', () => {
  const yml = renderElasticsearchYml({
    dataDir: '/s/data/es',
    logsDir: '/s/logs/es',
    port: 19200,
    transportPort: 19300,
  });

  it('is a single node on loopback without security or disk watermarks', () => {
    expect(yml).toContain('discovery.type: single-node\n');
    expect(yml).toContain('network.host: 127.0.0.1\n');
    expect(yml).toContain('http.port: 19200\n');
    expect(yml).toContain('transport.port: 19300\n');
    expect(yml).toContain('xpack.security.enabled: false\n');
    expect(yml).toContain('cluster.routing.allocation.disk.threshold_enabled: false\n');
  });

  it('uses only settings the trimmed distribution knows', () => {
    expect(yml).not.toMatch(/xpack\.(ml|monitoring|watcher)|ingest\.geoip/);
  });

  it('sets a 512m heap', () => {
    expect(JVM_OPTIONS).toContain('-Xms512m');
    expect(JVM_OPTIONS).toContain('-Xmx512m');
  });
});
