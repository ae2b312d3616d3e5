// Plumbing shared by the CLI commands: argument parsing with usage errors, input from a file or
// stdin, and progress lines on stderr only when it is a terminal.
import fs from 'node:fs';
import readline from 'node:readline';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake in how the command was called: printed with a hint at --help, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** node:util parseArgs, with its errors turned into UsageError (exit status 2). */
export function parseCommandArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function positiveIntegerFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got '${value}'`);
  return n;
}

/** Lines of a file, or of stdin when the path is missing or '-'; streamed, never held whole. */
export function inputLines(file: string | undefined): AsyncIterable<string> {
  const stream = file === undefined || file === '-' ? process.stdin : fs.createReadStream(file);
  return readline.createInterface({ input: stream, crlfDelay: Infinity });
}

/** Rate-limited progress on stderr when a person is watching; silent in pipes and CI. */
export function progressReporter(label: string): { tick(count: number): void; done(): void } {
  if (!process.stderr.isTTY) return { tick() {}, done() {} };
  let last = Date.now();
  return {
    tick(count) {
      const now = Date.now();
      if (now - last < 250) return;
      last = now;
      process.stderr.write(`\r${label}: ${count.toLocaleString('en-US')}`);
    },
    done() {
      process.stderr.write('\r\x1b[K');
    },
  };
}

export function formatNumber(x: number): string {
  if (Number.isInteger(x)) return String(x);
  return Number.isFinite(x) ? x.toPrecision(10).replace(/\.?0+(e|$)/, '$1') : String(x);
}

export function printTable(rows: [string, string | number][]): void {
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(width)}  ${typeof v === 'number' ? formatNumber(v) : v}\n`);
}
