// A persistent, content-addressed store: bodies live in bodies/<sha256 of the bytes>, each entry's
// metadata in entries/<sha256 of the key>.json. Everything is written to tmp/ first and renamed into
// place, so a process killed mid-write leaves at most a temp file (removed at the next open), never a
// half-written entry. No native dependency: it works wherever Node runs.
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { checkInteger, checkOptions, typeName } from '../../core/validate.js';
import type { CacheEntry, CacheStore } from './store.js';

export interface FileStoreOptions {
  /** The store's directory, created if missing. */
  path: string;
  /** Bound on the bytes of the distinct bodies kept; least recently used entries go first. Default 512 MiB. */
  maxBytes?: number;
}

interface EntryFile {
  key: string;
  meta: unknown;
  body: string;
  size: number;
}

interface IndexRow {
  body: string;
  size: number;
  lastUsed: number;
}

const RECENCY_WRITE_INTERVAL_MS = 60_000;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function isEntryFile(value: unknown): value is EntryFile {
  const e = value as EntryFile;
  return (
    typeof e === 'object' && e !== null && typeof e.key === 'string' && typeof e.body === 'string' && /^[0-9a-f]{64}$/.test(e.body) && Number.isSafeInteger(e.size) && e.size >= 0
  );
}

export class FileStore implements CacheStore {
  readonly path: string;
  readonly maxBytes: number;
  private readonly entriesDir: string;
  private readonly bodiesDir: string;
  private readonly tmpDir: string;
  /** In-memory index of entries/, rebuilt at open: sizes, shared bodies and recency for eviction. */
  private readonly index = new Map<string, IndexRow>();
  private readonly bodyRefs = new Map<string, number>();
  private bodyBytes = 0;
  private opened: Promise<void> | undefined;

  constructor(options: FileStoreOptions) {
    const o = checkOptions('FileStore', options);
    if (typeof o.path !== 'string' || o.path === '') throw new TypeError(`FileStore: path must be a non-empty string, got ${typeName(o.path)}`);
    this.path = path.resolve(o.path);
    this.maxBytes = o.maxBytes === undefined ? 512 * 1024 * 1024 : checkInteger('FileStore', 'maxBytes', o.maxBytes, 1);
    this.entriesDir = path.join(this.path, 'entries');
    this.bodiesDir = path.join(this.path, 'bodies');
    this.tmpDir = path.join(this.path, 'tmp');
  }

  /** Bytes of the distinct bodies on disk. */
  get bytes(): number {
    return this.bodyBytes;
  }

  private open(): Promise<void> {
    this.opened ??= this.scan();
    return this.opened;
  }

  private async scan(): Promise<void> {
    await Promise.all([this.entriesDir, this.bodiesDir, this.tmpDir].map((dir) => fs.promises.mkdir(dir, { recursive: true })));
    // Leftovers of writers that died before their rename.
    for (const name of await fs.promises.readdir(this.tmpDir)) await fs.promises.rm(path.join(this.tmpDir, name), { force: true });
    for (const name of await fs.promises.readdir(this.entriesDir)) {
      if (!name.endsWith('.json')) continue;
      const file = path.join(this.entriesDir, name);
      const entry = await this.readEntryFile(file);
      if (entry) await this.addToIndex(name.slice(0, -5), entry, (await fs.promises.stat(file)).mtimeMs);
    }
    for (const name of await fs.promises.readdir(this.bodiesDir)) {
      if (!this.bodyRefs.has(name)) await fs.promises.rm(path.join(this.bodiesDir, name), { force: true });
    }
  }

  /** The parsed entry file, or undefined (with a warning and the file removed) when it is damaged. */
  private async readEntryFile(file: string): Promise<EntryFile | undefined> {
    let text: string;
    try {
      text = await fs.promises.readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    let entry: unknown;
    try {
      entry = JSON.parse(text);
    } catch {
      entry = undefined;
    }
    if (isEntryFile(entry)) {
      const body = await fs.promises.stat(path.join(this.bodiesDir, entry.body)).catch(() => undefined);
      if (body?.size === entry.size) return entry;
    }
    process.emitWarning(`hotpath cache: dropped a damaged entry ${path.basename(file)} in ${this.path}`, { code: 'HOTPATH_CACHE_CORRUPT' });
    await fs.promises.rm(file, { force: true });
    return undefined;
  }

  /** Indexes an entry (or refreshes its recency); deletes the body it replaced when no entry uses it any more. */
  private async addToIndex(id: string, entry: EntryFile, lastUsed: number): Promise<void> {
    const row = this.index.get(id);
    if (row?.body === entry.body) {
      row.lastUsed = lastUsed;
      return;
    }
    const replaced = this.removeFromIndex(id);
    this.index.set(id, { body: entry.body, size: entry.size, lastUsed });
    const refs = this.bodyRefs.get(entry.body) ?? 0;
    if (refs === 0) this.bodyBytes += entry.size;
    this.bodyRefs.set(entry.body, refs + 1);
    if (replaced) await fs.promises.rm(replaced, { force: true });
  }

  /** Drops an entry from the index; returns the body file to delete when no other entry shares it. */
  private removeFromIndex(id: string): string | undefined {
    const row = this.index.get(id);
    if (!row) return undefined;
    this.index.delete(id);
    const refs = (this.bodyRefs.get(row.body) ?? 1) - 1;
    if (refs > 0) {
      this.bodyRefs.set(row.body, refs);
      return undefined;
    }
    this.bodyRefs.delete(row.body);
    this.bodyBytes -= row.size;
    return path.join(this.bodiesDir, row.body);
  }

  private entryOf(entry: EntryFile): CacheEntry {
    const bodyPath = path.join(this.bodiesDir, entry.body);
    return { meta: entry.meta, size: entry.size, body: () => fs.createReadStream(bodyPath) };
  }

  private async writeAtomically(target: string, data: string): Promise<void> {
    const tmp = path.join(this.tmpDir, randomUUID());
    await fs.promises.writeFile(tmp, data);
    await fs.promises.rename(tmp, target);
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    await this.open();
    const id = sha256(key);
    const file = path.join(this.entriesDir, `${id}.json`);
    const entry = await this.readEntryFile(file);
    // A different key with the same hash is not this entry (and would be astronomically rare).
    if (!entry || entry.key !== key) return undefined;
    const now = Date.now();
    const touched = this.index.get(id)?.lastUsed ?? 0;
    await this.addToIndex(id, entry, now);
    // Recency survives restarts through the entry file's mtime, written at most once a minute per entry
    // (it only orders evictions); a failure costs nothing else.
    if (now - touched > RECENCY_WRITE_INTERVAL_MS) fs.promises.utimes(file, now / 1000, now / 1000).catch(() => {});
    return this.entryOf(entry);
  }

  async put(key: string, meta: unknown, body: AsyncIterable<Uint8Array>): Promise<CacheEntry> {
    await this.open();
    const tmp = path.join(this.tmpDir, randomUUID());
    const hash = createHash('sha256');
    let size = 0;
    const out = await fs.promises.open(tmp, 'w');
    try {
      try {
        for await (const chunk of body) {
          hash.update(chunk);
          size += chunk.byteLength;
          await out.write(chunk);
        }
      } finally {
        await out.close();
      }
    } catch (error) {
      await fs.promises.rm(tmp, { force: true });
      throw error;
    }
    const entry: EntryFile = { key, meta, body: hash.digest('hex'), size };
    await fs.promises.rename(tmp, path.join(this.bodiesDir, entry.body));
    const id = sha256(key);
    await this.writeAtomically(path.join(this.entriesDir, `${id}.json`), JSON.stringify(entry));
    await this.addToIndex(id, entry, Date.now());
    const stored = this.entryOf(entry);
    if (size > this.maxBytes) {
      // Too large to keep: read it back once through an open handle, then let it go.
      const handle = await fs.promises.open(path.join(this.bodiesDir, entry.body));
      await this.deleteById(id);
      return { ...stored, body: () => handle.createReadStream() };
    }
    await this.evict(id);
    return stored;
  }

  async updateMeta(key: string, meta: unknown): Promise<void> {
    await this.open();
    const file = path.join(this.entriesDir, `${sha256(key)}.json`);
    const entry = await this.readEntryFile(file);
    if (entry?.key === key) await this.writeAtomically(file, JSON.stringify({ ...entry, meta }));
  }

  private async deleteById(id: string): Promise<boolean> {
    const body = this.removeFromIndex(id);
    const existed = await fs.promises.unlink(path.join(this.entriesDir, `${id}.json`)).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return false;
        throw error;
      },
    );
    if (body) await fs.promises.rm(body, { force: true });
    return existed;
  }

  /** Deletes least recently used entries until the bodies fit in maxBytes, sparing `keep`. */
  private async evict(keep: string): Promise<void> {
    if (this.bodyBytes <= this.maxBytes) return;
    const byAge = [...this.index].filter(([id]) => id !== keep).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [id] of byAge) {
      if (this.bodyBytes <= this.maxBytes) break;
      await this.deleteById(id);
    }
  }

  async delete(key: string): Promise<boolean> {
    await this.open();
    return this.deleteById(sha256(key));
  }

  async clear(): Promise<void> {
    await this.open();
    for (const id of [...this.index.keys()]) await this.deleteById(id);
    for (const dir of [this.entriesDir, this.bodiesDir]) {
      for (const name of await fs.promises.readdir(dir)) await fs.promises.rm(path.join(dir, name), { force: true });
    }
  }
}
