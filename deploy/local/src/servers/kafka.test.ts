import { describe, expect, it } from 'vitest';
import { newClusterId, pomProperty, renderKafkaProperties, versionFromJarNames } from './kafka.js';
import { decodeMetadataResponse, encodeMetadataRequest, frameComplete } from './kafka-protocol.js';

describe('Kafka install and configuration', () => {
  it('reads the version from the POM properties', () => {
    const pom =
      '<properties>\n  <kafka.version>4.1.2</kafka.version>\n  <log4j.version>2.25.3</log4j.version>\n</properties>';
    expect(pomProperty(pom, 'kafka.version')).toBe('4.1.2');
    expect(pomProperty(pom, 'kafka')).toBeNull();
  });

  it('reads the broker version from the installed jar names', () => {
    expect(versionFromJarNames(['kafka-clients-4.1.2.jar', 'kafka_2.13-4.1.2.jar'])).toBe('4.1.2');
    expect(versionFromJarNames(['kafka-clients-4.1.2.jar'])).toBeNull();
  });

  it('renders a single KRaft node with replication factor 1 and no auto-created topics', () => {
    const props = renderKafkaProperties({ dataDir: '/s/data/kafka', port: 19092, controllerPort: 19093 });
    expect(props).toContain('process.roles=broker,controller\n');
    expect(props).toContain('controller.quorum.voters=1@127.0.0.1:19093\n');
    expect(props).toContain(
      'listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093,FAULT://127.0.0.1:19094\n',
    );
    // The fault listener is advertised at the test proxy's port, so clients stay behind the proxy.
    expect(props).toContain('advertised.listeners=PLAINTEXT://127.0.0.1:19092,FAULT://127.0.0.1:19095\n');
    expect(props).toContain('transaction.state.log.replication.factor=1\n');
    expect(props).toContain('transaction.state.log.min.isr=1\n');
    expect(props).toContain('offsets.topic.replication.factor=1\n');
    expect(props).toContain('auto.create.topics.enable=false\n');
    expect(props).toContain('log.dirs=/s/data/kafka\n');
  });

  it('makes cluster ids in Kafka format', () => {
    for (let i = 0; i < 50; i++) expect(newClusterId()).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  });
});

describe('Kafka Metadata probe', () => {
  it('encodes a v4 request for no topics', () => {
    const req = encodeMetadataRequest(7, 'x');
    expect(req.readInt32BE(0)).toBe(req.length - 4);
    expect(req.readInt16BE(4)).toBe(3); // api key
    expect(req.readInt16BE(6)).toBe(4); // version
    expect(req.readInt32BE(8)).toBe(7);
    expect(req.subarray(-5)).toEqual(Buffer.from([0, 0, 0, 0, 0]));
  });

  it('decodes brokers, cluster id and controller from a response a broker sent', () => {
    // Captured from the local Kafka 4.1.2 broker.
    const frame = Buffer.from(
      '000000410000000700000000000000010000000100093132372e302e302e3100004a94ffff0016713153682d395f495369615f7a7747494e7a527679510000000100000000',
      'hex',
    );
    expect(frameComplete(frame)).toBe(true);
    expect(frameComplete(frame.subarray(0, 20))).toBe(false);
    expect(decodeMetadataResponse(frame)).toEqual({
      correlationId: 7,
      brokers: [{ nodeId: 1, host: '127.0.0.1', port: 19092 }],
      clusterId: 'q1Sh-9_ISia_zwGINzRvyQ',
      controllerId: 1,
    });
  });
});
