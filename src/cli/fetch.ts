// `hotpath fetch`: one request through the HTTP cache, reporting status, size and cache state; or the
// listing / deletion of what the cache holds. The cache persists in the per-user cache directory by
// default, as requests-cache's CLI users expect of a cache.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createCachedFetch, FileStore, type CachedFetch } from '../cache/index.js';
import { parseCommandArgs, printTable, UsageError } from './io.js';

/** $XDG_CACHE_HOME/hotpath/http, or ~/.cache/hotpath/http (the XDG default) when it is unset. */
function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'hotpath', 'http');
}

async function listEntries(cached: CachedFetch, json: boolean): Promise<number> {
  const rows: string[][] = [];
  for await (const entry of cached.entries()) {
    const { url, method, status, size, hits } = entry;
    if (json) {
      const expires = entry.expires?.toISOString() ?? null;
      process.stdout.write(JSON.stringify({ url, method, status, size, expires, hits }) + '\n');
    } else {
      const expires = entry.expires?.toISOString() ?? 'stale';
      rows.push([method, String(status), String(size), expires, String(hits), url]);
    }
  }
  if (!json) {
    const header = ['method', 'status', 'size', 'expires', 'hits', 'url'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
    const last = header.length - 1;
    for (const row of [header, ...rows]) {
      process.stdout.write(row.map((cell, i) => (i < last ? cell.padEnd(widths[i]) : cell)).join('  ') + '\n');
    }
  }
  return 0;
}

function parseHeader(text: string): [string, string] {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new UsageError(`--header must look like 'Name: value', got '${text}'`);
  return [text.slice(0, colon).trim(), text.slice(colon + 1).trim()];
}

export async function fetchCommand(argv: string[]): Promise<number> {
  const { values: flags, positionals } = parseCommandArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      cache: { type: 'string' },
      'no-cache-dir': { type: 'boolean' },
      list: { type: 'boolean' },
      delete: { type: 'string' },
      header: { type: 'string', multiple: true },
      output: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (flags['no-cache-dir'] && flags.cache !== undefined) {
    throw new UsageError('--cache and --no-cache-dir exclude each other');
  }
  const inspecting = flags.list || flags.delete !== undefined;
  if (flags.list && flags.delete !== undefined) throw new UsageError('--list and --delete exclude each other');
  if (inspecting && flags['no-cache-dir']) throw new UsageError('--list and --delete need a cache directory');
  if (positionals.length !== (inspecting ? 0 : 1)) {
    const expected = inspecting ? 'no URL with --list / --delete' : 'one URL';
    throw new UsageError(`expected ${expected}, got ${positionals.length}`);
  }
  const store = flags['no-cache-dir'] ? 'memory' : new FileStore({ path: flags.cache ?? defaultCacheDir() });
  // A directory that is not a cache is an error here, not a silent fallback to no cache.
  if (store instanceof FileStore) await store.ready();
  const cached = createCachedFetch({ store });
  if (flags.list) return listEntries(cached, flags.json === true);
  if (flags.delete !== undefined) {
    const deleted = await cached.deleteMatching(flags.delete);
    const summary = `deleted ${deleted} stored response${deleted === 1 ? '' : 's'}`;
    process.stdout.write((flags.json ? JSON.stringify({ deleted }) : summary) + '\n');
    return 0;
  }
  const url = positionals[0];
  if (!URL.canParse(url)) throw new UsageError(`not a URL: '${url}'`);
  const headers = (flags.header ?? []).map(parseHeader);
  const response = await cached(url, { headers }).catch((error: Error) => {
    // undici says only "fetch failed"; the reason (ECONNREFUSED, DNS) is in its cause.
    const cause = (error.cause as Error | undefined)?.message;
    throw new Error(cause ? `${error.message}: ${cause}` : error.message);
  });
  let size = 0;
  const body = response.body
    ? Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>)
    : Readable.from([]);
  const sink =
    flags.output === undefined
      ? new Writable({ write: (_chunk, _encoding, done) => done() })
      : fs.createWriteStream(flags.output);
  const count = async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      size += chunk.length;
      yield chunk;
    }
  };
  await pipeline(body, count, sink);
  const result = {
    url: response.url,
    status: response.status,
    size,
    cache: response.cacheState,
    contentType: response.headers.get('content-type') ?? '',
    reason: cached.explain(url)?.reason ?? '',
  };
  if (flags.json) process.stdout.write(JSON.stringify(result) + '\n');
  else printTable(Object.entries(result));
  return 0;
}
