// A persistent, content-addressed store: bodies live in bodies/<sha256 of the bytes>, each entry's
// metadata in entries/<sha256 of the key>.json. Everything is written to tmp/ first and renamed into
// place, so a process killed mid-write leaves at most a temp file, never a half-written entry. No
// native dependency: it works wherever Node runs.
//
// The store only ever deletes or rewrites what it wrote itself: the directory carries a versioned
// marker file (a non-empty directory without one is refused), and only file names of its own forms
// are touched. Several processes may share a directory: temp files are named after their writer
// (host and pid), and only those of dead writers are reclaimed. Within a process, a body handed out
// by get() or put() is leased: eviction defers deleting it until the response reading it is done.
// Across processes, get() and put() hand out bodies already open: the first read goes through that
// descriptor, so another process deleting the file meanwhile does not break it. Hits are counted in
// per-process logs under hits/ (hit-log.ts), never by rewriting an entry or a body.
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { finished } from 'node:stream';
import { checkInteger, typeName } from '../../core/validate.js';
import { checkKnownOptions } from '../../core/options.js';
import { HitLog } from './hit-log.js';
import { toBytes, type CacheEntry, type CacheStore } from './store.js';
import { ownedName, ownName, writerGone } from './writer.js';

export interface FileStoreOptions {
  /** The store's directory: created if missing; an existing one must be empty or a hotpath cache. */
  path: string;
  /** Bound on the bytes of the distinct bodies kept; least recently used entries go first. Default 512 MiB. */
  maxBytes?: number;
}

interface EntryFile {
  key: string;
  meta: unknown;
  body: string;
  size: number;
  /** Identifies this stored response among the entries the key has had, for its hit count (16 hex digits). */
  generation?: string;
}

interface IndexRow {
  body: string;
  size: number;
  lastUsed: number;
  generation: string;
}

/** The marker file that makes a directory a hotpath cache, and the layout version it describes. */
export const MARKER_FILE = 'hotpath-cache.json';
const FORMAT = 'hotpath-http-cache';
const VERSION = 1;

const RECENCY_WRITE_INTERVAL_MS = 60_000;
/**
 * How long a body handed out by get()/put() is kept for a reader that has not started yet (a reader
 * that has started holds it itself, and keeps reading an unlinked file through its descriptor).
 */
const LEASE_MS = 10_000;
/** A body no entry names is a writer's leftover only once it is this old (the entry follows the body). */
const ORPHAN_AGE_MS = 60 * 60_000;

const HEX64 = /^[0-9a-f]{64}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const ENTRY_NAME = /^[0-9a-f]{64}\.json$/;
/** `<host>.<pid>.<uuid>.tmp`: whose temp file it is, so only dead writers' files are reclaimed. */
const TEMP_NAME = ownedName(['tmp']);

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function isEntryFile(value: unknown): value is EntryFile {
  const e = value as EntryFile;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.key === 'string' &&
    typeof e.body === 'string' &&
    HEX64.test(e.body) &&
    Number.isSafeInteger(e.size) &&
    e.size >= 0 &&
    (e.generation === undefined || (typeof e.generation === 'string' && HEX16.test(e.generation)))
  );
}

/** Entries written before generations were recorded are told apart by their body. */
const generationOf = (entry: EntryFile) => entry.generation ?? entry.body.slice(0, 16);

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT';

export class FileStore implements CacheStore {
  readonly path: string;
  readonly maxBytes: number;
  readonly #entriesDir: string;
  readonly #bodiesDir: string;
  readonly #tmpDir: string;
  readonly #hits: HitLog;
  /** In-memory index of entries/, rebuilt at open: sizes, shared bodies and recency for eviction. */
  readonly #index = new Map<string, IndexRow>();
  readonly #bodyRefs = new Map<string, number>();
  /** Readers (and grace periods) per body hash; a leased body's file is deleted only when released. */
  readonly #leases = new Map<string, number>();
  /** Bodies no entry uses any more, waiting for their leases to end. */
  readonly #doomed = new Set<string>();
  /** Body files being deleted: a put() of the same bytes waits, or its rename could be undone. */
  readonly #deleting = new Map<string, Promise<void>>();
  #bodyBytes = 0;
  #opened: Promise<void> | undefined;

  constructor(options: FileStoreOptions) {
    const o = checkKnownOptions('FileStore', options, ['path', 'maxBytes']);
    if (typeof o.path !== 'string' || o.path === '') {
      throw new TypeError(`FileStore: path must be a non-empty string, got ${typeName(o.path)}`);
    }
    this.path = path.resolve(o.path);
    this.maxBytes = o.maxBytes === undefined ? 512 * 1024 * 1024 : checkInteger('FileStore', 'maxBytes', o.maxBytes, 1);
    this.#entriesDir = path.join(this.path, 'entries');
    this.#bodiesDir = path.join(this.path, 'bodies');
    this.#tmpDir = path.join(this.path, 'tmp');
    this.#hits = new HitLog(path.join(this.path, 'hits'), () => this.#tempPath());
  }

  /** Bytes of the distinct bodies on disk. */
  get bytes(): number {
    return this.#bodyBytes;
  }

  /**
   * Claims the directory (rejecting one that is neither empty nor a hotpath cache) and indexes it.
   * Every other method does this first; call it to surface the error early.
   */
  ready(): Promise<void> {
    this.#opened ??= this.#scan();
    return this.#opened;
  }

  /** Makes sure `path` is a hotpath cache directory: marked already, or empty (and then marked). */
  async #claimDirectory(): Promise<void> {
    await fs.promises.mkdir(this.path, { recursive: true });
    const markerPath = path.join(this.path, MARKER_FILE);
    const marker = JSON.stringify({ format: FORMAT, version: VERSION });
    for (;;) {
      const text = await fs.promises.readFile(markerPath, 'utf8').catch((error) => {
        if (isMissing(error)) return undefined;
        throw error;
      });
      if (text !== undefined) return this.#checkMarker(text);
      const names = await fs.promises.readdir(this.path);
      if (names.length > 0) {
        const error = new Error(
          `FileStore: ${this.path} is not empty and is not a hotpath cache directory (it has no ${MARKER_FILE}); ` +
            'refusing to use it, so that no file in it is deleted: pass a new or empty directory',
        );
        throw Object.assign(error, { code: 'HOTPATH_CACHE_NOT_A_CACHE_DIR' });
      }
      // 'wx': of two processes claiming one empty directory, one writes the marker and both read it.
      const written = await fs.promises.writeFile(markerPath, marker, { flag: 'wx' }).then(
        () => true,
        (error: NodeJS.ErrnoException) => {
          if (error.code === 'EEXIST') return false;
          throw error;
        },
      );
      if (written) return;
    }
  }

  #checkMarker(text: string): void {
    let marker: { format?: unknown; version?: unknown } | undefined;
    try {
      marker = JSON.parse(text);
    } catch {
      marker = undefined;
    }
    if (marker?.format !== FORMAT || marker.version !== VERSION) {
      const error = new Error(
        `FileStore: ${path.join(this.path, MARKER_FILE)} describes a cache this version cannot use ` +
          `(expected format '${FORMAT}' version ${VERSION}, got ${text.slice(0, 80)}); it is left untouched`,
      );
      throw Object.assign(error, { code: 'HOTPATH_CACHE_VERSION' });
    }
  }

  async #scan(): Promise<void> {
    await this.#claimDirectory();
    const dirs = [this.#entriesDir, this.#bodiesDir, this.#tmpDir, path.join(this.path, 'hits')];
    await Promise.all(dirs.map((dir) => fs.promises.mkdir(dir, { recursive: true })));
    await this.#reclaimTempFiles();
    for (const name of await fs.promises.readdir(this.#entriesDir)) {
      if (!ENTRY_NAME.test(name)) continue;
      const file = path.join(this.#entriesDir, name);
      const entry = await this.#readEntryFile(file);
      const stat = entry && (await fs.promises.stat(file).catch(() => undefined));
      if (entry && stat) await this.#addToIndex(name.slice(0, -5), entry, stat.mtimeMs);
    }
    // A body no entry names, old enough that no writer is between its two renames: a killed writer's.
    const now = Date.now();
    for (const name of await fs.promises.readdir(this.#bodiesDir)) {
      if (!HEX64.test(name) || this.#bodyRefs.has(name)) continue;
      const stat = await fs.promises.stat(path.join(this.#bodiesDir, name)).catch(() => undefined);
      if (stat && now - stat.mtimeMs > ORPHAN_AGE_MS) await this.#removeBodyFile(name);
    }
    // Dead processes' hit logs, folded into one file, keeping the hits of entries that still exist.
    await this.#hits.compact((line) => this.#index.get(line.slice(0, 64))?.generation === line.slice(65));
  }

  /** Deletes temp files whose writer is dead (this host) or long gone (another host). */
  async #reclaimTempFiles(): Promise<void> {
    for (const name of await fs.promises.readdir(this.#tmpDir)) {
      const owner = TEMP_NAME.exec(name);
      if (!owner) continue;
      const file = path.join(this.#tmpDir, name);
      const mtime = () =>
        fs.promises.stat(file).then(
          (stat) => stat.mtimeMs,
          () => undefined,
        );
      if (await writerGone(owner, mtime)) await fs.promises.rm(file, { force: true });
    }
  }

  #tempPath(): string {
    return path.join(this.#tmpDir, ownName('tmp'));
  }

  /** The parsed entry file, or undefined (with a warning and the file removed) when it is damaged. */
  async #readEntryFile(file: string): Promise<EntryFile | undefined> {
    let text: string;
    try {
      text = await fs.promises.readFile(file, 'utf8');
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    let entry: unknown;
    try {
      entry = JSON.parse(text);
    } catch {
      entry = undefined;
    }
    if (isEntryFile(entry)) {
      const body = await fs.promises.stat(path.join(this.#bodiesDir, entry.body)).catch(() => undefined);
      if (body?.size === entry.size) return entry;
    }
    process.emitWarning(`hotpath cache: dropped a damaged entry ${path.basename(file)} in ${this.path}`, {
      code: 'HOTPATH_CACHE_CORRUPT',
    });
    await fs.promises.rm(file, { force: true });
    return undefined;
  }

  /** Indexes an entry (or refreshes its recency); releases the body it replaced when no entry uses it any more. */
  async #addToIndex(id: string, entry: EntryFile, lastUsed: number): Promise<void> {
    const row = this.#index.get(id);
    const generation = generationOf(entry);
    if (row?.body === entry.body) {
      row.lastUsed = lastUsed;
      row.generation = generation;
      return;
    }
    const replaced = this.#removeFromIndex(id);
    this.#index.set(id, { body: entry.body, size: entry.size, lastUsed, generation });
    const refs = this.#bodyRefs.get(entry.body) ?? 0;
    if (refs === 0) this.#bodyBytes += entry.size;
    this.#bodyRefs.set(entry.body, refs + 1);
    this.#doomed.delete(entry.body);
    if (replaced) await this.#releaseBody(replaced);
  }

  /** Drops an entry from the index; returns the body hash no other entry shares any more. */
  #removeFromIndex(id: string): string | undefined {
    const row = this.#index.get(id);
    if (!row) return undefined;
    this.#index.delete(id);
    const refs = (this.#bodyRefs.get(row.body) ?? 1) - 1;
    if (refs > 0) {
      this.#bodyRefs.set(row.body, refs);
      return undefined;
    }
    this.#bodyRefs.delete(row.body);
    this.#bodyBytes -= row.size;
    return row.body;
  }

  /** Deletes an unused body's file now, or when its last lease ends. */
  async #releaseBody(hash: string): Promise<void> {
    if ((this.#leases.get(hash) ?? 0) > 0) this.#doomed.add(hash);
    else await this.#removeBodyFile(hash);
  }

  #removeBodyFile(hash: string): Promise<void> {
    const removal = fs.promises.rm(path.join(this.#bodiesDir, hash), { force: true }).finally(() => {
      if (this.#deleting.get(hash) === removal) this.#deleting.delete(hash);
    });
    this.#deleting.set(hash, removal);
    return removal;
  }

  /** Holds `hash` on disk until the returned function is called. */
  #lease(hash: string): () => void {
    this.#leases.set(hash, (this.#leases.get(hash) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#leases.get(hash) ?? 1) - 1;
      if (left > 0) {
        this.#leases.set(hash, left);
        return;
      }
      this.#leases.delete(hash);
      if (this.#doomed.delete(hash) && !this.#bodyRefs.has(hash)) {
        this.#removeBodyFile(hash).catch(() => {}); // best effort: an orphan is reclaimed at a later open
      }
    };
  }

  /**
   * An entry whose body stays readable for LEASE_MS, and while each reader started in that time reads.
   * `opened` (the body, already open) serves the readers until the first one is done or LEASE_MS
   * passes, whichever is later; later readers open the file again.
   */
  #entryOf(id: string, entry: EntryFile, opened: fs.promises.FileHandle): CacheEntry {
    const bodyPath = path.join(this.#bodiesDir, entry.body);
    const grace = this.#lease(entry.body);
    let handle: fs.promises.FileHandle | undefined = opened;
    let readers = 0;
    let used = false;
    const closeWhenIdle = () => {
      if (!handle || readers > 0 || !used) return;
      handle.close().catch(() => {});
      handle = undefined;
    };
    setTimeout(() => {
      grace();
      used = true;
      closeWhenIdle();
    }, LEASE_MS).unref();
    const lease = () => this.#lease(entry.body);
    const generation = generationOf(entry);
    return {
      meta: entry.meta,
      size: entry.size,
      recordHit: () => this.#hits.record(id, generation),
      hits: () => this.#hits.count(id, generation),
      body: () => {
        const release = lease();
        if (!handle) return fs.createReadStream(bodyPath).once('close', release);
        readers++;
        // Positional reads from 0 (start), so readers sharing the descriptor do not disturb each other.
        const stream = fs.createReadStream(bodyPath, { fd: handle, start: 0, autoClose: false });
        finished(stream, () => {
          readers--;
          used = true;
          release();
          closeWhenIdle();
        });
        return stream;
      },
    };
  }

  async #writeAtomically(target: string, data: string): Promise<void> {
    const tmp = this.#tempPath();
    await fs.promises.writeFile(tmp, data);
    await fs.promises.rename(tmp, target);
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    await this.ready();
    const id = sha256(key);
    const file = path.join(this.#entriesDir, `${id}.json`);
    const entry = await this.#readEntryFile(file);
    // A different key with the same hash is not this entry (and would be astronomically rare).
    if (!entry || entry.key !== key) return undefined;
    const opened = await fs.promises.open(path.join(this.#bodiesDir, entry.body)).catch((error) => {
      if (isMissing(error)) return undefined;
      throw error;
    });
    if (!opened) return undefined; // deleted (by another process) since its entry was read: a miss
    const served = this.#entryOf(id, entry, opened);
    const now = Date.now();
    const touched = this.#index.get(id)?.lastUsed ?? 0;
    await this.#addToIndex(id, entry, now);
    // Recency survives restarts through the entry file's mtime, written at most once a minute per entry
    // (it only orders evictions); a failure costs nothing else.
    if (now - touched > RECENCY_WRITE_INTERVAL_MS) fs.promises.utimes(file, now / 1000, now / 1000).catch(() => {});
    return served;
  }

  /** Stores `body` (Uint8Array chunks, or strings written as UTF-8) under `key`. */
  async put(key: string, meta: unknown, body: AsyncIterable<Uint8Array | string>): Promise<CacheEntry> {
    await this.ready();
    const tmp = this.#tempPath();
    const hash = createHash('sha256');
    let size = 0;
    const out = await fs.promises.open(tmp, 'w');
    try {
      try {
        for await (const chunk of body) {
          const bytes = toBytes('FileStore.put', chunk);
          hash.update(bytes);
          size += bytes.byteLength;
          await out.write(bytes);
        }
      } finally {
        await out.close();
      }
    } catch (error) {
      await fs.promises.rm(tmp, { force: true });
      throw error;
    }
    const generation = randomUUID().replace(/-/g, '').slice(0, 16);
    const entry: EntryFile = { key, meta, body: hash.digest('hex'), size, generation };
    const id = sha256(key);
    // Open and leased before it is in place, so that no eviction (here or elsewhere) removes it under this put.
    const served = this.#entryOf(id, entry, await fs.promises.open(tmp, 'r'));
    await this.#deleting.get(entry.body);
    await fs.promises.rename(tmp, path.join(this.#bodiesDir, entry.body));
    await this.#writeAtomically(path.join(this.#entriesDir, `${id}.json`), JSON.stringify(entry));
    await this.#addToIndex(id, entry, Date.now());
    // Too large to keep: it is still served once, through its lease.
    if (size > this.maxBytes) await this.#deleteById(id);
    else await this.#evict(id);
    return served;
  }

  async updateMeta(key: string, meta: unknown): Promise<void> {
    await this.ready();
    const file = path.join(this.#entriesDir, `${sha256(key)}.json`);
    const entry = await this.#readEntryFile(file);
    if (entry?.key === key) await this.#writeAtomically(file, JSON.stringify({ ...entry, meta }));
  }

  async #deleteById(id: string): Promise<boolean> {
    const body = this.#removeFromIndex(id);
    const existed = await fs.promises.unlink(path.join(this.#entriesDir, `${id}.json`)).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (isMissing(error)) return false;
        throw error;
      },
    );
    if (body) await this.#releaseBody(body);
    return existed;
  }

  /** Deletes least recently used entries until the bodies fit in maxBytes, sparing `keep`. */
  async #evict(keep: string): Promise<void> {
    if (this.#bodyBytes <= this.maxBytes) return;
    const byAge = [...this.#index].filter(([id]) => id !== keep).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [id] of byAge) {
      if (this.#bodyBytes <= this.maxBytes) break;
      await this.#deleteById(id);
    }
  }

  async delete(key: string): Promise<boolean> {
    await this.ready();
    return this.#deleteById(sha256(key));
  }

  /** The keys of the entries on disk (also those other processes wrote). */
  async *keys(): AsyncIterable<string> {
    await this.ready();
    for (const name of await fs.promises.readdir(this.#entriesDir)) {
      if (!ENTRY_NAME.test(name)) continue;
      const entry = await this.#readEntryFile(path.join(this.#entriesDir, name));
      if (entry) yield entry.key;
    }
  }

  /** Deletes every entry and body file of the store now (only files of its own forms); reads in progress go on. */
  async clear(): Promise<void> {
    await this.ready();
    for (const id of [...this.#index.keys()]) await this.#deleteById(id);
    for (const name of await fs.promises.readdir(this.#entriesDir)) {
      if (ENTRY_NAME.test(name)) await fs.promises.rm(path.join(this.#entriesDir, name), { force: true });
    }
    this.#doomed.clear();
    for (const name of await fs.promises.readdir(this.#bodiesDir)) {
      if (HEX64.test(name)) await this.#removeBodyFile(name);
    }
    await this.#hits.clear();
  }
}
