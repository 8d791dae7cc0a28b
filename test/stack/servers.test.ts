import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { promtoolPath, status } from '@cdc-cache/local-stack';
import { freshSlate, type Slate, stackAddresses } from '@cdc-cache/testkit';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
let slate: Slate;

beforeAll(async () => {
  slate = await freshSlate('servers');
});
afterAll(async () => {
  await slate?.dispose();
});

describe('the local stack', () => {
  it('reports all seven servers healthy, each with a port, pid and version', async () => {
    const servers = await status();
    expect(servers.map((server) => server.name).sort()).toEqual(
      ['elasticsearch', 'kafka', 'memcached', 'nginx', 'postgres', 'prometheus', 'redis'].sort(),
    );
    for (const server of servers) {
      expect(server, `${server.name}: ${server.detail}`).toMatchObject({ healthy: true });
      expect(server.pid).toBeGreaterThan(0);
      expect(server.version).toMatch(/\d+\.\d+/);
    }
  });
});

describe('PostgreSQL', () => {
  it('runs with wal_level=logical and streams pgoutput changes from a logical slot', async () => {
    const { rows: walLevel } = await slate.db.query('SHOW wal_level');
    expect(walLevel[0].wal_level).toBe('logical');

    await slate.db.query('CREATE TABLE users (id int PRIMARY KEY, email text)');
    await slate.db.query(`CREATE PUBLICATION ${slate.slotName} FOR TABLE users`);
    await slate.db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slate.slotName]);
    await slate.db.query(`INSERT INTO users VALUES (1, 'a@example.com')`);

    const { rows } = await slate.db.query<{ data: Buffer }>(
      `SELECT data FROM pg_logical_slot_get_binary_changes($1, NULL, NULL,
         'proto_version', '1', 'publication_names', $2)`,
      [slate.slotName, slate.slotName],
    );
    // pgoutput's message types: Begin, Relation, Insert, Commit.
    const messageTypes = rows.map((row) => String.fromCharCode(row.data[0]!));
    expect(messageTypes).toEqual(['B', 'R', 'I', 'C']);
    expect(rows[2]!.data.toString('latin1')).toContain('a@example.com');
  });
});

describe('Kafka', () => {
  it('gives back a message produced with acks=all by an idempotent producer', async () => {
    const kafka = new Kafka({
      clientId: 'stack-test',
      brokers: [...stackAddresses.kafka.brokers],
      logLevel: logLevel.NOTHING,
    });
    const topic = `${slate.topicPrefix}.roundtrip`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
      waitForLeaders: true,
    });
    await admin.disconnect();

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const [ack] = await producer.send({
      topic,
      acks: -1,
      messages: [{ key: 'k1', value: 'hello from the stack' }],
    });
    await producer.disconnect();
    expect(ack?.errorCode).toBe(0);

    const consumer = kafka.consumer({ groupId: `${slate.id}-group` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = await new Promise<{ key: string; value: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no message consumed within 30s')), 30_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          clearTimeout(timer);
          resolve({ key: String(message.key), value: String(message.value) });
        },
      });
    });
    await consumer.disconnect();
    expect(received).toEqual({ key: 'k1', value: 'hello from the stack' });
  });
});

describe('Elasticsearch', () => {
  it('indexes with version_type=external and rejects an older version', async () => {
    const index = `${slate.indexPrefix}versions`;
    const put = (version: number, name: string) =>
      fetch(
        `${stackAddresses.elasticsearch.url}/${index}/_doc/1?version=${version}&version_type=external&refresh=true`,
        {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name }),
        },
      );
    expect((await put(5, 'newer')).status).toBe(201);
    const older = await put(3, 'older');
    expect(older.status).toBe(409);
    expect(((await older.json()) as { error: { type: string } }).error.type).toBe(
      'version_conflict_engine_exception',
    );
    const doc = (await (await fetch(`${stackAddresses.elasticsearch.url}/${index}/_doc/1`)).json()) as {
      _version: number;
      _source: { name: string };
    };
    expect(doc).toMatchObject({ _version: 5, _source: { name: 'newer' } });
  });
});

describe('Redis', () => {
  it('answers PING and stores a value', async () => {
    const redis = new Redis(stackAddresses.redis.url);
    try {
      expect(await redis.ping()).toBe('PONG');
      await redis.set(`${slate.keyPrefix}k`, 'v');
      expect(await redis.get(`${slate.keyPrefix}k`)).toBe('v');
    } finally {
      redis.disconnect();
    }
  });
});

describe('Memcached', () => {
  it('stores and returns a value over the text protocol', async () => {
    const key = `${slate.keyPrefix}greeting`;
    const reply = await memcachedExchange(`set ${key} 0 60 5\r\nhello\r\nget ${key}\r\n`, 'END\r\n');
    expect(reply).toBe(`STORED\r\nVALUE ${key} 0 5\r\nhello\r\nEND\r\n`);
  });
});

describe('NGINX', () => {
  it('answers its health check and runs Lua with the Redis library', async () => {
    const health = await fetch(`${stackAddresses.nginx.url}/healthz`);
    expect(health.status).toBe(200);
    const lua = await fetch(`${stackAddresses.nginx.url}/lua-check`);
    expect(lua.status).toBe(200);
    expect(await lua.text()).toContain('lua ok');
  });
});

describe('Prometheus', () => {
  it('is ready and evaluates a query', async () => {
    expect((await fetch(`${stackAddresses.prometheus.url}/-/ready`)).status).toBe(200);
    const response = await fetch(`${stackAddresses.prometheus.url}/api/v1/query?query=vector(42)`);
    const body = (await response.json()) as {
      status: string;
      data: { result: { value: [number, string] }[] };
    };
    expect(body.status).toBe('success');
    expect(body.data.result[0]?.value[1]).toBe('42');
  });

  it('ships promtool, which accepts a good rule file and rejects a bad one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'promtool-'));
    const good = join(dir, 'good.yml');
    const bad = join(dir, 'bad.yml');
    await writeFile(good, 'groups:\n  - name: g\n    rules:\n      - alert: Up\n        expr: up == 0\n');
    await writeFile(bad, 'groups:\n  - name: g\n    rules:\n      - alert: Up\n        expr: up ==\n');
    const { stdout } = await run(promtoolPath(), ['check', 'rules', good]);
    expect(stdout).toContain('SUCCESS: 1 rules found');
    await expect(run(promtoolPath(), ['check', 'rules', bad])).rejects.toThrow(/FAILED/);
  });
});

function memcachedExchange(request: string, terminator: string): Promise<string> {
  const [host, port] = stackAddresses.memcached.servers[0].split(':');
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), host);
    let reply = '';
    socket.setTimeout(5_000, () => socket.destroy(new Error('memcached did not answer within 5s')));
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.endsWith(terminator)) {
        socket.end();
        resolve(reply);
      }
    });
    socket.write(request);
  });
}
