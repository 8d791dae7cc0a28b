/**
 * Consistent hashing exactly as NGINX's `hash $key consistent` (ngx_http_upstream_hash_module,
 * compatible with Cache::Memcached::Fast), so NGINX's memcached hit path and our clients pick
 * the same server for a key: 160 points per server, point i = crc32(host "\0" port prev), where
 * prev is the previous point as 4 little-endian bytes (0 for the first); a key goes to the
 * first point at or after crc32(key), wrapping around. `server` must be written as NGINX's
 * `server` line writes it (`127.0.0.1:21211`).
 */
export class ConsistentHashRing<T> {
  private readonly points: { hash: number; node: T }[];

  constructor(nodes: readonly { name: string; node: T }[]) {
    const points: { hash: number; node: T }[] = [];
    for (const { name, node } of nodes) {
      const { host, port } = splitServer(name);
      const base = Buffer.concat([
        Buffer.from(host, 'latin1'),
        Buffer.from([0]),
        Buffer.from(port, 'latin1'),
      ]);
      const previous = Buffer.alloc(4);
      for (let i = 0; i < 160; i++) {
        const hash = crc32(Buffer.concat([base, previous]));
        points.push({ hash, node });
        previous.writeUInt32LE(hash);
      }
    }
    points.sort((a, b) => a.hash - b.hash);
    // NGINX keeps one point per hash value.
    this.points = points.filter((point, i) => i === 0 || point.hash !== points[i - 1]!.hash);
  }

  nodeFor(key: string): T {
    const hash = crc32(Buffer.from(key, 'latin1'));
    let low = 0;
    let high = this.points.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.points[middle]!.hash < hash) low = middle + 1;
      else high = middle;
    }
    return this.points[low % this.points.length]!.node;
  }
}

/** NGINX's split: the port is the digits after the last ':'; a name without one has no port. */
function splitServer(name: string): { host: string; port: string } {
  if (name.toLowerCase().startsWith('unix:')) return { host: name.slice(5), port: '' };
  const match = /^(.*):([0-9]*)$/.exec(name);
  return match ? { host: match[1]!, port: match[2]! } : { host: name, port: '' };
}

const TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (IEEE, as zlib and NGINX's ngx_crc32_long compute it). */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
