/**
 * Just enough of the Kafka wire protocol for a health probe: one Metadata request (v4, which Kafka 4
 * still serves; v0-v3 were removed by KIP-896) asking for no topics. A broker that answers it with
 * itself in the broker list and a known controller is registered and serving.
 */

export const METADATA_API_KEY = 3;
export const METADATA_VERSION = 4;

export function encodeMetadataRequest(correlationId: number, clientId = 'cdc-cache-stack'): Buffer {
  const client = Buffer.from(clientId, 'utf8');
  const header = Buffer.alloc(10);
  header.writeInt16BE(METADATA_API_KEY, 0);
  header.writeInt16BE(METADATA_VERSION, 2);
  header.writeInt32BE(correlationId, 4);
  header.writeInt16BE(client.length, 8);
  const body = Buffer.alloc(5);
  body.writeInt32BE(0, 0); // topics: an empty array (null would mean "all topics")
  body.writeInt8(0, 4); // allow_auto_topic_creation: false
  const size = Buffer.alloc(4);
  size.writeInt32BE(header.length + client.length + body.length, 0);
  return Buffer.concat([size, header, client, body]);
}

/** A length-prefixed frame has fully arrived. */
export function frameComplete(reply: Buffer): boolean {
  return reply.length >= 4 && reply.length >= 4 + reply.readInt32BE(0);
}

export interface MetadataSummary {
  correlationId: number;
  brokers: { nodeId: number; host: string; port: number }[];
  clusterId: string | null;
  controllerId: number;
}

/** Decode the parts of a Metadata v4 response a probe needs (brokers, cluster id, controller). */
export function decodeMetadataResponse(frame: Buffer): MetadataSummary {
  let at = 4; // frame size
  const int32 = () => {
    const v = frame.readInt32BE(at);
    at += 4;
    return v;
  };
  const int16 = () => {
    const v = frame.readInt16BE(at);
    at += 2;
    return v;
  };
  const nullableString = (): string | null => {
    const length = int16();
    if (length < 0) return null;
    const s = frame.toString('utf8', at, at + length);
    at += length;
    return s;
  };
  const correlationId = int32();
  int32(); // throttle_time_ms
  const brokerCount = int32();
  const brokers: MetadataSummary['brokers'] = [];
  for (let i = 0; i < brokerCount; i++) {
    const nodeId = int32();
    const host = nullableString() ?? '';
    const port = int32();
    nullableString(); // rack
    brokers.push({ nodeId, host, port });
  }
  const clusterId = nullableString();
  const controllerId = int32();
  return { correlationId, brokers, clusterId, controllerId };
}
