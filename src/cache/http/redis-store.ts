// A CacheStore in Redis through ioredis (already a dependency, for BullMQ), with the connection options
// of ClusterExecutor: a redis:// or rediss:// (TLS) URL with user and password, or ioredis options.
// Each entry is one Redis value, [4-byte meta length][meta JSON][body], so a write is atomic. Hit counts
// live in one hash next to the entries (HINCRBY, one command per hit), reset when an entry is replaced.
// A cache must fail fast when Redis is down (createCachedFetch then goes to the origin): a command is
// never retried, and a lost connection is opened again by the next command rather than in the
// background. The connection does not keep the process alive while no command is pending.
import type { Redis, RedisOptions } from 'ioredis';
import { describeRedis, type RedisConnection, redisOptions } from '../../core/redis.js';
import { checkInteger, typeName } from '../../core/validate.js';
import { usesRenamedOption } from '../../core/deprecate.js';
import { checkKnownOptions } from '../../core/options.js';
import { toBytes, type CacheEntry, type CacheStore } from './store.js';

export interface RedisStoreOptions {
  /** `redis://[user:password@]host[:port][/db]`, `rediss://...` (TLS), or ioredis options. Default: local 6379. */
  connection?: RedisConnection;
  /** Prefix of every key this store writes. Default `'hotpath:http:'`. */
  prefix?: string;
  /**
   * Milliseconds after which Redis drops an entry whatever its HTTP freshness (whole ms >= 1). Default
   * `Infinity`: never (use Redis' maxmemory).
   */
  ttl?: number;
  /** @deprecated Use `ttl` (ms). Seconds, as `ttl / 1000`. */
  ttlSeconds?: number;
}

const WHERE = 'RedisStore';
const KNOWN_OPTIONS = ['connection', 'prefix', 'ttl', 'ttlSeconds'];
/** The hash of hit counts under the prefix (an entry key never holds a NUL: URLs and field values cannot). */
const HITS_KEY = '\0hits';

export class RedisStore implements CacheStore {
  readonly prefix: string;
  /** ms, or undefined for no expiry. */
  readonly #ttl: number | undefined;
  readonly #options: RedisOptions;
  #client: Redis | undefined;
  /** The socket error behind a failed command (ioredis reports only that the connection closed). */
  #socketError: Error | undefined;
  #pending = 0;
  #closed = false;

  constructor(options?: RedisStoreOptions) {
    const o = checkKnownOptions(WHERE, options, KNOWN_OPTIONS);
    this.#options = redisOptions(WHERE, o.connection ?? 'redis://127.0.0.1:6379');
    if (o.prefix !== undefined && typeof o.prefix !== 'string') {
      throw new TypeError(`${WHERE}: prefix must be a string, got ${typeName(o.prefix)}`);
    }
    this.prefix = (o.prefix as string | undefined) ?? 'hotpath:http:';
    const renamed = { old: 'ttlSeconds', new: 'ttl' };
    if (usesRenamedOption(WHERE, o, renamed, 'HOTPATH_DEP_TTL_SECONDS', 'ttl = ttlSeconds * 1000 ms')) {
      this.#ttl = checkInteger(WHERE, 'ttlSeconds', o.ttlSeconds, 1) * 1000;
    } else this.#ttl = o.ttl === undefined || o.ttl === Infinity ? undefined : checkInteger(WHERE, 'ttl', o.ttl, 1);
  }

  #connection(): Redis {
    if (this.#closed) throw new Error(`${WHERE}: the store is closed`);
    if (this.#client && this.#client.status !== 'end') return this.#client;
    // Loaded on first use: ioredis would add to everyone's require('hotpath') time.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use (see above)
    const { Redis: RedisClient } = require('ioredis') as typeof import('ioredis');
    const client: Redis = new RedisClient({
      ...this.#options,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      // ioredis otherwise keeps a failed socket's 2 s destroy timer alive, delaying process exit.
      disconnectTimeout: 100,
    });
    this.#socketError = undefined;
    client.on('error', (error: Error) => {
      this.#socketError ??= error;
    });
    client.on('ready', () => {
      if (this.#pending === 0) client.stream?.unref();
    });
    this.#client = client;
    return client;
  }

  async #run<T>(command: (redis: Redis) => Promise<T>): Promise<T> {
    const client = this.#connection();
    this.#pending++;
    client.stream?.ref();
    try {
      return await command(client);
    } catch (error) {
      const cause = this.#socketError ?? (error as Error);
      if (client.status === 'end' || client.status === 'close') {
        throw new Error(`${WHERE}: cannot reach Redis at ${describeRedis(this.#options)}: ${cause.message}`, { cause });
      }
      throw error;
    } finally {
      if (--this.#pending === 0) client.stream?.unref();
    }
  }

  #entryOf(key: string, meta: unknown, body: Buffer): CacheEntry {
    const hits = this.prefix + HITS_KEY;
    return {
      meta,
      size: body.length,
      async *body() {
        yield body;
      },
      recordHit: async () => {
        await this.#run((redis) => redis.hincrby(hits, key, 1));
      },
      hits: async () => Number((await this.#run((redis) => redis.hget(hits, key))) ?? 0),
    };
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    const value = await this.#run((redis) => redis.getBuffer(this.prefix + key));
    if (!value) return undefined;
    const metaLength = value.length >= 4 ? value.readUInt32BE(0) : -1;
    let meta: unknown;
    try {
      if (metaLength < 0 || 4 + metaLength > value.length) throw new RangeError('bad meta length');
      meta = JSON.parse(value.toString('utf8', 4, 4 + metaLength));
    } catch {
      process.emitWarning(`hotpath cache: dropped a damaged Redis entry ${this.prefix + key}`, {
        code: 'HOTPATH_CACHE_CORRUPT',
      });
      await this.#run((redis) => redis.del(this.prefix + key));
      return undefined;
    }
    return this.#entryOf(key, meta, value.subarray(4 + metaLength));
  }

  /** Writes the entry; `fresh`: a new response, whose hit count starts again from 0 (in the same transaction). */
  async #write(key: string, meta: unknown, body: Buffer, fresh: boolean): Promise<void> {
    const metaBytes = Buffer.from(JSON.stringify(meta));
    const header = Buffer.alloc(4);
    header.writeUInt32BE(metaBytes.length);
    const value = Buffer.concat([header, metaBytes, body]);
    const ttl = this.#ttl;
    const name = this.prefix + key;
    await this.#run(async (redis) => {
      const transaction = redis.multi();
      if (ttl === undefined) transaction.set(name, value);
      else transaction.set(name, value, 'PX', ttl);
      if (fresh) transaction.hdel(this.prefix + HITS_KEY, key);
      const replies = await transaction.exec();
      const failed = replies?.find(([error]) => error)?.[0];
      if (failed) throw failed;
    });
  }

  /** Stores `body` (Uint8Array chunks, or strings written as UTF-8) under `key`. */
  async put(key: string, meta: unknown, body: AsyncIterable<Uint8Array | string>): Promise<CacheEntry> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of body) chunks.push(toBytes('RedisStore.put', chunk));
    const bytes = Buffer.concat(chunks);
    await this.#write(key, meta, bytes, true);
    return this.#entryOf(key, meta, bytes);
  }

  async updateMeta(key: string, meta: unknown): Promise<void> {
    const entry = await this.get(key);
    if (!entry) return;
    const chunks: Uint8Array[] = [];
    for await (const chunk of entry.body()) chunks.push(chunk);
    await this.#write(key, meta, Buffer.concat(chunks), false);
  }

  async delete(key: string): Promise<boolean> {
    const replies = await this.#run((redis) =>
      redis
        .multi()
        .del(this.prefix + key)
        .hdel(this.prefix + HITS_KEY, key)
        .exec(),
    );
    return replies?.[0]?.[1] === 1;
  }

  /** The Redis keys under this store's prefix, a batch at a time (SCAN, so Redis is never blocked on KEYS). */
  async *#scanPrefixed(): AsyncIterable<string[]> {
    const pattern = `${this.prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    let cursor = '0';
    do {
      const [next, keys] = await this.#run((redis) => redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000));
      cursor = next;
      if (keys.length > 0) yield keys;
    } while (cursor !== '0');
  }

  async *keys(): AsyncIterable<string> {
    const hits = this.prefix + HITS_KEY;
    for await (const batch of this.#scanPrefixed()) {
      yield* batch.filter((key) => key !== hits).map((key) => key.slice(this.prefix.length));
    }
  }

  /** Deletes every key under this store's prefix. */
  async clear(): Promise<void> {
    for await (const batch of this.#scanPrefixed()) await this.#run((redis) => redis.del(...batch));
  }

  /** Closes the connection; later operations reject. */
  close(): void {
    this.#closed = true;
    this.#client?.disconnect();
  }
}
