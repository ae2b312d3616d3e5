// Who wrote a file in a cache directory that several processes share: files a process may later have to
// reclaim (temp files, hit logs) are named `<host>.<pid>.<uuid>.<kind>`, so that a process only ever
// reclaims those of writers that are dead (on this host) or long gone (on another host of a shared file
// system), never another live process's.
import { randomUUID } from 'node:crypto';
import os from 'node:os';

export const HOST = os.hostname().replace(/[^A-Za-z0-9-]/g, '_');
/** Files of writers on other hosts (a shared file system) are reclaimed only when this old. */
const FOREIGN_AGE_MS = 24 * 60 * 60_000;

/** `<host>.<pid>.<uuid>.<kind>` with the given kinds; the match's groups are host, pid and kind. */
export function ownedName(kinds: readonly string[]): RegExp {
  return new RegExp(`^([A-Za-z0-9_-]+)\\.(\\d+)\\.[0-9a-f-]{36}\\.(${kinds.join('|')})$`);
}

/** A fresh name owned by this process. */
export const ownName = (kind: string) => `${HOST}.${process.pid}.${randomUUID()}.${kind}`;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the writer of a file matched by an ownedName() pattern is gone: another process of this host
 * that no longer runs, or a writer on another host whose file is older than a day (`mtimeMs` of the file).
 */
export function writerGone(match: RegExpExecArray, mtimeMs: () => Promise<number | undefined>): Promise<boolean> {
  const [, host, pid] = match;
  if (host === HOST) return Promise.resolve(Number(pid) !== process.pid && !processAlive(Number(pid)));
  return mtimeMs().then((mtime) => Date.now() - (mtime ?? Date.now()) > FOREIGN_AGE_MS);
}

/** Whether a matched name is this process's own. */
export const ownedHere = (match: RegExpExecArray) => match[1] === HOST && Number(match[2]) === process.pid;
