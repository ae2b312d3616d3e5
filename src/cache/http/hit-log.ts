// Persistent hit counts of a FileStore, kept apart from its entries so that a hit never rewrites an entry
// or a body, and so that processes sharing the directory never write the same file:
// - each process appends one fixed-size line per hit, `<entry id> <generation>\n`, to a log of its own
//   (hits/<host>.<pid>.<uuid>.log, an O_APPEND descriptor: one write per hit, nothing read or renamed);
// - the logs of dead processes (and a live one's own log once large) are compacted into an immutable
//   counts file, hits/<host>.<pid>.<uuid>.counts, which names the files it absorbed. A compactor first
//   claims each file by renaming it to a name of its own (of two compactors, one wins the rename), writes
//   the counts file by rename, then deletes what it absorbed. Killed at any point, it leaves files that
//   are either still counted once or named as absorbed by a counts file in place (and then skipped, and
//   deleted by the next compactor), so a count is never lost to a kill after its line was written, nor
//   counted twice.
// The generation identifies one stored response: a replaced entry starts again from 0 hits.
import fs from 'node:fs';
import path from 'node:path';
import { ownedHere, ownedName, ownName, writerGone } from './writer.js';

const HITS_NAME = ownedName(['log', 'counts']);
const LINE = /^([0-9a-f]{64}) ([0-9a-f]{16})$/;
/** A live process compacts its own log once it holds this many bytes (about 12,800 hits). */
const ROTATE_BYTES = 1024 * 1024;

interface HitsFile {
  /** Bytes of a log read so far (complete lines only); counts files are read once. */
  offset: number;
  counts: Map<string, number>;
  /** The files a counts file absorbed (skipped while it exists). */
  absorbed: string[];
}

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT';
const ignoreMissing = (error: unknown) => {
  if (!isMissing(error)) throw error;
  return undefined;
};

/** Adds the complete lines of `text` to `counts`; returns the bytes they took. */
function countLines(text: string, counts: Map<string, number>): number {
  const end = text.lastIndexOf('\n') + 1;
  for (const line of text.slice(0, end).split('\n')) {
    // A line cut by a kill in mid-write is skipped (it never got a newline before the next one).
    if (LINE.test(line)) counts.set(line, (counts.get(line) ?? 0) + 1);
  }
  return end; // latin1 text: one character per byte
}

function parseCounts(text: string): { counts: Map<string, number>; absorbed: string[] } {
  const counts = new Map<string, number>();
  let absorbed: string[] = [];
  try {
    const parsed = JSON.parse(text) as { counts?: Record<string, unknown>; absorbed?: unknown };
    for (const [key, n] of Object.entries(parsed.counts ?? {})) {
      if (LINE.test(key) && Number.isSafeInteger(n) && (n as number) > 0) counts.set(key, n as number);
    }
    if (Array.isArray(parsed.absorbed)) absorbed = parsed.absorbed.filter((name) => HITS_NAME.test(name));
  } catch {
    // Counts files are written by rename, so a damaged one is not ours: it counts nothing.
  }
  return { counts, absorbed };
}

/** A log this process appends to: opened on the first hit; its writes in flight are awaited before it is read. */
class OwnLog {
  readonly name = ownName('log');
  bytes = 0;
  readonly writes = new Set<Promise<unknown>>();
  #handle: Promise<fs.promises.FileHandle> | undefined;

  constructor(readonly dir: string) {}

  async append(line: string): Promise<void> {
    this.#handle ??= fs.promises.open(path.join(this.dir, this.name), 'a');
    const write = this.#handle.then((handle) => handle.write(line));
    this.writes.add(write);
    try {
      await write;
    } finally {
      this.writes.delete(write);
    }
    this.bytes += Buffer.byteLength(line);
  }

  /** Waits for the writes in flight, then closes the descriptor (appends after this open a new one). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.writes]);
    const handle = this.#handle;
    this.#handle = undefined;
    await (await handle?.catch(() => undefined))?.close().catch(() => {});
  }
}

export class HitLog {
  readonly #dir: string;
  readonly #tempPath: () => string;
  #own: OwnLog;
  readonly #files = new Map<string, HitsFile>();
  #reading: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  #compacting: Promise<void> | undefined;

  /** `tempPath`: where a counts file is written before its rename (the store's temp files). */
  constructor(dir: string, tempPath: () => string) {
    this.#dir = dir;
    this.#tempPath = tempPath;
    this.#own = new OwnLog(dir);
  }

  /** Appends one hit of entry `id` in its generation `generation` (16 hex digits). */
  async record(id: string, generation: string): Promise<void> {
    const own = this.#own;
    await own.append(`${id} ${generation}\n`);
    if (own.bytes >= ROTATE_BYTES && this.#own === own) {
      this.#own = new OwnLog(this.#dir);
      await this.compact(undefined, own);
    }
  }

  /** The hits of entry `id` in `generation`, by every process, as of now. */
  async count(id: string, generation: string): Promise<number> {
    await this.#refresh();
    const key = `${id} ${generation}`;
    const absorbed = new Set([...this.#files.values()].flatMap((file) => file.absorbed));
    let total = 0;
    for (const [name, file] of this.#files) if (!absorbed.has(name)) total += file.counts.get(key) ?? 0;
    return total;
  }

  /**
   * Reads what was appended since the last refresh. A refresh already running may have read a log before a hit
   * the caller has just recorded: the caller waits for it and for one more, which the callers arriving
   * meanwhile share.
   */
  #refresh(): Promise<void> {
    if (this.#queued) return this.#queued;
    const start = () => {
      this.#queued = undefined;
      const reading = this.#readAll().finally(() => {
        if (this.#reading === reading) this.#reading = undefined;
      });
      this.#reading = reading;
      return reading;
    };
    if (!this.#reading) return start();
    this.#queued = this.#reading.catch(() => {}).then(start);
    return this.#queued;
  }

  async #readAll(): Promise<void> {
    const names = new Set((await this.#names()).map(([name]) => name));
    for (const name of this.#files.keys()) if (!names.has(name)) this.#files.delete(name);
    for (const name of names) {
      const file = path.join(this.#dir, name);
      if (name.endsWith('.counts')) {
        if (this.#files.has(name)) continue;
        const text = await fs.promises.readFile(file, 'utf8').catch(ignoreMissing);
        if (text !== undefined) this.#files.set(name, { offset: 0, ...parseCounts(text) });
        continue;
      }
      const known = this.#files.get(name) ?? { offset: 0, counts: new Map(), absorbed: [] };
      const handle = await fs.promises.open(file, 'r').catch(ignoreMissing);
      if (!handle) continue; // claimed by a compactor since the listing: read under its new name next time
      try {
        const { size } = await handle.stat();
        if (size > known.offset) {
          const length = size - known.offset;
          const { buffer, bytesRead } = await handle.read(Buffer.alloc(length), 0, length, known.offset);
          known.offset += countLines(buffer.toString('latin1', 0, bytesRead), known.counts);
        }
      } finally {
        await handle.close();
      }
      this.#files.set(name, known);
    }
  }

  async #names(): Promise<[string, RegExpExecArray][]> {
    const names = (await fs.promises.readdir(this.#dir).catch(ignoreMissing)) ?? [];
    return names.flatMap((name) => {
      const match = HITS_NAME.exec(name);
      return match ? [[name, match] as [string, RegExpExecArray]] : [];
    });
  }

  /**
   * Folds the hit files of dead processes (and `ownOld`, this process's previous log) into one counts file,
   * keeping only the counts `keep` accepts (entries that still exist). One compaction at a time per process.
   */
  compact(keep?: (key: string) => boolean, ownOld?: OwnLog): Promise<void> {
    const run = async () => {
      await this.#compacting?.catch(() => {});
      await ownOld?.close();
      await this.#compactNow(keep, ownOld?.name);
    };
    const compaction = run();
    this.#compacting = compaction;
    return compaction;
  }

  async #compactNow(keep: ((key: string) => boolean) | undefined, ownOld: string | undefined): Promise<void> {
    const listed = await this.#names();
    // Leftovers of a compactor killed after its counts file was in place: already counted there.
    for (const [name] of listed.filter(([n]) => n.endsWith('.counts'))) {
      const text = await fs.promises.readFile(path.join(this.#dir, name), 'utf8').catch(ignoreMissing);
      for (const absorbed of text === undefined ? [] : parseCounts(text).absorbed) {
        await fs.promises.rm(path.join(this.#dir, absorbed), { force: true });
      }
    }
    const claimed: string[] = [];
    for (const [name, match] of listed) {
      const mtime = () => fs.promises.stat(path.join(this.#dir, name)).then((s) => s.mtimeMs, ignoreMissing);
      // Of this process's files: its previous log, and the counts files its earlier compactions wrote.
      const own = ownedHere(match);
      if (own && !(name === ownOld || (name.endsWith('.counts') && ownOld !== undefined))) continue;
      if (!own && !(await writerGone(match, mtime))) continue;
      const claim = ownName(match[3]);
      const renamed = await fs.promises.rename(path.join(this.#dir, name), path.join(this.#dir, claim)).then(
        () => true,
        (error) => (ignoreMissing(error), false), // claimed by another process, or absorbed meanwhile
      );
      if (renamed) claimed.push(claim);
    }
    if (claimed.length === 0) return;
    const counts = new Map<string, number>();
    for (const name of claimed) {
      const text = await fs.promises.readFile(path.join(this.#dir, name), 'latin1');
      const found = new Map<string, number>();
      if (name.endsWith('.counts')) for (const [key, n] of parseCounts(text).counts) found.set(key, n);
      else countLines(text, found);
      for (const [key, n] of found) if (!keep || keep(key)) counts.set(key, (counts.get(key) ?? 0) + n);
    }
    const tmp = this.#tempPath();
    await fs.promises.writeFile(tmp, JSON.stringify({ counts: Object.fromEntries(counts), absorbed: claimed }));
    await fs.promises.rename(tmp, path.join(this.#dir, ownName('counts')));
    for (const name of claimed) await fs.promises.rm(path.join(this.#dir, name), { force: true });
  }

  /**
   * Deletes the hit files of the store (clear() empties it): the counts files, this process's log (it starts a
   * new one) and the logs of gone writers. Another live process's log stays: it still appends to it, and the
   * counts in it name generations of entries that no longer exist, so they count for nothing.
   */
  async clear(): Promise<void> {
    const old = this.#own;
    this.#own = new OwnLog(this.#dir);
    await old.close();
    for (const [name, match] of await this.#names()) {
      const file = path.join(this.#dir, name);
      const mtime = () => fs.promises.stat(file).then((stat) => stat.mtimeMs, ignoreMissing);
      const live = name.endsWith('.log') && !ownedHere(match) && !(await writerGone(match, mtime));
      if (!live) await fs.promises.rm(file, { force: true });
    }
    this.#files.clear();
  }
}
