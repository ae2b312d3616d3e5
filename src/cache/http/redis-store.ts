// A CacheStore in Redis, spoken to over RESP directly (GET, SET, DEL, SCAN): no client library to
// install. Each entry is one Redis value, [4-byte meta length][meta JSON][body], so a write is atomic.
import net from 'node:net';
import { checkInteger, checkOptions, typeName } from '../../core/validate.js';
import type { CacheEntry, CacheStore } from './store.js';

export interface RedisStoreOptions {
  /** `redis://[[user]:password@]host[:port][/db]`. Default `redis://127.0.0.1:6379`. */
  url?: string;
  /** Prefix of every key this store writes. Default `'hotpath:http:'`. */
  prefix?: string;
  /** Seconds after which Redis drops an entry whatever its HTTP freshness. Default: never (bound the size with Redis' maxmemory). */
  ttlSeconds?: number;
}

type Reply = string | number | Buffer | null | Error | Reply[];

interface Parsed {
  value: Reply;
  end: number;
}

const CRLF = Buffer.from('\r\n');

/** Parses one RESP2 reply at `start`; undefined when `data` holds only part of it. */
function parseReply(data: Buffer, start: number): Parsed | undefined {
  const lineEnd = data.indexOf(CRLF, start);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(data[start]);
  const line = data.toString('utf8', start + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new Error(`Redis: ${line}`), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (data.length < next + length + 2) return undefined;
      return { value: data.subarray(next, next + length), end: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: Reply[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(data, at);
        if (!item) return undefined;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new Error(`Redis: unexpected reply type '${type}'`);
  }
}

function encodeCommand(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  return Buffer.concat(parts);
}

/** One pipelined RESP connection: replies arrive in command order. */
class RedisConnection {
  private readonly socket: net.Socket;
  private readonly pending: { resolve(value: Reply): void; reject(error: Error): void }[] = [];
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes the reply being received needs before parsing is worth trying again. */
  private needed = 0;
  private failure: Error | undefined;

  constructor(host: string, port: number) {
    // One write per command and no Nagle delay: request/reply round trips are the whole cost of a hit.
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk) => this.receive(chunk));
    this.socket.on('error', (error) => this.fail(error));
    this.socket.on('close', () => this.fail(new Error('Redis: connection closed')));
    // The store should not keep a process alive on its own.
    this.socket.unref();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const p of this.pending.splice(0)) p.reject(this.failure);
  }

  private receive(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered < this.needed) return;
    let data = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
    let parsed: Parsed | undefined;
    while (data.length > 0 && (parsed = parseReply(data, 0))) {
      const waiter = this.pending.shift();
      if (parsed.value instanceof Error) waiter?.reject(parsed.value);
      else waiter?.resolve(parsed.value);
      data = data.subarray(parsed.end);
    }
    this.chunks = data.length > 0 ? [data] : [];
    this.buffered = data.length;
    // A large bulk reply: wait for its announced length instead of re-parsing on every chunk.
    const header = data.length > 0 && data[0] === 0x24 ? /^\$(\d+)\r\n/.exec(data.toString('latin1', 0, 24)) : null;
    this.needed = header ? header[0].length + Number(header[1]) + 2 : 0;
  }

  command(...args: (string | Buffer)[]): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    this.socket.ref();
    return new Promise<Reply>((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.write(encodeCommand(args));
    }).finally(() => {
      if (this.pending.length === 0) this.socket.unref();
    });
  }

  close(): void {
    this.socket.end();
  }
}

export class RedisStore implements CacheStore {
  readonly prefix: string;
  private readonly ttlSeconds: number | undefined;
  private readonly connection: RedisConnection;
  private readonly ready: Promise<void>;

  constructor(options?: RedisStoreOptions) {
    const o = checkOptions('RedisStore', options);
    const url = new URL(o.url === undefined ? 'redis://127.0.0.1:6379' : String(o.url));
    if (url.protocol !== 'redis:') throw new RangeError(`RedisStore: url must start with redis://, got '${url.protocol}'`);
    if (o.prefix !== undefined && typeof o.prefix !== 'string') throw new TypeError(`RedisStore: prefix must be a string, got ${typeName(o.prefix)}`);
    this.prefix = (o.prefix as string | undefined) ?? 'hotpath:http:';
    this.ttlSeconds = o.ttlSeconds === undefined ? undefined : checkInteger('RedisStore', 'ttlSeconds', o.ttlSeconds, 1);
    this.connection = new RedisConnection(url.hostname, Number(url.port || 6379));
    const setup: Promise<Reply>[] = [];
    if (url.password) {
      const user = url.username ? [decodeURIComponent(url.username)] : [];
      setup.push(this.connection.command('AUTH', ...user, decodeURIComponent(url.password)));
    }
    const db = url.pathname.slice(1);
    if (db) setup.push(this.connection.command('SELECT', db));
    this.ready = Promise.all(setup).then(() => undefined);
    // Surfaced by the first operation; not an unhandled rejection meanwhile.
    this.ready.catch(() => {});
  }

  private async run(...args: (string | Buffer)[]): Promise<Reply> {
    await this.ready;
    return this.connection.command(...args);
  }

  private static entryOf(meta: unknown, body: Buffer): CacheEntry {
    return {
      meta,
      size: body.length,
      async *body() {
        yield body;
      },
    };
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    const value = await this.run('GET', this.prefix + key);
    if (!Buffer.isBuffer(value)) return undefined;
    const metaLength = value.length >= 4 ? value.readUInt32BE(0) : -1;
    let meta: unknown;
    try {
      if (metaLength < 0 || 4 + metaLength > value.length) throw new RangeError('bad meta length');
      meta = JSON.parse(value.toString('utf8', 4, 4 + metaLength));
    } catch {
      process.emitWarning(`hotpath cache: dropped a damaged Redis entry ${this.prefix + key}`, { code: 'HOTPATH_CACHE_CORRUPT' });
      await this.run('DEL', this.prefix + key);
      return undefined;
    }
    return RedisStore.entryOf(meta, value.subarray(4 + metaLength));
  }

  private async write(key: string, meta: unknown, body: Buffer): Promise<void> {
    const metaBytes = Buffer.from(JSON.stringify(meta));
    const header = Buffer.alloc(4);
    header.writeUInt32BE(metaBytes.length);
    const value = Buffer.concat([header, metaBytes, body]);
    const expiry = this.ttlSeconds === undefined ? [] : ['EX', String(this.ttlSeconds)];
    await this.run('SET', this.prefix + key, value, ...expiry);
  }

  async put(key: string, meta: unknown, body: AsyncIterable<Uint8Array>): Promise<CacheEntry> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of body) chunks.push(chunk);
    const bytes = Buffer.concat(chunks);
    await this.write(key, meta, bytes);
    return RedisStore.entryOf(meta, bytes);
  }

  async updateMeta(key: string, meta: unknown): Promise<void> {
    const entry = await this.get(key);
    if (!entry) return;
    const chunks: Uint8Array[] = [];
    for await (const chunk of entry.body()) chunks.push(chunk);
    await this.write(key, meta, Buffer.concat(chunks));
  }

  async delete(key: string): Promise<boolean> {
    return (await this.run('DEL', this.prefix + key)) === 1;
  }

  /** Deletes every key under this store's prefix (SCAN, so Redis is never blocked on KEYS). */
  async clear(): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = (await this.run('SCAN', cursor, 'MATCH', `${this.prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', '1000')) as [Buffer, Buffer[]];
      cursor = next.toString();
      if (keys.length > 0) await this.run('DEL', ...keys);
    } while (cursor !== '0');
  }

  /** Closes the connection. */
  close(): void {
    this.connection.close();
  }
}
