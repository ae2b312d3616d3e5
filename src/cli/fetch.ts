// `hotpath fetch`: one request through the HTTP cache, reporting status, size and cache state.
import fs from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createCachedFetch } from '../cache/index.js';
import { parseCommandArgs, printTable, UsageError } from './io.js';


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
      header: { type: 'string', multiple: true },
      output: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new UsageError(`expected one URL, got ${positionals.length}`);
  const url = positionals[0];
  if (!URL.canParse(url)) throw new UsageError(`not a URL: '${url}'`);
  const cached = createCachedFetch({ store: flags.cache === undefined ? 'memory' : { path: flags.cache } });
  const headers = (flags.header ?? []).map(parseHeader);
  const response = await cached(url, { headers }).catch((error: Error) => {
    // undici says only "fetch failed"; the reason (ECONNREFUSED, DNS) is in its cause.
    const cause = (error.cause as Error | undefined)?.message;
    throw new Error(cause ? `${error.message}: ${cause}` : error.message);
  });
  let size = 0;
  const body = response.body ? Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>) : Readable.from([]);
  const sink = flags.output === undefined ? new Writable({ write: (_chunk, _encoding, done) => done() }) : fs.createWriteStream(flags.output);
  const count = async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      size += chunk.length;
      yield chunk;
    }
  };
  await pipeline(body, count, sink);
  const result = { url: response.url, status: response.status, size, cache: response.cacheState, contentType: response.headers.get('content-type') ?? '', reason: cached.explain(url)?.reason ?? '' };
  if (flags.json) process.stdout.write(JSON.stringify(result) + '\n');
  else printTable(Object.entries(result));
  return 0;
}
