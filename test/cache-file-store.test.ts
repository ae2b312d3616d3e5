// FileStore safety: it never deletes or changes files it did not write, several processes share one
// directory, eviction never breaks a response in flight, and a writer SIGKILLed at any moment leaves
// nothing that is served wrong (checked byte for byte by a fresh process, with one and two writers).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createCachedFetch, FileStore, MemoryStore } from 'hotpath';
import { repoRoot } from './helpers.js';

const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-filestore-'));
const fileStoreModule = path.join(repoRoot, 'dist', 'cache', 'http', 'file-store.js');
const fixture = (name: string) => path.join(__dirname, 'fixtures', name);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const chunks = (...parts: (string | Uint8Array)[]) =>
  (async function* () {
    yield* parts;
  })();

async function text(body: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const chunk of body) parts.push(chunk);
  return Buffer.concat(parts).toString();
}

/** Every file under `dir` with its content, for before/after comparisons. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    out[path.relative(dir, file)] = fs.readFileSync(file, 'utf8');
  }
  return out;
}

describe('FileStore: only its own files', () => {
  it('refuses a non-empty directory that is not a cache, with a clear error, touching nothing', async () => {
    const project = tmpDir();
    fs.mkdirSync(path.join(project, 'tmp'));
    fs.writeFileSync(path.join(project, 'tmp', 'notes.txt'), 'user data');
    fs.writeFileSync(path.join(project, 'package.json'), '{}');
    const before = snapshot(project);
    const store = new FileStore({ path: project });
    const refused = expect.objectContaining({
      code: 'HOTPATH_CACHE_NOT_A_CACHE_DIR',
      message: expect.stringMatching(/is not empty and is not a hotpath cache directory .*hotpath-cache\.json/),
    });
    await expect(store.ready()).rejects.toEqual(refused);
    await expect(store.get('k')).rejects.toEqual(refused);
    await expect(store.clear()).rejects.toEqual(refused);
    expect(snapshot(project)).toEqual(before);
    // The CLI says so and exits non-zero instead of caching into (or cleaning) the project.
    const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');
    const args = [cli, 'fetch', 'http://127.0.0.1:9/', '--cache', project];
    const run = await promisify(execFile)(process.execPath, args).catch((error: { code: number }) => error);
    expect(run).toMatchObject({ code: 1, stderr: expect.stringMatching(/not a hotpath cache directory/) });
    expect(snapshot(project)).toEqual(before);
  });

  it('marks a new or empty directory, and never deletes files of other forms inside a cache', async () => {
    const dir = tmpDir();
    const store = new FileStore({ path: dir });
    await store.put('k', { a: 1 }, chunks('body'));
    const marker = JSON.parse(fs.readFileSync(path.join(dir, 'hotpath-cache.json'), 'utf8'));
    expect(marker).toEqual({ format: 'hotpath-http-cache', version: 1 });
    const foreign = ['tmp/keep.txt', 'bodies/README', 'entries/notes.json', 'entries/x.txt', 'other.txt'];
    for (const name of foreign) fs.writeFileSync(path.join(dir, name), name);
    const reopened = new FileStore({ path: dir });
    expect(await text((await reopened.get('k'))!.body())).toBe('body');
    await reopened.clear();
    for (const name of foreign) expect(fs.readFileSync(path.join(dir, name), 'utf8')).toBe(name);
    expect(await reopened.get('k')).toBeUndefined();
  });

  it('refuses a cache directory of an unknown layout version', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'hotpath-cache.json'), '{"format":"hotpath-http-cache","version":99}');
    await expect(new FileStore({ path: dir }).ready()).rejects.toMatchObject({ code: 'HOTPATH_CACHE_VERSION' });
  });
});

describe('FileStore: several writers', () => {
  it("reclaims only dead writers' temp files; another store's put in progress survives its open", async () => {
    const dir = tmpDir();
    await new FileStore({ path: dir }).ready();
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => dead.once('exit', resolve));
    const alive = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      const host = os.hostname().replace(/[^A-Za-z0-9-]/g, '_');
      const uuid = '0b5c6c53-8b3c-4b8e-9d0e-3f1a2b3c4d5e';
      const names = {
        dead: `${host}.${dead.pid}.${uuid}.tmp`,
        alive: `${host}.${alive.pid}.${uuid}.tmp`,
        otherHost: `elsewhere.${dead.pid}.${uuid}.tmp`,
      };
      for (const name of Object.values(names)) fs.writeFileSync(path.join(dir, 'tmp', name), 'partial');
      // A put of this process stalls half-way while a second store opens the directory.
      const writer = new FileStore({ path: dir });
      let resume!: () => void;
      const stalled = new Promise<void>((resolve) => (resume = resolve));
      let started!: () => void;
      const halfway = new Promise<void>((resolve) => (started = resolve));
      const put = writer.put(
        'slow',
        {},
        (async function* () {
          yield 'first half, ';
          started();
          await stalled;
          yield 'second half';
        })(),
      );
      await halfway;
      await new FileStore({ path: dir }).ready();
      resume();
      await put;
      expect(await text((await new FileStore({ path: dir }).get('slow'))!.body())).toBe('first half, second half');
      expect(fs.readdirSync(path.join(dir, 'tmp')).sort()).toEqual([names.alive, names.otherHost].sort());
    } finally {
      alive.kill();
    }
  });
});

describe('FileStore: bodies already handed out', () => {
  it('stay readable when another store on the directory (another process) deletes them before the read', async () => {
    const dir = tmpDir();
    const mine = new FileStore({ path: dir });
    const other = new FileStore({ path: dir });
    const put = await mine.put('put', {}, chunks('from put'));
    await mine.put('got', {}, chunks('from get'));
    const got = await mine.get('got');
    // The other store indexes both entries and deletes them, bodies included.
    expect([await other.delete('put'), await other.delete('got')]).toEqual([true, true]);
    expect(fs.readdirSync(path.join(dir, 'bodies'))).toEqual([]);
    expect([await text(put.body()), await text(got!.body())]).toEqual(['from put', 'from get']);
    // Two readers of one entry at once share the open body without disturbing each other.
    await mine.put('twice', {}, chunks('x'.repeat(200_000)));
    const twice = (await mine.get('twice'))!;
    const [first, second] = await Promise.all([text(twice.body()), text(twice.body())]);
    expect([first.length, second.length, first === second]).toEqual([200_000, 200_000, true]);
    expect(await mine.get('put')).toBeUndefined();
  });
});

describe('FileStore: eviction and bodies', () => {
  it('a response the origin delivered reaches the caller even when eviction removes its cache write', async () => {
    const size = 20_000;
    const bodyOf = (n: number) => Buffer.alloc(size, `body ${n} `);
    const server = http.createServer((req, res) => {
      const n = Number(req.url?.slice(1));
      res.writeHead(200, { 'cache-control': 'max-age=600' }).end(bodyOf(n));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const cached = createCachedFetch({ store: new FileStore({ path: tmpDir(), maxBytes: 1_000_000 }) });
      const requests = 480;
      const results = await Promise.allSettled(
        Array.from({ length: requests }, async (_, n) => {
          const response = await cached(`${base}/${n % 240}`);
          return [response.status, Buffer.from(await response.arrayBuffer()).equals(bodyOf(n % 240))];
        }),
      );
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      const failures = rejected.map((r) => String(r.reason));
      expect(failures).toEqual([]);
      expect(results.every((r) => r.status === 'fulfilled' && r.value[0] === 200 && r.value[1])).toBe(true);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('put accepts string chunks as UTF-8 and rejects other chunk types with a TypeError', async () => {
    for (const make of [() => new FileStore({ path: tmpDir() }), () => new MemoryStore()]) {
      const store = make();
      const entry = await store.put('s', { t: 1 }, chunks('héllo ', Buffer.from('wörld')));
      expect([entry.size, await text(entry.body())]).toEqual([13, 'héllo wörld']);
      expect(await text((await store.get('s'))!.body())).toBe('héllo wörld');
      const bad = chunks(42 as unknown as string);
      await expect(store.put('n', {}, bad)).rejects.toThrow(/body chunks must be Uint8Array or string, got number/);
    }
    const dir = tmpDir();
    await new FileStore({ path: dir }).put('s', {}, chunks('ünïcode'));
    expect((await new FileStore({ path: dir }).get('s'))?.size).toBe(Buffer.byteLength('ünïcode'));
  });
});

describe('FileStore: kill safety', () => {
  it('writers SIGKILLed at random moments (one, then two at once) leave only intact entries', async () => {
    const dir = tmpDir();
    const spawnWriter = (seed: number) =>
      spawn(process.execPath, [fixture('cache-store-writer.cjs'), fileStoreModule, dir, String(seed)], {
        stdio: ['ignore', 'pipe', 'ignore'],
      });
    /** Resolves once the writer has stored its first entry (or has died). */
    const writing = (child: ChildProcess) =>
      new Promise<void>((resolve) => {
        child.stdout!.once('data', () => resolve());
        child.once('exit', () => resolve());
      });
    const exited = (child: ChildProcess) =>
      child.exitCode !== null || child.signalCode !== null
        ? Promise.resolve()
        : new Promise((resolve) => child.once('exit', resolve));
    const verify = async () => {
      const args = [fixture('cache-store-verifier.cjs'), fileStoreModule, dir];
      const { stdout } = await promisify(execFile)(process.execPath, args);
      return JSON.parse(stdout) as { served: number; bad: unknown[]; tmp: string[] };
    };
    const deadline = Date.now() + 15_000;
    let served = 0;
    let rounds = 0;
    for (let round = 0; round < 12 && Date.now() < deadline; round++, rounds++) {
      const writers = Array.from({ length: round % 2 === 0 ? 1 : 2 }, (_, i) => spawnWriter(round * 10 + i));
      await Promise.all(writers.map(writing));
      await sleep(Math.random() * 300);
      for (const writer of writers) writer.kill('SIGKILL');
      await Promise.all(writers.map(exited));
      const result = await verify();
      expect(result.bad).toEqual([]);
      // The verifier's open reclaimed every dead writer's temp file.
      expect(result.tmp).toEqual([]);
      served += result.served;
    }
    expect(rounds).toBeGreaterThanOrEqual(2); // at least one round with one writer and one with two
    expect(served).toBeGreaterThan(0);
  }, 30_000);
});
