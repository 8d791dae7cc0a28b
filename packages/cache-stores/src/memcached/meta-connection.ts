import { Socket } from 'node:net';
import { CacheStoreError, errorText } from '../errors.js';

/** One reply of the meta protocol: `HD`, `VA`, `EN`, `NF`, `NS`, `EX` or `MN`, its flags, and a value for `VA`. */
export interface MetaReply {
  status: 'HD' | 'VA' | 'EN' | 'NF' | 'NS' | 'EX' | 'MN';
  /** Return flags, e.g. `c123` -> flags.get('c') === '123'. */
  flags: Map<string, string>;
  value: Buffer | null;
}

export interface MetaConnectionOptions {
  host: string;
  port: number;
  /** A request not answered within this many ms fails, and the connection is reset. Default 2000. */
  timeoutMs?: number;
  connectTimeoutMs?: number;
}

interface Pending {
  resolve(reply: MetaReply): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
  command: string;
}

const STATUSES = new Set(['HD', 'VA', 'EN', 'NF', 'NS', 'EX', 'MN']);
const CRLF = Buffer.from('\r\n');

/**
 * A client of memcached's meta protocol (1.6+) over one TCP connection, pipelined: requests
 * are written as they come (coalesced per tick) and replies are matched in order. No quiet
 * mode is used, so every request has exactly one reply and the order cannot slip.
 *
 * Any failure that can leave the stream out of step (a timeout, a reply that does not parse,
 * a closed socket) fails every request in flight as STORE_UNAVAILABLE and drops the
 * connection; the next request connects again.
 */
export class MetaConnection {
  readonly address: string;
  private socket: Socket | null = null;
  private connecting: Promise<Socket> | null = null;
  private readonly pending: Pending[] = [];
  private buffer: Buffer = Buffer.alloc(0);
  private corked = false;
  private closed = false;

  constructor(private readonly options: MetaConnectionOptions) {
    this.address = `${options.host}:${options.port}`;
  }

  /** Sends one meta command (`mg key v c`, `ms key 5 T60`, ...); `data` is the value of an `ms`. */
  async request(command: string, data?: Buffer): Promise<MetaReply> {
    const socket = this.socket ?? (await this.connect());
    return new Promise<MetaReply>((resolve, reject) => {
      const timer = setTimeout(
        () => this.reset(`no reply to "${command.split(' ', 2).join(' ')}" within ${this.timeoutMs} ms`),
        this.timeoutMs,
      );
      this.pending.push({ resolve, reject, timer, command });
      if (!this.corked) {
        this.corked = true;
        socket.cork();
        process.nextTick(() => {
          this.corked = false;
          socket.uncork();
        });
      }
      socket.write(
        data === undefined ? `${command}\r\n` : Buffer.concat([Buffer.from(`${command}\r\n`), data, CRLF]),
      );
    });
  }

  close(): void {
    this.closed = true;
    this.reset('the connection was closed');
  }

  private get timeoutMs(): number {
    return this.options.timeoutMs ?? 2000;
  }

  private connect(): Promise<Socket> {
    if (this.closed) return Promise.reject(this.unavailable('the client was closed'));
    if (this.connecting !== null) return this.connecting;
    this.connecting = new Promise<Socket>((resolve, reject) => {
      const socket = new Socket();
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(this.unavailable(`connect timed out after ${this.options.connectTimeoutMs ?? 1000} ms`));
      }, this.options.connectTimeoutMs ?? 1000);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(this.unavailable(errorText(error)));
      });
      socket.connect(this.options.port, this.options.host, () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.on('error', (error) => this.reset(errorText(error)));
        socket.on('close', () => {
          if (this.socket === socket) this.reset('the server closed the connection');
        });
        socket.on('data', (chunk: Buffer) => this.onData(chunk));
        this.socket = socket;
        this.buffer = Buffer.alloc(0);
        resolve(socket);
      });
    }).finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const lineEnd = this.buffer.indexOf(CRLF);
      if (lineEnd < 0) return;
      const line = this.buffer.subarray(0, lineEnd).toString('latin1');
      const tokens = line.split(' ');
      const status = tokens[0]!;
      let value: Buffer | null = null;
      let consumed = lineEnd + 2;
      if (status === 'VA') {
        const size = Number(tokens[1]);
        if (!Number.isSafeInteger(size) || size < 0) {
          this.reset(`malformed reply "${line.slice(0, 80)}"`);
          return;
        }
        if (this.buffer.length < consumed + size + 2) return;
        value = Buffer.from(this.buffer.subarray(consumed, consumed + size));
        consumed += size + 2;
      }
      this.buffer = this.buffer.subarray(consumed);
      const pending = this.pending.shift();
      if (pending === undefined) {
        this.reset(`a reply nobody asked for: "${line.slice(0, 80)}"`);
        return;
      }
      clearTimeout(pending.timer);
      if (STATUSES.has(status)) {
        const flags = new Map<string, string>();
        for (const token of tokens.slice(status === 'VA' ? 2 : 1)) {
          if (token.length > 0) flags.set(token[0]!, token.slice(1));
        }
        pending.resolve({ status: status as MetaReply['status'], flags, value });
      } else {
        // CLIENT_ERROR, SERVER_ERROR, ERROR: the server answered this request with an error.
        pending.reject(
          new CacheStoreError(
            'STORE_REJECTED',
            'memcached',
            `memcached ${this.address} refused "${pending.command.split(' ', 2).join(' ')}": ${line.slice(0, 200)}`,
          ),
        );
      }
    }
  }

  private reset(reason: string): void {
    const socket = this.socket;
    this.socket = null;
    this.buffer = Buffer.alloc(0);
    socket?.destroy();
    const failed = this.pending.splice(0);
    for (const pending of failed) {
      clearTimeout(pending.timer);
      pending.reject(this.unavailable(reason));
    }
  }

  private unavailable(reason: string): CacheStoreError {
    return new CacheStoreError(
      'STORE_UNAVAILABLE',
      'memcached',
      `memcached ${this.address} is unavailable: ${reason}; check that it is up and reachable`,
    );
  }
}
