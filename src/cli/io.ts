// Plumbing shared by the CLI commands: argument parsing with usage errors, input from a file or
// stdin, and progress lines on stderr only when it is a terminal.
import fs from 'node:fs';
import path from 'node:path';
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

/** Lines of a file, of stdin when the path is missing or '-', or of a stream; streamed, never held whole. */
export function inputLines(source: string | undefined | NodeJS.ReadableStream): AsyncIterable<string> {
  const stream =
    typeof source === 'object'
      ? source
      : source === undefined || source === '-'
        ? process.stdin
        : fs.createReadStream(source);
  return readline.createInterface({ input: stream, crlfDelay: Infinity });
}

/** Rate-limited progress (count, bytes and rate) on stderr when a person is watching; silent in pipes and CI. */
export function progressReporter(label: string): { tick(count: number, bytes?: number): void; done(): void } {
  if (!process.stderr.isTTY) return { tick() {}, done() {} };
  const start = Date.now();
  let last = start;
  return {
    tick(count, bytes) {
      const now = Date.now();
      if (now - last < 250) return;
      last = now;
      const seconds = (now - start) / 1000;
      const volume =
        bytes === undefined ? '' : `, ${(bytes / 1e6).toFixed(1)} MB (${(bytes / 1e6 / seconds).toFixed(1)} MB/s)`;
      process.stderr.write(`\r\x1b[K${label}: ${count.toLocaleString('en-US')}${volume}`);
    },
    done() {
      process.stderr.write('\r\x1b[K');
    },
  };
}

/**
 * One error as one line for stderr: the message's first line (Node appends "Require stack:" lines to
 * module errors), files named for ENOENT; the whole stack when HOTPATH_DEBUG=1.
 */
export function errorLine(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (process.env.HOTPATH_DEBUG === '1') return error.stack ?? error.message;
  const { code, path: file } = error as NodeJS.ErrnoException;
  if (code === 'ENOENT' && file !== undefined) {
    const dir = path.dirname(file);
    return fs.existsSync(dir) ? `no such file: ${file}` : `no such directory: ${dir} (for ${file})`;
  }
  if (code === 'EISDIR' && file !== undefined) return `is a directory, not a file: ${file}`;
  if (code === 'EACCES' && file !== undefined) return `permission denied: ${file}`;
  return error.message.split('\n')[0];
}

/**
 * A number for a table: integers in full, others to 10 significant digits with trailing zeros of the
 * mantissa (never of the exponent) removed: 83333416666.67 → 8.333341667e+10, 0.5 → 0.5.
 */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x) || Number.isInteger(x)) return String(x);
  const [mantissa, exponent] = x.toPrecision(10).split('e');
  const trimmed = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
  return exponent === undefined ? trimmed : `${trimmed}e${exponent}`;
}

/** Control characters (ESC included), DEL, C1 controls, backslashes and lone surrogates. */
/* eslint-disable no-control-regex -- control characters are what escapeForTerminal escapes */
const UNSAFE_FOR_TERMINAL =
  /[\\\x00-\x1f\x7f-\x9f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/* eslint-enable no-control-regex */

/**
 * A key made safe for a terminal: control characters (ESC included), DEL, C1 controls, backslashes and
 * lone surrogates are escaped, so printed output can't move the cursor or change colours.
 */
export function escapeForTerminal(text: string): string {
  return text.replace(UNSAFE_FOR_TERMINAL, (c) => {
    const named: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
    if (named[c]) return named[c];
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

export function printTable(rows: [string, string | number][]): void {
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows)
    process.stdout.write(`${k.padEnd(width)}  ${typeof v === 'number' ? formatNumber(v) : v}\n`);
}
