// Redis connection settings shared by ClusterExecutor and `hotpath worker`: a URL or ioredis
// options (auth and TLS pass through), and a bounded reachability probe, so an unreachable Redis
// is an error naming it rather than ioredis reconnecting forever. BullMQ and ioredis are loaded on
// first use: they would double the load time of `require('hotpath')` for everyone else.
import type * as BullMQ from 'bullmq';
import type { Redis, RedisOptions } from 'ioredis';
import { MAX_TIMER_MS, raceTimeout } from './timeout.js';
import { typeName } from './validate.js';

/** `redis://[user:password@]host[:port][/db]`, `rediss://...` (TLS), or ioredis options. */
export type RedisConnection = string | RedisOptions;

export function redisOptions(where: string, connection: unknown): RedisOptions {
  if (typeof connection === 'string') {
    let url: URL;
    try {
      url = new URL(connection);
    } catch {
      throw new RangeError(`${where}: connection must be a redis:// or rediss:// URL, got '${connection}'`);
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
      throw new RangeError(`${where}: connection must be a redis:// or rediss:// URL, got '${connection}'`);
    }
    const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
    if (!Number.isInteger(db) || db < 0)
      throw new RangeError(`${where}: database in '${connection}' must be an integer >= 0`);
    return {
      host: url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
      port: url.port ? Number(url.port) : 6379,
      db,
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
    };
  }
  if (connection === null || typeof connection !== 'object' || Array.isArray(connection)) {
    throw new TypeError(
      `${where}: connection must be a redis:// URL or an ioredis options object, got ${typeName(connection)}`,
    );
  }
  return { ...(connection as RedisOptions) };
}

export function loadBullmq(): typeof BullMQ {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use (see above)
  return require('bullmq') as typeof BullMQ;
}

/** Names a Redis server in messages, without its password. */
export function describeRedis(options: RedisOptions): string {
  const scheme = options.tls ? 'rediss' : 'redis';
  return options.path
    ? `redis+unix://${options.path}`
    : `${scheme}://${options.host ?? '127.0.0.1'}:${options.port ?? 6379}`;
}

/**
 * Connects once with no retries and runs `probe` on the connection; rejects with an error naming
 * the server if it cannot be reached (or authenticated to) within `timeout` ms (undefined: no limit).
 */
export async function withReachableRedis<T>(
  where: string,
  options: RedisOptions,
  timeout: number | undefined,
  probe: (redis: Redis) => Promise<T>,
): Promise<T> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use (see above)
  const { Redis: RedisClient } = require('ioredis') as typeof import('ioredis');
  const redis: Redis = new RedisClient({
    ...options,
    lazyConnect: true,
    // ioredis' own timer would fire at once beyond one timer's range: 0 (none) leaves it to ours.
    connectTimeout: timeout !== undefined && timeout <= MAX_TIMER_MS ? timeout : 0,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    // ioredis otherwise keeps a failed socket's 2 s destroy timer alive, delaying process exit.
    disconnectTimeout: 100,
  });
  let socketError: Error | undefined; // more telling than the 'Connection is closed' that follows it
  redis.on('error', (error: Error) => {
    socketError ??= error;
  });
  try {
    const probed = redis.connect().then(() => probe(redis));
    return await raceTimeout(probed, timeout, () => new Error(`no answer within ${timeout} ms`));
  } catch (error) {
    const reason = socketError ?? (error as Error);
    throw new Error(`${where}: cannot reach Redis at ${describeRedis(options)}: ${reason.message}`, { cause: reason });
  } finally {
    redis.disconnect();
  }
}
