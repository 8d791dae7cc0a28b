import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseConfig } from '@cdc-cache/core';
import { PORTS } from '@cdc-cache/local-stack';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEPLOY, PROMETHEUS_DIR, promtool, REPO, SERVICES } from './deploy-helpers.js';

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  volumes?: string[];
  configs?: { source: string; target: string }[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}
interface Compose {
  services: Record<string, ComposeService>;
  configs: Record<string, { content: string }>;
}

const COMPOSE_FILE = join(DEPLOY, 'compose.yaml');
const compose = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as Compose;

/** Compose's interpolation of `${NAME:-default}` (with no such variable set) and `$$`. */
function interpolate(value: string): string {
  return value
    .replace(/\$\{(\w+):-([^}]*)\}/g, (_, _name, fallback: string) => fallback)
    .replace(/\$\$/g, '$');
}

/** Host ports published on 127.0.0.1, by the container port they lead to. */
function published(service: ComposeService): Map<number, number> {
  const ports = new Map<number, number>();
  for (const spec of service.ports ?? []) {
    const match = /^127\.0\.0\.1:(\d+):(\d+)$/.exec(spec);
    expect(match, `port ${spec} is published on 127.0.0.1 only`).not.toBeNull();
    ports.set(Number(match![2]), Number(match![1]));
  }
  return ports;
}

describe('deploy/compose.yaml', () => {
  it('has the servers of the local stack from official images', () => {
    const images = Object.fromEntries(
      Object.entries(compose.services).map(([name, s]) => [name, s.image ?? '']),
    );
    expect(images.postgres).toBe('postgres:15');
    expect(images.kafka).toMatch(/^apache\/kafka:4\.1\.\d+$/);
    expect(images.elasticsearch).toMatch(/^docker\.elastic\.co\/elasticsearch\/elasticsearch:8\.19\.\d+$/);
    expect(images.redis).toBe('redis:7');
    expect(images.memcached).toBe('memcached:1.6');
    expect(images.nginx).toMatch(/^openresty\/openresty:/);
    expect(images.prometheus).toMatch(/^prom\/prometheus:v2\./);
  });

  it('publishes every server on the local stack port, on loopback', () => {
    const containerPorts = {
      postgres: 5432,
      kafka: 19092,
      elasticsearch: 9200,
      redis: 6379,
      memcached: 11211,
      nginx: 8080,
      prometheus: 9090,
    } as const;
    for (const [name, containerPort] of Object.entries(containerPorts)) {
      const service = compose.services[name];
      expect(service, name).toBeDefined();
      expect(published(service!).get(containerPort), name).toBe(PORTS[name as keyof typeof containerPorts]);
    }
  });

  it('configures the servers as cdc-cache needs them', () => {
    const { postgres, kafka, elasticsearch } = compose.services;
    expect(postgres!.command).toEqual(expect.arrayContaining(['wal_level=logical']));
    expect(kafka!.environment).toMatchObject({ KAFKA_PROCESS_ROLES: 'broker,controller' });
    expect(String(kafka!.environment?.KAFKA_ADVERTISED_LISTENERS)).toContain('PLAINTEXT://kafka:9092');
    expect(elasticsearch!.environment).toMatchObject({
      'discovery.type': 'single-node',
      'xpack.security.enabled': 'false',
    });
  });

  it('runs each of the four services from the repository image, on its metrics port', () => {
    expect(existsSync(join(REPO, 'Dockerfile'))).toBe(true);
    for (const { name, port } of SERVICES) {
      const service = compose.services[name];
      expect(service, name).toBeDefined();
      expect(service!.build).toEqual({ context: '..', dockerfile: 'Dockerfile' });
      expect(service!.command).toEqual([
        `services/${name}/src/main.ts`,
        '--config',
        '/config/cdc-cache.yaml',
      ]);
      expect(published(service!).get(port), name).toBe(port);
      const mount = service!.volumes?.find((v) => v.endsWith(':/config/cdc-cache.yaml:ro'));
      expect(mount, `${name} mounts its config`).toBeDefined();
      expect(existsSync(resolve(DEPLOY, mount!.split(':')[0]!))).toBe(true);
      expect(service!.depends_on).toMatchObject({ postgres: { condition: 'service_healthy' } });
    }
  });

  it("gives the services an environment that the config loader accepts and that points at compose's hosts", () => {
    for (const { name, configKey, port } of SERVICES) {
      const service = compose.services[name]!;
      const mount = service.volumes!.find((v) => v.endsWith(':/config/cdc-cache.yaml:ro'))!;
      const env = Object.fromEntries(
        Object.entries(service.environment ?? {}).map(([key, value]) => [key, interpolate(String(value))]),
      );
      const config = parseConfig(readFileSync(resolve(DEPLOY, mount.split(':')[0]!), 'utf8'), { env });
      expect(config.kafka.brokers).toEqual(['kafka:9092']);
      expect(config.source.postgres.url).toContain('@postgres:5432/');
      expect(config.source.postgres.password).toBe('cdc-cache');
      expect(config.stores.redis?.url).toBe('redis://redis:6379');
      expect(config.stores.memcached?.servers).toEqual(['memcached:11211']);
      expect(config.search?.elasticsearch.node).toMatch(/^http:\/\/elasticsearch:9200\/?$/);
      const listener = config.services[configKey as keyof typeof config.services] as {
        host: string;
        port: number;
      };
      expect(listener).toMatchObject({ host: '0.0.0.0', port });
    }
  });

  it('runs a Prometheus with the same jobs and rules, whose config passes `promtool check config`', () => {
    const prometheus = compose.services.prometheus!;
    expect(prometheus.configs).toEqual([
      { source: 'prometheus-config', target: '/etc/prometheus/prometheus.yml' },
    ]);
    expect(prometheus.volumes).toEqual(
      expect.arrayContaining([
        './prometheus/rules:/etc/prometheus/rules:ro',
        './prometheus/consoles:/etc/prometheus/consoles:ro',
      ]),
    );
    const content = interpolate(compose.configs['prometheus-config']!.content);
    const dir = mkdtempSync(join(tmpdir(), 'cdc-cache-compose-prometheus-'));
    writeFileSync(join(dir, 'prometheus.yml'), content);
    mkdirSync(join(dir, 'rules'));
    cpSync(join(PROMETHEUS_DIR, 'rules'), join(dir, 'rules'), { recursive: true });
    const result = promtool(['check', 'config', join(dir, 'prometheus.yml')]);
    expect(result.status, result.output).toBe(0);

    const jobsOf = (yamlText: string) =>
      (
        parse(yamlText) as { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] }
      ).scrape_configs.map((job) => job.job_name);
    const local = readFileSync(join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8');
    expect(jobsOf(content)).toEqual(jobsOf(local));
    for (const { name, port } of SERVICES) expect(content).toContain(`"${name}:${port}"`);
  });

  it('sends the read path (/v1/...) through NGINX to the read-api', () => {
    expect(compose.services.nginx!.configs?.[0]?.source).toBe('nginx-read-path');
    const conf = interpolate(compose.configs['nginx-read-path']!.content);
    expect(conf).toContain('proxy_pass http://read-api:9484;');
    expect(conf).toContain('location ~ ^/v1/');
    expect(conf).toContain('proxy_set_header Host $host;');
  });
});
